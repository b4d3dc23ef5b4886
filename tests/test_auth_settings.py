"""The ``auth:`` settings section: strict, with defaults that need no file, and errors that
name the line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from console.auth import Argon2Settings, AuthSettings, CookieSecurity
from sensors.yamlconfig import ConfigError, parse_yaml_model


def test_the_defaults_need_no_file() -> None:
    settings = AuthSettings()
    assert settings.cookie_security is CookieSecurity.AUTO
    assert (settings.idle, settings.absolute) == (timedelta(hours=1), timedelta(hours=13))
    assert (settings.failures_per_user, settings.failures_per_address) == (5, 20)
    assert settings.failure_window == timedelta(minutes=15)
    hasher = settings.argon2.hasher()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65_536, 4)


def test_a_section_is_read_from_yaml() -> None:
    text = """\
cookie_security: always
idle_minutes: 30
absolute_hours: 9
argon2:
  memory_kib: 32768
"""
    settings = parse_yaml_model(text, AuthSettings, filename="auth.yaml")
    assert settings.cookie_security is CookieSecurity.ALWAYS
    assert settings.idle == timedelta(minutes=30)
    assert settings.absolute == timedelta(hours=9)
    assert settings.argon2 == Argon2Settings(memory_kib=32768)
    assert settings.argon2.hasher().memory_cost == 32768


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("idle_minutes: 30\nsecure: true\n", "auth.yaml:2: secure: Extra inputs are not permitted"),
        ("cookie_security: never\n", "auth.yaml:1: cookie_security: Input should be 'auto'"),
        ("argon2:\n  memory_kib: 1024\n", "auth.yaml:2: argon2.memory_kib: Input should be"),
        ("idle_minutes: 1\n", "auth.yaml:1: idle_minutes: Input should be greater than"),
    ],
)
def test_a_wrong_section_is_refused_with_its_line(text: str, where: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_yaml_model(text, AuthSettings, filename="auth.yaml")
    assert str(refused.value).startswith(where), str(refused.value)
