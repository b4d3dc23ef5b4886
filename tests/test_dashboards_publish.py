"""``lantai dashboards publish``: the exact requests a Grafana receives, through grafana-client.

tests/fake_grafana.py is a real HTTP server that answers like Grafana's API; grafana-client
(the real library, over real HTTP) talks to it, so these tests pin what publishing sends:
paths, methods, the Bearer token, and each board's JSON with its folder and overwrite.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from dashboards import build
from dashboards.publish import FOLDER_TITLE, FOLDER_UID, PublishError, publish
from lantai.cli import main
from tests.fake_grafana import TOKEN, FakeGrafana, fake_grafana  # noqa: F401 - fixture

ROOT = Path(__file__).resolve().parent.parent


def test_publish_creates_the_folder_then_saves_every_board(
    fake_grafana: FakeGrafana,  # noqa: F811 - the fixture imported above
) -> None:
    boards = build.boards()
    published = publish(fake_grafana.url, SecretStr(TOKEN), boards)

    requests = fake_grafana.requests
    assert [(r.method, r.path) for r in requests] == [
        ("GET", f"/api/folders/{FOLDER_UID}"),
        ("POST", "/api/folders"),
        *[("POST", "/api/dashboards/db")] * len(boards),
    ]
    for request in requests:
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        assert request.query == {}
    assert requests[1].body == {"title": FOLDER_TITLE, "uid": FOLDER_UID}
    assert requests[1].headers["Content-Type"] == "application/json;charset=utf-8"
    for request, board in zip(requests[2:], boards, strict=True):
        assert request.headers["Content-Type"] == "application/json;charset=utf-8"
        assert request.body == {
            "dashboard": board.to_json(),
            "folderUid": FOLDER_UID,
            "overwrite": True,
            "message": "lantai dashboards publish",
        }
    assert [(p.uid, p.version, p.url) for p in published] == [
        (board.uid, 1, f"/d/{board.uid}/{board.uid}") for board in boards
    ]


def test_publishing_again_overwrites_by_uid_in_the_existing_folder(
    fake_grafana: FakeGrafana,  # noqa: F811
) -> None:
    boards = build.boards()
    publish(fake_grafana.url, SecretStr(TOKEN), boards)
    again = publish(fake_grafana.url, SecretStr(TOKEN), boards)
    second_run = fake_grafana.requests[2 + len(boards) :]
    assert [(r.method, r.path) for r in second_run] == [
        ("GET", f"/api/folders/{FOLDER_UID}"),
        *[("POST", "/api/dashboards/db")] * len(boards),
    ]
    assert {p.version for p in again} == {2}
    assert sorted(fake_grafana.state.dashboards) == sorted(b.uid for b in boards)


def test_a_wrong_token_is_refused_without_echoing_it(
    fake_grafana: FakeGrafana,  # noqa: F811
) -> None:
    wrong = "glsa_wrong_" + "x" * 20
    with pytest.raises(PublishError) as caught:
        publish(fake_grafana.url, SecretStr(wrong), build.boards())
    assert str(caught.value) == f"folder {FOLDER_UID}: HTTP 401: Unauthorized"
    assert wrong not in str(caught.value)
    assert fake_grafana.state.dashboards == {}


def test_a_refused_board_is_named(fake_grafana: FakeGrafana) -> None:  # noqa: F811
    fake_grafana.refuse_saves(412, "The dashboard has been changed by someone else")
    with pytest.raises(PublishError) as caught:
        publish(fake_grafana.url, SecretStr(TOKEN), build.boards())
    assert str(caught.value) == (
        "board lantai-desk: HTTP 412: The dashboard has been changed by someone else"
    )


def test_an_unreachable_grafana_is_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(PublishError, match=rf"cannot reach Grafana at http://127\.0\.0\.1:{port}"):
        publish(f"http://admin:pw@127.0.0.1:{port}", SecretStr(TOKEN), build.boards(), timeout=2)


def test_the_cli_publishes_with_the_token_from_the_environment(
    fake_grafana: FakeGrafana,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("GRAFANA_TOKEN", TOKEN)
    assert main(["dashboards", "publish", "--url", fake_grafana.url]) == 0
    out = capsys.readouterr().out
    assert "published lantai-desk version 1 /d/lantai-desk/lantai-desk" in out
    assert TOKEN not in out
    saved = fake_grafana.state.dashboards["lantai-system"]["dashboard"]
    assert json.dumps(saved, sort_keys=True) == json.dumps(
        json.loads((build.BOARDS_DIR / "lantai-system.json").read_text(encoding="utf-8")),
        sort_keys=True,
    )


def test_the_cli_refuses_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("GRAFANA_TOKEN", raising=False)
    assert main(["dashboards", "publish", "--url", "http://127.0.0.1:9"]) == 2
    assert "publish needs --token or $GRAFANA_TOKEN" in capsys.readouterr().err


def test_the_runtime_never_imports_grafana_client() -> None:
    # grafana-client brings niquests and urllib3-future: the optional extra stays out of
    # `lantai run` and out of everything the CLI imports to start.
    probe = (
        "import sys, lantai.cli, lantai.service, dashboards.build, dashboards.publish; "
        "print(sorted(m for m in ('grafana_client', 'niquests') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
