"""The durable outbox: every message to a person goes through here, and only here.

A message is a row written in the same transaction as the alarm change that caused it,
so a crash loses none. The worker claims due rows (marking them ``sending`` before it
calls the provider), sends them, and records the outcome. Failures retry with
exponential backoff and jitter; a message that keeps failing, or fails for good, is
handed to ``OutboxHooks.fallback`` (the alarm service queues the next channel) and the
channel's trouble is reported through ``OutboxHooks.channel_health``.

A row still ``sending`` after a crash was perhaps sent. On restart it is marked
``interrupted``; before sending it again the worker asks the provider (``find_sent``)
when the channel can tell, so nothing is sent twice for one step. Channels that cannot
tell (SMTP, webhooks) send again with the same idempotency key.

Notifiers never retry or buffer (style-anchors.md §5.7, Telegraf's RunningOutput).
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

import sqlalchemy as sa

from alerts.config import DeliveryConfig
from alerts.messages import Text
from alerts.notifiers import Channel, DeliveryError, Language, Message, MessageKind, Notifier
from alerts.store import AlarmStore, OutboxRow, Tx, aware, to_outbox
from alerts.tables import outbox
from sensors.clock import Clock

log = logging.getLogger(__name__)

# Rows claimed per pass: small, so an acknowledgement cancels the rest quickly.
CLAIM_BATCH = 20
# The provider's clock and ours differ; look this much further back for a lost send.
_FIND_MARGIN = timedelta(minutes=2)
# Twilio's status callbacks that mean the message never reached the phone.
_UNDELIVERED = frozenset({"failed", "undelivered"})


class Delivery(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # given up on this channel (a fallback may carry on)
    CANCELLED = "cancelled"  # acknowledged, cleared or shelved before it left


class Outcome(StrEnum):
    """What one delivery attempt came to, as /metrics counts it by channel."""

    SENT = "sent"
    RETRY = "retry"  # failed, and will be tried again
    FAILED = "failed"  # failed for good on this channel (a fallback may carry on)
    UNDELIVERED = "undelivered"  # the provider reported it never reached the phone


class OutboxHooks(Protocol):
    """What the outbox needs from the alarm service."""

    def fallback(self, tx: Tx, row: OutboxRow, now: datetime) -> None:
        """Queue the next channel for a message given up on (inside the same transaction)."""
        ...

    def channel_health(self, channel: Channel, site: str, *, ok: bool, error: str | None) -> None:
        """A channel delivered again, or a message was given up on (after the transaction)."""
        ...


def enqueue(
    tx: Tx,
    *,
    dedup_key: str,
    incident_id: int,
    site: str,
    kind: MessageKind,
    channel: Channel,
    who: str,
    address: str,
    language: Language,
    text: Text,
    now: datetime,
    fallback_of: int | None = None,
) -> int | None:
    """Queue one message; None when the same message (dedup key) is already queued."""
    found = tx.conn.execute(sa.select(outbox.c.id).where(outbox.c.dedup_key == dedup_key)).first()
    if found is not None:
        return None
    result = tx.conn.execute(
        outbox.insert().values(
            dedup_key=dedup_key,
            incident_id=incident_id,
            site=site,
            kind=kind.value,
            channel=channel.value,
            who=who,
            address=address,
            language=language,
            subject=text.subject,
            body=text.text,
            data=json.dumps(text.data, ensure_ascii=False, default=str),
            state=Delivery.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            interrupted=False,
            fallback_of=fallback_of,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def cancel(tx: Tx, incident_id: int, kind: MessageKind = MessageKind.ALARM) -> int:
    """Stop every message of ``kind`` for an incident that has not left yet."""
    result = tx.conn.execute(
        outbox.update()
        .where(
            outbox.c.incident_id == incident_id,
            outbox.c.kind == kind.value,
            outbox.c.state == Delivery.PENDING.value,
        )
        .values(state=Delivery.CANCELLED.value)
    )
    return int(result.rowcount)


def recipients_told(tx: Tx, incident_id: int) -> list[OutboxRow]:
    """The alarm messages of an incident that reached somebody, oldest first."""
    rows = tx.conn.execute(
        sa.select(outbox)
        .where(
            outbox.c.incident_id == incident_id,
            outbox.c.kind == MessageKind.ALARM.value,
            outbox.c.state.in_([Delivery.SENT.value, Delivery.SENDING.value]),
        )
        .order_by(outbox.c.id)
    )
    return [to_outbox(row) for row in rows]


def step_covers(tx: Tx, step_key: str, channel: Channel, address: str) -> bool:
    """Whether the escalation step or reminder ``step_key`` (the first four parts of its
    messages' dedup keys) already has a message on ``channel`` to ``address``."""
    found = tx.conn.execute(
        sa.select(outbox.c.id).where(
            outbox.c.dedup_key.like(f"{step_key}/%"),
            outbox.c.channel == channel.value,
            outbox.c.address == address,
        )
    ).first()
    return found is not None


def get(tx: Tx, outbox_id: int) -> OutboxRow | None:
    found = tx.conn.execute(sa.select(outbox).where(outbox.c.id == outbox_id)).first()
    return None if found is None else to_outbox(found)


def incidents_told(tx: Tx, address: str) -> list[int]:
    """Incidents whose alarm messages reached ``address``, newest message first."""
    rows = tx.conn.execute(
        sa.select(outbox.c.incident_id)
        .where(
            outbox.c.address == address,
            outbox.c.kind == MessageKind.ALARM.value,
            outbox.c.state == Delivery.SENT.value,
        )
        .order_by(outbox.c.id.desc())
    )
    return list(dict.fromkeys(int(row.incident_id) for row in rows))


def _unconfigured(channel: Channel) -> DeliveryError:
    return DeliveryError(f"no {channel} channel is configured", retryable=False)


def as_message(row: OutboxRow) -> Message:
    language: Language = "en" if row.language == "en" else "zh-CN"
    return Message(
        outbox_id=row.id,
        channel=Channel(row.channel),
        kind=MessageKind(row.kind),
        address=row.address,
        language=language,
        subject=row.subject,
        text=row.body,
        incident_id=row.incident_id,
        code=str(row.incident_id),
        created_at=row.created_at,
        data=row.data,
    )


class Outbox:
    """Delivers queued messages: claim, send, record; retry, fall back, report."""

    def __init__(
        self,
        store: AlarmStore,
        notifiers: Mapping[Channel, Notifier],
        clock: Clock,
        config: DeliveryConfig,
        hooks: OutboxHooks,
        lock: threading.RLock,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._notifiers = dict(notifiers)
        self._clock = clock
        self._config = config
        self._hooks = hooks
        # The alarm service's lock: one writer at a time, so an acknowledgement and a
        # claim never interleave, and SQLite never waits on its own busy timeout.
        self._lock = lock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0
        # Attempts by (channel, outcome) since start, for /metrics; own lock, so a
        # scrape never waits behind the alarm service's writes.
        self._outcomes: Counter[tuple[Channel, Outcome]] = Counter()
        self._outcomes_lock = threading.Lock()

    @property
    def channels(self) -> frozenset[Channel]:
        return frozenset(self._notifiers)

    def outcomes(self) -> dict[tuple[Channel, Outcome], int]:
        """Delivery attempts by channel and outcome since start."""
        with self._outcomes_lock:
            return dict(self._outcomes)

    def _count(self, channel: Channel, outcome: Outcome) -> None:
        with self._outcomes_lock:
            self._outcomes[channel, outcome] += 1

    def start(self) -> None:
        self.recover()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="lantai-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def wake(self) -> None:
        """Something was queued: deliver it now rather than at the next poll."""
        self._wake.set()

    def recover(self) -> int:
        """After a crash: rows left ``sending`` are interrupted; check before resending."""
        with self._lock, self._store.begin() as tx:
            result = tx.conn.execute(
                outbox.update()
                .where(outbox.c.state == Delivery.SENDING.value)
                .values(state=Delivery.PENDING.value, interrupted=True)
            )
            count = int(result.rowcount)
        if count:
            log.warning("%d message(s) were being sent when Lantai stopped; checking them", count)
        return count

    def pending(self) -> int:
        with self._store.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(outbox.c.state == Delivery.PENDING.value)
            return int(conn.execute(query).scalar_one())

    def next_due(self) -> datetime | None:
        with self._store.engine.connect() as conn:
            query = sa.select(sa.func.min(outbox.c.next_attempt_at)).where(
                outbox.c.state == Delivery.PENDING.value
            )
            value = conn.execute(query).scalar_one()
        return aware(value)

    def deliver_due(self) -> int:
        """One pass: send every message due now. Returns how many were attempted."""
        attempted = 0
        while True:
            claimed = self._claim()
            if not claimed:
                return attempted
            for row in claimed:
                self._deliver(row)
            attempted += len(claimed)

    def _claim(self) -> list[OutboxRow]:
        now = self._clock.now()
        with self._lock, self._store.begin() as tx:
            rows = tx.conn.execute(
                sa.select(outbox)
                .where(outbox.c.state == Delivery.PENDING.value, outbox.c.next_attempt_at <= now)
                .order_by(outbox.c.next_attempt_at, outbox.c.id)
                .limit(CLAIM_BATCH)
            )
            claimed = [to_outbox(row) for row in rows]
            for row in claimed:
                # An interrupted row keeps the time of its first claim: the provider is
                # asked about sends since then.
                values: dict[str, object] = {"state": Delivery.SENDING.value}
                if not row.interrupted or row.claimed_at is None:
                    values["claimed_at"] = now
                tx.conn.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
        return claimed

    def _deliver(self, row: OutboxRow) -> None:
        channel = Channel(row.channel)
        notifier = self._notifiers.get(channel)
        message = as_message(row)
        try:
            provider_id = None
            if notifier is None:
                raise _unconfigured(channel)
            if row.interrupted and notifier.can_confirm:
                since = (row.claimed_at or row.created_at) - _FIND_MARGIN
                provider_id = notifier.find_sent(message, since)
                if provider_id is not None:
                    log.info("message %d had left before the restart (%s)", row.id, provider_id)
            if provider_id is None:
                provider_id = notifier.send(message)
        except DeliveryError as exc:
            if self._failed(row, exc):
                self._hooks.channel_health(channel, row.site, ok=False, error=exc.reason)
            return
        now = self._clock.now()
        with self._lock, self._store.begin() as tx:
            tx.conn.execute(
                outbox.update()
                .where(outbox.c.id == row.id)
                .values(
                    state=Delivery.SENT.value,
                    sent_at=now,
                    provider_id=provider_id,
                    attempts=row.attempts + 1,
                    last_error=None,
                )
            )
        self.sent += 1
        self._count(channel, Outcome.SENT)
        self._hooks.channel_health(channel, row.site, ok=True, error=None)

    def _failed(self, row: OutboxRow, exc: DeliveryError) -> bool:
        """Record a failure; True when the message was given up on (no more retries)."""
        now = self._clock.now()
        attempts = row.attempts + 1
        retry = exc.retryable and attempts < self._config.attempts
        log.warning(
            "message %d (%s to %s) failed, attempt %d: %s%s",
            row.id,
            row.channel,
            row.who,
            attempts,
            exc.reason,
            "; will retry" if retry else "; giving up on this channel",
        )
        with self._lock, self._store.begin() as tx:
            values: dict[str, object] = {"attempts": attempts, "last_error": exc.reason[:500]}
            if retry:
                values |= {
                    "state": Delivery.PENDING.value,
                    "next_attempt_at": now + self._backoff(attempts),
                }
                if exc.maybe_sent:
                    # No answer after the request left: perhaps sent. Ask before sending
                    # again, as after a crash (the first claim's time is kept for that).
                    values["interrupted"] = True
            else:
                values["state"] = Delivery.FAILED.value
            tx.conn.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
            if not retry:
                self.failed += 1
                self._hooks.fallback(tx, row, now)
        self._count(Channel(row.channel), Outcome.RETRY if retry else Outcome.FAILED)
        return not retry

    def _backoff(self, attempts: int) -> timedelta:
        base = self._config.backoff * (2 ** (attempts - 1))
        capped = min(base, self._config.max_backoff)
        # ±20 % jitter: retries of many messages after one outage do not arrive together.
        seconds: float = capped.total_seconds() * self._rng.uniform(0.8, 1.2)
        return timedelta(seconds=seconds)

    def provider_status(self, provider_id: str, status: str, error: str | None) -> bool:
        """A delivery report from the provider; an undelivered message falls back.
        Returns False when the id is not one of ours."""
        now = self._clock.now()
        undelivered = status in _UNDELIVERED
        with self._lock, self._store.begin() as tx:
            found = tx.conn.execute(
                sa.select(outbox).where(outbox.c.provider_id == provider_id)
            ).first()
            if found is None:
                return False
            row = to_outbox(found)
            values: dict[str, object] = {"provider_status": status[:30]}
            fall_back = undelivered and row.state == Delivery.SENT.value
            if fall_back:
                values |= {"state": Delivery.FAILED.value, "last_error": error or status}
            tx.conn.execute(outbox.update().where(outbox.c.id == row.id).values(**values))
            if fall_back:
                self.failed += 1
                self._hooks.fallback(tx, row, now)
        if fall_back:
            self._count(Channel(row.channel), Outcome.UNDELIVERED)
            self._hooks.channel_health(
                Channel(row.channel), row.site, ok=False, error=error or status
            )
        return True

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.deliver_due()
                wait = 1.0
                due = self.next_due()
                if due is not None:
                    wait = min(1.0, max(0.0, (due - self._clock.now()).total_seconds()))
            except Exception:
                # The worker must outlive a database hiccup: the rows stay queued.
                log.exception("outbox pass failed; retrying")
                wait = 1.0
            self._wake.wait(wait)
            self._wake.clear()
