"""Service settings: one YAML file, strict, with the environment able to fill in secrets.

Relative paths in the file are taken from the file's own folder, so a config folder can
be moved as a whole. Any field may be set from the environment as ``LANTAI_<SECTION>__<FIELD>``
(e.g. ``LANTAI_MQTT__PASSWORD``): keep secrets out of the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from alerts.notifiers.email import SmtpSettings
from alerts.notifiers.twilio_account import TwilioSettings
from alerts.notifiers.webhook import WebhookEndpoint
from collectors.influx_settings import InfluxSettings
from collectors.mqtt_source import MqttSettings
from collectors.sqlite_store import Durability
from console.auth.settings import AuthSettings
from console.reports.config import ReportsConfig
from sensors.yamlconfig import load_yaml_model


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreSettings(_Section):
    """The embedded time-series store (SQLite, WAL)."""

    readings_path: Path = Path("data/readings.db")
    durability: Durability = Durability.FULL


class StateSettings(_Section):
    """Alarms, tasks, hazards, users and audit: SQLite by default, or PostgreSQL
    (``postgresql+psycopg://user@host/db``, ``pip install 'lantai[postgresql]'``). The
    schema is migrated at start (lantai/database.py)."""

    # repr=False: a PostgreSQL URL holds the password; the repr shows it masked.
    url: str = Field(default="sqlite:///data/state.db", repr=False)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield "url", _without_password(self.url)


def _without_password(url: str) -> str:
    """``url`` with any password shown as ***, for reprs and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


class ConsoleSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # The console's address as the guards' phones reach it (behind a proxy: the proxy's
    # https address). The printed QR checkpoints encode it; None: http://host:port.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")

    @property
    def address(self) -> str:
        """Where phones and printed checkpoints reach the console."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


class LantaiSettings(BaseSettings):
    """Everything ``lantai run`` needs."""

    model_config = SettingsConfigDict(
        env_prefix="LANTAI_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    facility: Path
    # The rule file (rules/example-rules.yaml shows one); none means the defaults only.
    rules: Path | None = None
    # Who is told about alarms, and when (alerts/example-alerting.yaml shows one); none
    # means the console and the log only.
    alerting: Path | None = None
    # Inspection templates (inspections/example-inspections.yaml shows the format); without
    # a file, the shipped templates for all four cadences apply.
    inspections: Path | None = None
    # The channels. Secrets (auth_token, password, secret) belong in the environment:
    # LANTAI_TWILIO__AUTH_TOKEN, LANTAI_SMTP__PASSWORD.
    twilio: TwilioSettings | None = None
    smtp: SmtpSettings | None = None
    webhooks: list[WebhookEndpoint] = Field(default_factory=list)
    mqtt: MqttSettings = MqttSettings()
    # InfluxDB for the Grafana boards (collectors/example-influx.yaml shows the section);
    # none keeps readings in SQLite only. The token: LANTAI_INFLUX__TOKEN.
    influx: InfluxSettings | None = None
    store: StoreSettings = StoreSettings()
    state: StateSettings = StateSettings()
    console: ConsoleSettings = ConsoleSettings()
    auth: AuthSettings = AuthSettings()
    reports: ReportsConfig = ReportsConfig()
    # How often the silence timers are swept; detection lags a deadline by at most this.
    sweep_interval_s: float = Field(default=5.0, gt=0, le=60)
    # How often escalation steps, reminders, shelve expiries and windows are checked.
    alarm_tick_s: float = Field(default=1.0, gt=0, le=60)
    # The rules run in a process of their own, off paho's interpreter lock (README "What
    # bounds ingest"); true runs them on the ingest thread instead, for debugging.
    rules_in_process: bool = False

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """The environment overrides the file (the file arrives as init arguments)."""
        del settings_cls
        return env_settings, init_settings, dotenv_settings, file_secret_settings

    def resolved(self, base: Path) -> LantaiSettings:
        """Relative paths taken from ``base`` (the settings file's folder)."""
        url = self.state.url
        prefix = "sqlite:///"
        in_memory = url in {"sqlite://", "sqlite:///:memory:"}
        if url.startswith(prefix) and not url.startswith(prefix + "/") and not in_memory:
            url = prefix + str(base / url[len(prefix) :])
        return self.model_copy(
            update={
                "facility": base / self.facility,
                "rules": None if self.rules is None else base / self.rules,
                "alerting": None if self.alerting is None else base / self.alerting,
                "inspections": None if self.inspections is None else base / self.inspections,
                "store": self.store.model_copy(
                    update={"readings_path": base / self.store.readings_path}
                ),
                "state": self.state.model_copy(update={"url": url}),
            }
        )


def load_settings(path: Path) -> LantaiSettings:
    """Read, validate and resolve a settings file (raises ConfigError)."""

    def build(data: Any) -> LantaiSettings:  # noqa: ANN401 - parsed YAML
        return (
            LantaiSettings(**data)
            if isinstance(data, dict)
            else LantaiSettings.model_validate(data)
        )

    settings = load_yaml_model(path, LantaiSettings, build=build)
    return settings.resolved(path.resolve().parent)
