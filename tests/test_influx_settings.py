"""The influx settings section: strict, the token from the environment, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.influx_settings import InfluxSettings
from lantai.settings import load_settings
from sensors.yamlconfig import ConfigError
from tests.conftest import EXAMPLE_SITE, ROOT

EXAMPLE = ROOT / "collectors" / "example-influx.yaml"
SECRET = "influx-secret-" + "x" * 20


def _write(tmp_path: Path, influx: str) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text(f"facility: {EXAMPLE_SITE}\ninflux:\n{influx}", encoding="utf-8")
    return path


def test_the_example_takes_its_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LANTAI_INFLUX__TOKEN", SECRET)
    influx = load_settings(EXAMPLE).influx
    assert influx is not None
    assert (influx.url, influx.org, influx.bucket) == ("http://127.0.0.1:8086", "lantai", "lantai")
    assert influx.token is not None
    assert influx.token.get_secret_value() == SECRET
    assert SECRET not in repr(influx)
    assert SECRET not in str(influx)


def test_without_the_section_there_is_no_influx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LANTAI_INFLUX__TOKEN", raising=False)
    assert load_settings(ROOT / "lantai" / "example-settings.yaml").influx is None


def test_an_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(tmp_path, "  url: http://influxdb:8086\n  org: a\n  bucket: b\n  batchsize: 9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    (problem,) = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (str(path), 6, "influx.batchsize")


def test_a_url_must_be_http(tmp_path: Path) -> None:
    path = _write(tmp_path, "  url: influxdb:8086\n  org: a\n  bucket: b\n")
    with pytest.raises(ConfigError, match=r"influx\.url"):
        load_settings(path)


def test_the_backoff_may_not_start_above_its_cap() -> None:
    with pytest.raises(ValueError, match="retry_initial_s must not exceed retry_max_s"):
        InfluxSettings(url="http://x:1", org="a", bucket="b", retry_initial_s=9, retry_max_s=2)
