"""``lantai``: run, check-config, openapi, simulate, inject, demo, bench, user."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from lantai.cli_collect import add_collect_parser
from lantai.cli_dashboards import add_dashboards_parser
from lantai.cli_db import add_db_parser
from lantai.cli_deploy import add_deploy_parser
from sensors.yamlconfig import ConfigError

if TYPE_CHECKING:
    from console.auth.roles import Role
    from console.auth.service import AuthService

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except ConfigError as exc:
        print("Configuration refused:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_CONFIG
    return result


def _parser() -> argparse.ArgumentParser:  # noqa: PLR0915 - one flat list of commands
    parser = argparse.ArgumentParser(
        prog="lantai", description="兰台 Lantai: archive safety monitoring"
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run the service (production entry point)")
    run.add_argument("--config", type=Path, required=True, help="settings YAML")
    run.set_defaults(func=_run)

    check = sub.add_parser("check-config", help="validate a settings or facility file")
    check.add_argument("file", type=Path)
    check.set_defaults(func=_check_config)

    openapi = sub.add_parser("openapi", help="print the console's OpenAPI document")
    openapi.set_defaults(func=_openapi)

    demo = sub.add_parser("demo", help="broker + service + simulated archive + console")
    demo.add_argument("--data-dir", type=Path, default=Path(".lantai-demo"))
    demo.add_argument("--port", type=int, default=8080, help="console port")
    demo.add_argument("--speed", type=float, default=10.0, help="simulated time per real second")
    demo.set_defaults(func=_demo)

    simulate = sub.add_parser("simulate", help="publish a simulated archive to a broker")
    simulate.add_argument("--facility", type=Path, default=_example_site())
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=1883)
    simulate.add_argument("--speed", type=float, default=1.0)
    simulate.set_defaults(func=_simulate)

    inject = sub.add_parser("inject", help="inject a scenario into a running simulator")
    inject.add_argument(
        "scenario",
        choices=["hvac-failure", "fire", "door-forced", "sensor-dropout", "garbage", "clear"],
    )
    inject.add_argument("target", nargs="?", help="ROOM or SENSOR (none for garbage/clear)")
    inject.add_argument("--host", default="127.0.0.1")
    inject.add_argument("--port", type=int, default=1883)
    inject.set_defaults(func=_inject)

    bench = sub.add_parser("bench", help="benchmarks that print figures")
    bench_sub = bench.add_subparsers(required=True, metavar="BENCH")
    ingest = bench_sub.add_parser("ingest", help="pipeline vs bare paho on one stream")
    ingest.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    ingest.add_argument("--count", type=int, default=100_000)
    ingest.add_argument("--sensors", type=int, default=200)
    ingest.add_argument("--protocol", choices=["3.1.1", "5"], default="3.1.1")
    ingest.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians reported"
    )
    ingest.add_argument("--no-rules", action="store_true", help="leave the rules engine out")
    ingest.add_argument(
        "--batch", type=int, default=1, help="readings per message, as arrays on <site>/_batch"
    )
    ingest.add_argument(
        "--rules-in-process",
        action="store_true",
        help="run the rules on the ingest thread (not in their own process), to compare",
    )
    ingest.add_argument(
        "--compare",
        action="store_true",
        help="each round also drains without rules: what the rules cost, in pairs",
    )
    ingest.set_defaults(func=_bench_ingest)
    rules = bench_sub.add_parser("rules", help="rule evaluations/s and state memory")
    rules.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    rules.add_argument("--sensors", type=int, default=10_000)
    rules.add_argument("--minutes", type=int, default=24 * 60, help="simulated minutes")
    rules.set_defaults(func=_bench_rules)
    alarm = bench_sub.add_parser("alarm", help="smoke publish → notifier latency under load")
    alarm.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    alarm.add_argument("--samples", type=int, default=200)
    alarm.add_argument("--background", type=float, default=2000, help="readings/s of load")
    alarm.add_argument(
        "--rules-in-process",
        action="store_true",
        help="run the rules on the ingest thread (not in their own process), to compare",
    )
    alarm.set_defaults(func=_bench_alarm)
    _add_soak_parsers(bench_sub)
    _add_user_parser(sub)
    add_db_parser(sub)
    add_deploy_parser(sub)
    add_collect_parser(sub)
    add_dashboards_parser(sub)
    return parser


def _add_user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    user = sub.add_parser("user", help="console accounts and API tokens")
    actions = user.add_subparsers(required=True, metavar="ACTION")
    roles = "guard, operator, supervisor, admin or viewer"

    def state_options(parser: argparse.ArgumentParser) -> None:
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--config", type=Path, help="settings YAML (state database, sites)")
        where.add_argument("--state-url", help="the state database's SQLAlchemy URL")

    add = actions.add_parser("add", help="add a person's account (the first admin too)")
    add.add_argument("name", help="login name: lower-case letters, digits, . _ -")
    add.add_argument("--role", required=True, help=roles)
    add.add_argument(
        "--site",
        action="append",
        default=[],
        dest="sites",
        metavar="SITE",
        help="a granted site (repeat)",
    )
    add.add_argument("--display-name", help="the name shown, e.g. in Chinese")
    add.add_argument("--language", default="zh-CN", help="zh-CN (default) or en")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    state_options(add)
    add.set_defaults(func=_user_add)

    listing = actions.add_parser("list", help="list accounts and live API tokens")
    state_options(listing)
    listing.set_defaults(func=_user_list)

    token = actions.add_parser("token", help="make an API token for a machine (shown once)")
    token.add_argument("name", help="the token's name: lower-case letters, digits, . _ -")
    token.add_argument("--role", required=True, help=roles)
    token.add_argument(
        "--site", action="append", default=[], dest="sites", metavar="SITE", help="(repeat)"
    )
    state_options(token)
    token.set_defaults(func=_user_token)

    revoke = actions.add_parser("revoke-token", help="revoke an API token by name")
    revoke.add_argument("name")
    state_options(revoke)
    revoke.set_defaults(func=_user_revoke_token)


def _example_site() -> Path:
    return Path(__file__).resolve().parent.parent / "sensors" / "example-site.yaml"


def _run(args: argparse.Namespace) -> int:
    from lantai.service import LantaiService  # noqa: PLC0415 - keep `lantai --help` light
    from lantai.settings import load_settings  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Every timer run (two a second) and the schema check's setup would drown the log an
    # operator reads; their warnings and errors still show.
    for chatty in ("apscheduler", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    settings = load_settings(args.config)
    service = LantaiService(settings, load_facility(settings.facility))
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    service.start()
    print(f"Lantai running; console on http://{settings.console.host}:{settings.console.port}/")
    stop.wait()
    service.stop()
    return 0


def _check_config(args: argparse.Namespace) -> int:
    import yaml  # noqa: PLC0415

    from lantai.settings import load_settings  # noqa: PLC0415
    from rules.compile import compile_rules  # noqa: PLC0415
    from rules.config import load_rules  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    try:
        head = yaml.safe_load(args.file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        head = None  # the loaders below report it with file and line
    # A settings file names its facility file; anything else is read as a facility file,
    # so a typo in `sites:` is reported as a facility problem, not a missing `facility:`.
    if not (isinstance(head, dict) and "facility" in head):
        facility = load_facility(args.file)
        print(
            f"{args.file}: facility OK — {len(facility.sites)} site(s), "
            f"{len(facility.rooms)} rooms, {len(facility.sensors)} sensors"
        )
        return 0
    settings = load_settings(args.file)
    facility = load_facility(settings.facility)
    print(
        f"{args.file}: settings OK; facility {settings.facility}: {len(facility.rooms)} rooms, "
        f"{len(facility.sensors)} sensors"
    )
    rule_file = load_rules(settings.rules, facility) if settings.rules is not None else None
    compiled = compile_rules(facility, rule_file)
    source = settings.rules or "the defaults only"
    print(
        f"rules: {source}: {compiled.rule_count} rule instances over {len(compiled.slots)} sensors"
    )
    from lantai.alerting import coverage_report, load_routing  # noqa: PLC0415
    from sensors.clock import SystemClock  # noqa: PLC0415

    routing = load_routing(settings, facility)
    config = routing.config
    print(
        f"alerting: {settings.alerting or 'none (console and log only)'}: "
        f"{len(config.people)} people, {len(config.rotas)} rotas, {len(config.policies)} policies"
    )
    for line in coverage_report(routing, facility, SystemClock().now()):
        print(line)
    from inspections.templates import default_templates, load_templates  # noqa: PLC0415

    templates = (
        load_templates(settings.inspections, facility)
        if settings.inspections is not None
        else default_templates(facility)
    )
    print(
        f"inspections: {settings.inspections or 'the shipped templates'}: "
        + ", ".join(f"{t.id} ({t.cadence.value})" for t in templates)
    )
    return 0


def _openapi(_args: argparse.Namespace) -> int:
    from console.openapi import openapi_text  # noqa: PLC0415

    sys.stdout.write(openapi_text())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from lantai.demo import run_demo  # noqa: PLC0415

    run_demo(args.data_dir.resolve(), port=args.port, speed=args.speed)
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from sensors.clock import SystemClock  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415
    from sensors.simulator import Simulator  # noqa: PLC0415

    simulator = Simulator(
        load_facility(args.facility),
        host=args.host,
        port=args.port,
        clock=SystemClock(),
        speed=args.speed,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    simulator.start()
    print(f"Simulating {args.facility} on {args.host}:{args.port}; Ctrl-C stops.")
    stop.wait()
    simulator.stop()
    return 0


def _inject(args: argparse.Namespace) -> int:
    from sensors.simulator import send_injection  # noqa: PLC0415

    send_injection(args.host, args.port, args.scenario, args.target)
    print(f"Injected {args.scenario} {args.target or ''}".rstrip())
    return 0


def _bench_ingest(args: argparse.Namespace) -> int:
    from lantai.bench.ingest import run_ingest_bench  # noqa: PLC0415

    result = run_ingest_bench(
        count=args.count,
        sensors=args.sensors,
        protocol=args.protocol,
        rounds=args.rounds,
        rules=not args.no_rules,
        rules_in_process=args.rules_in_process,
        batch=args.batch,
        compare=args.compare,
    )
    print(json.dumps(result))
    return 0


def _bench_rules(args: argparse.Namespace) -> int:
    from lantai.bench.rules import run_rules_bench  # noqa: PLC0415

    print(json.dumps(run_rules_bench(sensors=args.sensors, minutes=args.minutes)))
    return 0


def _bench_alarm(args: argparse.Namespace) -> int:
    from lantai.bench.alarm import run_alarm_bench  # noqa: PLC0415

    result = run_alarm_bench(
        samples=args.samples,
        background_per_s=args.background,
        rules_in_process=args.rules_in_process,
    )
    print(json.dumps(result))
    return 0


def _add_soak_parsers(bench_sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    soak = bench_sub.add_parser("soak", help="the example site at 10x for N minutes: flat?")
    soak.add_argument("--minutes", type=float, default=30)
    soak.add_argument("--json", action="store_true", help="JSON lines: samples, then summary")
    soak.add_argument("--sample-s", type=float, default=10.0, help="seconds between samples")
    soak.set_defaults(func=_bench_soak)
    silence = bench_sub.add_parser("silence", help="time to detect a silent sensor")
    silence.add_argument("--json", action="store_true", help="one JSON line (the default output)")
    silence.set_defaults(func=_bench_silence)
    every = bench_sub.add_parser("all", help="every benchmark, one JSON object, the machine")
    every.add_argument("--json", action="store_true", help="one JSON object (the default output)")
    every.add_argument("--quick", action="store_true", help="one ingest round, short runs")
    every.add_argument(
        "--write-readme",
        type=Path,
        nargs="?",
        const=Path("README.md"),
        metavar="README",
        help="replace the table between the bench-all markers (default README.md)",
    )
    every.set_defaults(func=_bench_all)


def _bench_soak(args: argparse.Namespace) -> int:
    from lantai.bench import soak  # noqa: PLC0415

    if not args.json:
        print(soak.SAMPLE_HEADER, flush=True)
    show = soak.sample_line if args.json else soak.sample_row
    summary = soak.run_soak(
        args.minutes, sample_s=args.sample_s, on_sample=lambda s: print(show(s), flush=True)
    )
    print(json.dumps({"summary": summary}) if args.json else json.dumps(summary, indent=2))
    return 0


def _bench_silence(_args: argparse.Namespace) -> int:
    from lantai.bench.silence import run_silence_bench  # noqa: PLC0415

    print(json.dumps(run_silence_bench()))
    return 0


def _bench_all(args: argparse.Namespace) -> int:
    from lantai.bench import all as bench_all  # noqa: PLC0415

    if args.write_readme is not None:
        try:  # before a quarter of an hour of benchmarks, not after
            bench_all.check_markers(args.write_readme)
        except bench_all.MarkersMissingError as exc:
            print(exc, file=sys.stderr)
            return EXIT_CONFIG
    result = bench_all.run_all(quick=args.quick)
    print(json.dumps(result))
    if args.write_readme is not None:
        bench_all.write_readme(args.write_readme, result)
    return 0


# -- user: accounts and API tokens ---------------------------------------------------------

EXIT_REFUSED = 1


def _user_add(args: argparse.Namespace) -> int:
    from pydantic import SecretStr  # noqa: PLC0415

    from console.auth.passwords import PasswordRefused  # noqa: PLC0415
    from console.auth.roles import Language  # noqa: PLC0415
    from console.auth.users import AccountRefused  # noqa: PLC0415

    role = _role(args.role)
    if role is None or not _sites_known(args):
        return EXIT_CONFIG
    try:
        language = Language(args.language)
    except ValueError:
        print(f"Unknown language {args.language!r} (zh-CN or en)", file=sys.stderr)
        return EXIT_CONFIG
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("密码 / Password: ")
        if getpass.getpass("再次输入 / Again: ") != password:
            print("两次输入的密码不同 / the passwords differ", file=sys.stderr)
            return EXIT_REFUSED
    with _auth_service(args) as auth:
        try:
            account = auth.users.add(
                args.name,
                SecretStr(password),
                role,
                args.sites,
                display_name=args.display_name,
                language=language,
            )
        except (AccountRefused, PasswordRefused) as exc:
            print(f"Refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    sites = ", ".join(sorted(account.sites)) or "all sites"
    print(f"Added {account.username} ({account.role.value}; {sites})")
    return 0


def _user_list(args: argparse.Namespace) -> int:
    with _auth_service(args) as auth:
        accounts = auth.users.list()
        tokens = auth.tokens.list()
    print(f"{len(accounts)} account(s)")
    for a in accounts:
        sites = ",".join(sorted(a.sites)) or "*"
        state = "" if a.active else "  (disabled)"
        print(
            f"  {a.username:<20} {a.role.value:<10} {sites:<20} {a.language.value:<6} "
            f"{a.display_name}{state}"
        )
    print(f"{len(tokens)} live API token(s)")
    for t in tokens:
        sites = ",".join(sorted(t.sites)) or "*"
        used = t.last_used_at.isoformat() if t.last_used_at else "never used"
        print(f"  {t.name:<20} {t.role.value:<10} {sites:<20} by {t.created_by}, {used}")
    return 0


def _user_token(args: argparse.Namespace) -> int:
    from console.auth.users import AccountRefused  # noqa: PLC0415

    role = _role(args.role)
    if role is None or not _sites_known(args):
        return EXIT_CONFIG
    with _auth_service(args) as auth:
        try:
            issued = auth.tokens.create(args.name, role, args.sites, f"cli:{getpass.getuser()}")
        except AccountRefused as exc:
            print(f"Refused: {exc}", file=sys.stderr)
            return EXIT_REFUSED
    # The secret alone on stdout, so that TOKEN=$(lantai user token ...) works.
    print(issued.secret)
    print(
        "此令牌只显示这一次，请立即保存 / this token is shown once: store it now",
        file=sys.stderr,
    )
    return 0


def _user_revoke_token(args: argparse.Namespace) -> int:
    with _auth_service(args) as auth:
        revoked = auth.tokens.revoke(args.name)
    if not revoked:
        print(f"No live API token named {args.name!r}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"Revoked {args.name}")
    return 0


def _role(value: str) -> Role | None:
    from console.auth.roles import Role  # noqa: PLC0415

    try:
        return Role(value)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        print(f"Unknown role {value!r} (known: {known})", file=sys.stderr)
        return None


def _sites_known(args: argparse.Namespace) -> bool:
    """With --config, every --site must be one of the facility's sites."""
    if args.config is None:
        return True
    from lantai.settings import load_settings  # noqa: PLC0415
    from sensors.facility import load_facility  # noqa: PLC0415

    known = load_facility(load_settings(args.config).facility).sites
    unknown = sorted(set(args.sites) - set(known))
    if unknown:
        print(
            f"Unknown site(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            file=sys.stderr,
        )
    return not unknown


@contextmanager
def _auth_service(args: argparse.Namespace) -> Iterator[AuthService]:
    from alerts.tables import create_state_engine  # noqa: PLC0415
    from console.auth.service import AuthContext, AuthService  # noqa: PLC0415
    from console.auth.settings import AuthSettings  # noqa: PLC0415
    from lantai.database import upgrade_to_head  # noqa: PLC0415
    from sensors.clock import SystemClock  # noqa: PLC0415

    url = args.state_url
    settings = AuthSettings()
    if args.config is not None:
        from lantai.settings import load_settings  # noqa: PLC0415

        loaded = load_settings(args.config)
        url = loaded.state.url
        # The argon2 cost the service will use, once the settings carry an auth section.
        configured = getattr(loaded, "auth", None)
        if isinstance(configured, AuthSettings):
            settings = configured
    engine = create_state_engine(url)
    try:
        upgrade_to_head(engine)  # the whole schema, as `lantai run` will want it
        auth = AuthService(AuthContext(engine=engine, clock=SystemClock(), settings=settings))
        auth.start()
        yield auth
    finally:
        engine.dispose()
