"""``lantai dashboards``: build, check and publish the Grafana boards (dashboards/).

``build`` writes the JSON Grafana provisions (dashboards/boards/ by default); ``check``
exits 1 when the committed JSON is not what the code builds (CI runs it); ``publish``
pushes the boards to an existing Grafana through its HTTP API, with grafana-client.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import SecretStr

from dashboards import build as boards
from dashboards import flux

EXIT_DIFFERS = 1
EXIT_REFUSED = 2
TOKEN_ENV = "GRAFANA_TOKEN"  # noqa: S105 - the variable's name, not a secret


def add_dashboards_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dashboards = sub.add_parser("dashboards", help="Grafana boards as code")
    actions = dashboards.add_subparsers(required=True, metavar="ACTION")

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--bucket",
            default=flux.DEFAULT_BUCKET,
            help=f"the InfluxDB bucket the queries read (default {flux.DEFAULT_BUCKET})",
        )

    build = actions.add_parser("build", help="write the boards' JSON")
    build.add_argument("--out", type=Path, default=boards.BOARDS_DIR, help="directory")
    common(build)
    build.set_defaults(func=_build)

    check = actions.add_parser("check", help="exit 1 if the JSON differs from the code")
    check.add_argument("--dir", type=Path, default=boards.BOARDS_DIR, help="directory")
    common(check)
    check.set_defaults(func=_check)

    publish = actions.add_parser("publish", help="create or update the boards in a Grafana")
    publish.add_argument("--url", required=True, help="Grafana's base URL, e.g. https://grafana")
    publish.add_argument(
        "--token",
        help=f"a service-account token with Editor rights (default: ${TOKEN_ENV}; the "
        "variable keeps it out of the shell history and the process list)",
    )
    common(publish)
    publish.set_defaults(func=_publish)


def _build(args: argparse.Namespace) -> int:
    for path in boards.write(args.out, args.bucket):
        sys.stdout.write(f"wrote {path}\n")
    return 0


def _check(args: argparse.Namespace) -> int:
    differences = boards.check(args.dir, args.bucket)
    for difference in differences:
        sys.stderr.write(f"{difference.path}: {difference.problem}\n")
    if differences:
        sys.stderr.write(
            "The boards' JSON is not what dashboards/ builds: lantai dashboards build\n"
        )
        return EXIT_DIFFERS
    sys.stdout.write(f"{len(boards.BUILDERS)} boards match the code\n")
    return 0


def _publish(args: argparse.Namespace) -> int:
    from dashboards.publish import PublishError, publish  # noqa: PLC0415 - optional extra

    token = args.token or os.environ.get(TOKEN_ENV)
    if not token:
        sys.stderr.write(f"publish needs --token or ${TOKEN_ENV}\n")
        return EXIT_REFUSED
    try:
        published = publish(args.url, SecretStr(token), boards.boards(args.bucket))
    except PublishError as exc:
        sys.stderr.write(f"publish refused: {exc}\n")
        return EXIT_REFUSED
    for board in published:
        sys.stdout.write(f"published {board.uid} version {board.version} {board.url}\n")
    return 0
