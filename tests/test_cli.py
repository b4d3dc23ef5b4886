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
    assert re.search(
        r"\nrules: \S*example-rules\.yaml: \d+ rule instances over 41 sensors\n\Z", out
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
