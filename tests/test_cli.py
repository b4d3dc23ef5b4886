"""``lantai check-config`` and argument handling (``openapi`` is tested elsewhere)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from lantai.cli import EXIT_CONFIG, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SITE = ROOT / "sensors" / "example-site.yaml"
EXAMPLE_SETTINGS = ROOT / "lantai" / "example-settings.yaml"
INVALID = Path(__file__).resolve().parent / "testdata" / "invalid"
ROOM = "sites.0.buildings.0.floors.0.rooms"


@pytest.fixture(autouse=True)
def _no_lantai_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("LANTAI_"):
            monkeypatch.delenv(name)


def test_check_config_accepts_the_example_site(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE_SITE)]) == 0
    out, err = capsys.readouterr()
    assert re.fullmatch(
        rf"{re.escape(str(EXAMPLE_SITE))}: facility OK — 1 site\(s\), 8 rooms, \d\d sensors\n", out
    )
    assert err == ""


def test_check_config_accepts_the_example_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE_SETTINGS)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{EXAMPLE_SETTINGS}: settings OK; facility ")
    assert re.search(r": 8 rooms, \d\d sensors\n", out)
    assert "example-site.yaml" in out
    # The rule file the settings name is checked and compiled too.
    assert re.search(r"\nrules: \S*example-rules\.yaml: \d+ rule instances over 41 sensors\n", out)
    # No alerting file: said plainly, so nobody believes the phones will ring.
    assert (
        "alerting: none (console and log only): 0 people, 0 rotas, 0 policies\n"
        "site yunxi: critical, high, medium, low alarms reach the console only\n"
    ) in out
    # No inspection file: the shipped templates, all four cadences, are what will run.
    assert out.endswith(
        "inspections: the shipped templates: daily-patrol (daily), weekly-check (weekly), "
        "monthly-sweep (monthly), quarterly-assessment (quarterly), night-round (cron)\n"
    )
    assert err == ""


def test_check_config_refuses_an_invalid_facility(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "facility" / "unknown_room_class.yaml"
    assert main(["check-config", str(path)]) == EXIT_CONFIG == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = [line.strip() for line in err.splitlines()]
    assert lines[0] == "Configuration refused:"
    assert lines[1].startswith(f"{path}:16: {ROOM}.1.class: unknown room class 'vault' (known: ")
    assert len(lines) == 2


def test_check_config_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    path = INVALID / "facility" / "several_problems.yaml"
    assert main(["check-config", str(path)]) == 2
    problems = [line.strip() for line in capsys.readouterr().err.splitlines()[1:]]
    assert [p.split(": ", 2)[:2] for p in problems] == [
        [f"{path}:4", "sites.0.timezone"],
        [f"{path}:16", f"{ROOM}.0.limits.humidity"],
        [f"{path}:18", f"{ROOM}.0.sensors.0.interval"],
        [f"{path}:19", f"{ROOM}.0.sensors.1.id"],
    ]


def test_check_config_refuses_an_invalid_settings_file(
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = INVALID / "settings" / "bad_mqtt_port.yaml"
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}:4: mqtt.port: Input should be less than or equal to 65535" in err


def test_check_config_reports_the_facility_a_settings_file_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_site = INVALID / "facility" / "duplicate_room_id.yaml"
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"facility: {bad_site}\n", encoding="utf-8")
    assert main(["check-config", str(settings)]) == 2
    err = capsys.readouterr().err
    assert f"{bad_site}:17: sites.0.buildings.0.floors.1.rooms.0.id: duplicate room id" in err


@pytest.mark.parametrize("name", ["invalid_yaml.yaml", "empty.yaml"])
def test_check_config_refuses_unparsable_files(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = INVALID / "facility" / name
    assert main(["check-config", str(path)]) == 2
    assert f"{path}:" in capsys.readouterr().err


def test_check_config_of_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing.yaml"
    assert main(["check-config", str(missing)]) == 2
    assert f"{missing}: (top level): cannot read:" in capsys.readouterr().err


def test_inject_refuses_an_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["inject", "earthquake", "B2-01"])
    assert caught.value.code == 2
    assert "invalid choice: 'earthquake'" in capsys.readouterr().err


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


SETTINGS = Path(__file__).resolve().parent / "testdata" / "settings"


def test_check_config_shows_who_is_on_duty_for_the_next_week(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTAI_TWILIO__AUTH_TOKEN", "token-from-the-environment")
    assert main(["check-config", str(SETTINGS / "with-alerting.yaml")]) == 0
    out, err = capsys.readouterr()
    assert re.search(r"example-alerting\.yaml: 6 people, 1 rotas, 3 policies\n", out)
    assert "rota yunxi-guards (yunxi, Asia/Shanghai), next 7 days:\n" in out
    shifts = re.findall(
        r"^  \w{3} \d\d-\d\d (\d\d:\d\d) – \w{3} \d\d-\d\d (\d\d:\d\d) \[(.+)\]: (.+)$",
        out,
        re.MULTILINE,
    )
    # Seven days of 12-hour shifts, each the right person for its kind of shift.
    assert 14 <= len(shifts) <= 16
    people = {"day": "wang", "night": "li", "weekend night": "zhao", "holiday": "zhao"}
    assert all(who == people[name] for _, _, name, who in shifts), shifts
    assert "GAP" not in out
    assert "console only" not in out  # every severity has a policy
    assert "token-from-the-environment" not in out + err
    assert err == ""


def test_check_config_refuses_alerting_steps_on_a_channel_that_is_not_set_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check-config", str(SETTINGS / "alerting-without-twilio.yaml")]) == 2
    _, err = capsys.readouterr()
    assert (
        "example-alerting.yaml:58: policies.0.steps.0.channels: "
        "channel 'sms' is not configured in the settings" in err
    )
    assert "channel 'voice' is not configured" in err
