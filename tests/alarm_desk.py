"""An alarm desk on a fake clock: the real alarm service, outbox and notifiers, talking to
a local Twilio stand-in and a local SMTP server, for scenario tests that read like a log.

    desk = Desk.open(tmp_path, facility, clock, fake_twilio, smtp)
    desk.fire("B2-01")                       # the rules report smoke
    desk.wait(minutes=3)                      # 10 s ticks: timers, then the outbox
    assert desk.log() == [("02:05:00", "sms", "zhao", "sent"), ...]

``Desk.restart()`` abandons the service without stopping it (as a crash would) and builds
a new one on the same database: a SQLite file by default, or ``url`` (PostgreSQL).
"""

from __future__ import annotations

import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from alerts.config import load_alerting
from alerts.models import Alarm, Via
from alerts.notifiers import Channel, Notifier
from alerts.notifiers.email import EmailNotifier, SmtpSettings
from alerts.notifiers.sms import SmsNotifier
from alerts.notifiers.voice import VoiceNotifier
from alerts.routing import Routing
from alerts.service import AlarmService
from alerts.store import AlarmStore, to_outbox
from alerts.tables import create_state_engine, outbox
from sensors.clock import FakeClock
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility
from tests.fake_twilio import FakeTwilio, settings_for

EXAMPLE_ALERTING = Path(__file__).resolve().parents[1] / "alerts" / "example-alerting.yaml"
SITE = "yunxi"
TICK = timedelta(seconds=10)


class _Mailbox:
    """aiosmtpd handler that keeps every envelope."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.mails.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@dataclass
class Smtp:
    host: str
    port: int
    mailbox: _Mailbox

    @property
    def mails(self) -> list[tuple[str, list[str], bytes]]:
        with self.mailbox.lock:
            return list(self.mailbox.mails)


@pytest.fixture(name="smtp")
def smtp_fixture() -> Iterator[Smtp]:
    """A real SMTP server on a free local port."""
    mailbox = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks its own port, so it needs a real one
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield Smtp("127.0.0.1", port, mailbox)
    finally:
        controller.stop()


def local_time(facility: Facility, text: str) -> datetime:
    """``"2026-11-22 02:05"`` on the site's wall clock, as UTC."""
    naive = datetime.fromisoformat(text)
    return naive.replace(tzinfo=facility.sites[SITE].timezone).astimezone(UTC)


@dataclass
class Desk:
    facility: Facility
    clock: FakeClock
    twilio: FakeTwilio
    smtp: Smtp
    url: str
    routing: Routing
    service: AlarmService = field(init=False)
    notifiers: dict[Channel, Notifier] = field(init=False)
    engines: list[Engine] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        tmp_path: Path,
        facility: Facility,
        clock: FakeClock,
        twilio: FakeTwilio,
        smtp: Smtp,
        alerting: Path = EXAMPLE_ALERTING,
        url: str | None = None,
    ) -> Desk:
        twilio.now = clock.now  # Twilio's records carry the scenario's time
        routing = Routing(load_alerting(alerting, facility), facility)
        url = url or f"sqlite:///{tmp_path / 'state.db'}"
        desk = cls(facility, clock, twilio, smtp, url, routing)
        desk.service = desk._build()
        return desk

    def _build(self) -> AlarmService:
        twilio = settings_for(self.twilio)
        mail = SmtpSettings(
            host=self.smtp.host,
            port=self.smtp.port,
            security="none",
            from_address="lantai@archive.example",
        )
        self.notifiers = {
            Channel.SMS: SmsNotifier(twilio),
            Channel.VOICE: VoiceNotifier(twilio),
            Channel.EMAIL: EmailNotifier(mail),
        }
        store = AlarmStore(self.engine())
        service = AlarmService(
            store,
            self.facility,
            self.clock,
            routing=self.routing,
            notifiers=self.notifiers,
            rng=random.Random(2026),  # the retries' jitter, fixed for a repeatable log
        )
        service.start(deliver=False)
        return service

    def engine(self) -> Engine:
        """A new engine on the desk's database, as a new process or reader would make."""
        made = create_state_engine(self.url)
        self.engines.append(made)
        return made

    def close(self) -> None:
        """Let go of every connection (PostgreSQL drops the test's schema afterwards)."""
        for made in self.engines:
            made.dispose()

    def restart(self) -> None:
        """A crash and a new process: the old service is dropped, not stopped."""
        self.service = self._build()
        self.service.outbox.deliver_due()

    # -- what the rules report -----------------------------------------------------------

    def report(
        self,
        key: str,
        *,
        room: str,
        sensor: str | None,
        severity: Severity,
        category: Category,
        zh: str,
        en: str,
        clear: bool = False,
    ) -> None:
        self.service.publish(
            [
                AlarmEvent(
                    key=key,
                    transition=Transition.CLEAR if clear else Transition.RAISE,
                    rule=key.split(":", 1)[0],
                    category=category,
                    severity=severity,
                    site=SITE,
                    room=room,
                    sensor=sensor,
                    at=self.clock.now(),
                    message_zh=zh,
                    message_en=en,
                )
            ]
        )
        self.service.outbox.deliver_due()

    def fire(self, room: str = "B2-01", sensor: str = "b201-smoke1") -> None:
        self.report(
            f"fire:{SITE}:{room}",
            room=room,
            sensor=sensor,
            severity=Severity.CRITICAL,
            category=Category.FIRE,
            zh=f"{room} 烟感 {sensor} 报火警",
            en=f"Fire alarm in {room}: smoke detector {sensor}",
        )

    def silent(self, sensor: str, room: str, *, clear: bool = False) -> None:
        self.report(
            f"sensor_silent:{SITE}:{sensor}",
            room=room,
            sensor=sensor,
            severity=Severity.LOW,
            category=Category.TROUBLE,
            zh=f"{room} 传感器 {sensor} 失联",
            en=f"Sensor {sensor} in {room} is silent",
            clear=clear,
        )

    # -- time ----------------------------------------------------------------------------

    def wait(self, *, minutes: float = 0, seconds: float = 0) -> None:
        """Let time pass in scheduler ticks: timers first, then the outbox."""
        end = self.clock.now() + timedelta(minutes=minutes, seconds=seconds)
        while self.clock.now() < end:
            self.clock.advance(min(TICK, end - self.clock.now()))
            self.service.tick()
            self.service.outbox.deliver_due()

    # -- what happened ---------------------------------------------------------------------

    def log(self, *, kind: str | None = "alarm") -> list[tuple[str, str, str, str]]:
        """Every message as (local send time or "-", channel, person, state), in order."""
        zone = self.facility.sites[SITE].timezone
        with self.engine().connect() as conn:
            query = sa.select(outbox).order_by(outbox.c.id)
            if kind is not None:
                query = query.where(outbox.c.kind == kind)
            rows = [to_outbox(r) for r in conn.execute(query)]
        return [
            (
                "-" if r.sent_at is None else f"{r.sent_at.astimezone(zone):%H:%M:%S}",
                r.channel,
                r.who,
                r.state,
            )
            for r in rows
        ]

    def twilio_posts(self, resource: str) -> list[dict[str, str]]:
        """The form of every POST to Messages.json or Calls.json, oldest first."""
        return [
            r.form
            for r in self.twilio.requests
            if r.method == "POST" and r.path.endswith(f"/{resource}.json")
        ]

    def alarm(self, key: str) -> Alarm:
        (found,) = [a for a in self.service_store().list(states=None) if a.key == key]
        return found

    def service_store(self) -> AlarmStore:
        return AlarmStore(self.engine())

    def ack(self, key: str, by: str, comment: str | None = None) -> None:
        self.service.ack(self.alarm(key).id, by, Via.CONSOLE, comment)
        self.service.outbox.deliver_due()
