"""``lantai user``: the first admin from the command line, then a login over HTTP with it;
API tokens printed once; refusals with a reason and an exit code.
"""

from __future__ import annotations

import io
import logging
import os
import sqlite3
from pathlib import Path

import pytest

from console.auth import Role
from lantai.cli import EXIT_CONFIG, main
from sensors.clock import FakeClock
from tests.test_auth_support import PASSWORD, auth_server

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SETTINGS = ROOT / "lantai" / "example-settings.yaml"


@pytest.fixture(autouse=True)
def _no_lantai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("LANTAI_"):
            monkeypatch.delenv(name)


@pytest.fixture
def state_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


@pytest.fixture
def stdin(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """What the command reads with --password-stdin."""
    buffer = io.StringIO()
    monkeypatch.setattr("sys.stdin", buffer)
    return buffer


def run(*argv: str) -> int:
    return main(list(argv))


def test_the_first_admin_is_made_on_the_command_line_and_can_log_in(
    tmp_path: Path,
    state_url: str,
    stdin: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    stdin.write(PASSWORD + "\n")
    stdin.seek(0)
    code = run(
        "user", "add", "root", "--role", "admin", "--display-name", "管理员",
        "--password-stdin", "--state-url", state_url,
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert (code, out, err) == (0, "Added root (admin; all sites)\n", "")

    with auth_server(tmp_path, FakeClock(), url=state_url) as server:
        client = server.login("root")
        me = client.get("/api/auth/me").json()["user"]
        assert (me["username"], me["display_name"], me["role"], me["all_sites"]) == (
            "root",
            "管理员",
            "admin",
            True,
        )
        wrong = server.client().post(
            "/api/auth/login", json={"username": "root", "password": PASSWORD + "x"}
        )
        assert wrong.status_code == 401
    assert PASSWORD not in caplog.text
    # Nothing in the database holds the password itself.
    with sqlite3.connect(tmp_path / "state.db") as db:
        dumped = "\n".join(db.iterdump())
    assert PASSWORD not in dumped
    assert "$argon2id$" in dumped


def test_the_password_is_asked_twice_without_stdin(
    state_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answers = iter([PASSWORD, PASSWORD + " typo"])
    prompts: list[str] = []

    def fake_getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(answers)

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    code = run("user", "add", "zhao", "--role", "operator", "--site", "yunxi",
               "--state-url", state_url)  # fmt: skip
    assert code == 1
    assert prompts == ["密码 / Password: ", "再次输入 / Again: "]
    assert "the passwords differ" in capsys.readouterr().err

    answers = iter([PASSWORD, PASSWORD])
    code = run("user", "add", "zhao", "--role", "operator", "--site", "yunxi",
               "--state-url", state_url)  # fmt: skip
    assert code == 0
    assert capsys.readouterr().out == "Added zhao (operator; yunxi)\n"


@pytest.mark.parametrize(
    ("argv", "password", "code", "message"),
    [
        (["--role", "admin"], "short", 1, "a password needs at least 12 characters"),
        (["--role", "operator"], PASSWORD, 1, "role operator needs at least one site"),
        (["--role", "janitor"], PASSWORD, EXIT_CONFIG, "Unknown role 'janitor' (known: guard,"),
        (["--role", "viewer", "--site", "yunxi", "--language", "fr"], PASSWORD, EXIT_CONFIG,
         "Unknown language 'fr'"),
    ],
)  # fmt: skip
def test_refusals_say_why(
    state_url: str,
    stdin: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    password: str,
    code: int,
    message: str,
) -> None:
    stdin.write(password + "\n")
    stdin.seek(0)
    assert run("user", "add", "zhao", *argv, "--password-stdin", "--state-url", state_url) == code
    out, err = capsys.readouterr()
    assert out == ""
    assert message in err


def test_a_taken_name_is_refused(
    state_url: str, stdin: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin.write(f"{PASSWORD}\n{PASSWORD}\n")
    stdin.seek(0)
    argv = ["user", "add", "root", "--role", "admin", "--password-stdin", "--state-url", state_url]
    assert run(*argv) == 0
    assert run(*argv) == 1
    assert "user root exists already" in capsys.readouterr().err


def test_with_a_settings_file_sites_are_checked_against_the_facility(
    tmp_path: Path, stdin: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        f"facility: {ROOT / 'sensors' / 'example-site.yaml'}\n"
        f"state:\n  url: sqlite:///{tmp_path / 'from-settings.db'}\n",
        encoding="utf-8",
    )
    stdin.write(PASSWORD + "\n" + PASSWORD + "\n")
    stdin.seek(0)
    base = ["user", "add", "zhao", "--role", "guard", "--password-stdin", "--config", str(settings)]
    assert run(*base, "--site", "atlantis") == EXIT_CONFIG
    assert "Unknown site(s) atlantis (known: yunxi)" in capsys.readouterr().err
    assert run(*base, "--site", "yunxi") == 0
    assert (tmp_path / "from-settings.db").exists()
    assert run("user", "list", "--config", str(settings)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[:2] == ["Added zhao (guard; yunxi)", "1 account(s)"]


def test_an_api_token_is_printed_once_and_works_until_revoked(
    tmp_path: Path, state_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run("user", "token", "bms-bridge", "--role", "operator", "--site", "yunxi",
               "--state-url", state_url)  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    secret = out.strip()
    assert out == secret + "\n"  # the secret alone, for TOKEN=$(lantai user token ...)
    assert secret.startswith("lantai_")
    assert "shown once" in err

    assert run("user", "list", "--state-url", state_url) == 0
    listing = capsys.readouterr().out
    assert "bms-bridge" in listing
    assert "operator" in listing
    assert secret not in listing

    with auth_server(tmp_path, FakeClock(), url=state_url) as server:
        machine = server.client()
        auth = {"Authorization": f"Bearer {secret}"}
        assert machine.post("/api/probe/ack", headers=auth).json()["by"] == "token:bms-bridge"
        assert run("user", "revoke-token", "bms-bridge", "--state-url", state_url) == 0
        assert capsys.readouterr().out == "Revoked bms-bridge\n"
        assert machine.post("/api/probe/ack", headers=auth).status_code == 401
    assert run("user", "revoke-token", "bms-bridge", "--state-url", state_url) == 1
    assert "No live API token named 'bms-bridge'" in capsys.readouterr().err


def test_list_shows_accounts_with_role_sites_and_language(
    tmp_path: Path, state_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with auth_server(tmp_path, FakeClock(), url=state_url) as server:
        server.add("zhao", Role.OPERATOR, ["yunxi"])
        server.add("root", Role.ADMIN, [])
    assert run("user", "list", "--state-url", state_url) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "2 account(s)"
    assert lines[1].split() == ["root", "admin", "*", "zh-CN", "root"]
    assert lines[2].split() == ["zhao", "operator", "yunxi", "zh-CN", "zhao"]
    assert lines[3] == "0 live API token(s)"
