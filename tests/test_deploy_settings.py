"""deploy/lantai/settings.yaml: the settings the container runs with, plus compose's env."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from lantai.cli import main
from lantai.settings import load_settings
from tests.conftest import EXAMPLE_SITE, ROOT

SETTINGS = ROOT / "deploy" / "lantai" / "settings.yaml"
STATE_URL = "postgresql+psycopg://lantai:pw@postgres:5432/lantai"


@pytest.fixture
def compose_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables compose.yaml gives the lantai container, with test values."""
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    values = {
        "LANTAI_MQTT__PASSWORD": "mqtt-pw",
        "LANTAI_INFLUX__ORG": "org-from-env",
        "LANTAI_INFLUX__BUCKET": "bucket-from-env",
        "LANTAI_INFLUX__TOKEN": "influx-token",
        "LANTAI_STATE__URL": STATE_URL,
    }
    # Only the optional pass-through (the Twilio token) is left unset.
    passed = set(compose["services"]["lantai"]["environment"])
    assert passed - set(values) == {"LANTAI_TWILIO__AUTH_TOKEN"}
    for key, value in values.items():
        monkeypatch.setenv(key, value)


@pytest.mark.usefixtures("compose_env")
def test_the_container_settings_load_with_compose_environment() -> None:
    settings = load_settings(SETTINGS)
    assert settings.facility == SETTINGS.parent / "facility.yaml"
    assert settings.mqtt.host == "mosquitto"
    assert settings.mqtt.username == "lantai"
    assert settings.mqtt.password is not None
    assert settings.mqtt.password.get_secret_value() == "mqtt-pw"
    assert settings.state.url == STATE_URL
    assert settings.store.readings_path == Path("/var/lib/lantai/readings.db")
    assert settings.console.host == "0.0.0.0"
    assert settings.console.port == 8080
    influx = settings.influx
    assert influx is not None
    assert influx.url == "http://influxdb:8086"
    assert (influx.org, influx.bucket) == ("org-from-env", "bucket-from-env")
    assert influx.token is not None
    assert influx.token.get_secret_value() == "influx-token"
    assert "influx-token" not in repr(settings)


@pytest.mark.usefixtures("compose_env")
def test_check_config_accepts_it_with_a_facility(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's check: settings plus the admin's facility.yaml next to it."""
    shutil.copyfile(SETTINGS, tmp_path / "settings.yaml")
    shutil.copyfile(EXAMPLE_SITE, tmp_path / "facility.yaml")
    assert main(["check-config", str(tmp_path / "settings.yaml")]) == 0
    assert "settings OK" in capsys.readouterr().out


def test_without_a_facility_the_refusal_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(SETTINGS, tmp_path / "settings.yaml")
    assert main(["check-config", str(tmp_path / "settings.yaml")]) == 2
    assert "facility.yaml" in capsys.readouterr().err
