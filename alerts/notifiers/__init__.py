"""Channels to people and other systems: one notifier per file, all behind one Protocol.

A notifier only transports a message that is already written (``alerts.messages`` writes
them in the recipient's language). It does not buffer, retry or fall back: the outbox
(``alerts.outbox``) owns all of that, in one place, for every channel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol

Language = Literal["zh-CN", "en"]


class Channel(StrEnum):
    """How a message travels. The order of fallback is SMS → voice → email."""

    SMS = "sms"
    VOICE = "voice"
    EMAIL = "email"
    WEBHOOK = "webhook"


class MessageKind(StrEnum):
    """Why a message is sent; the voice call asks for a keypress only for ``alarm``."""

    ALARM = "alarm"  # an escalation step or a reminder: please acknowledge
    ACKED = "acked"  # somebody took it: stand down (pain point 8)
    CLEARED = "cleared"  # everything returned to normal before anybody acknowledged


@dataclass(frozen=True, slots=True)
class Message:
    """One message to one address on one channel, as stored in the outbox.

    ``outbox_id`` is stable across retries and restarts: notifiers use it as an
    idempotency key where the far end supports one (the webhook's delivery header, the
    email's Message-ID), and the voice call's keypress webhook carries it back.
    """

    outbox_id: int
    channel: Channel
    kind: MessageKind
    address: str  # E.164 phone number, email address, or a configured webhook's id
    language: Language
    subject: str  # one line: email subject, webhook summary
    text: str  # SMS body, email body, or what the voice call says
    incident_id: int
    code: str  # the short code a person quotes to acknowledge ("ACK 57")
    created_at: datetime
    data: Mapping[str, object] = field(default_factory=dict)  # the webhook's JSON body


class DeliveryError(Exception):
    """A send failed. ``retryable`` is False when trying again cannot help (bad number).

    ``maybe_sent``: no answer came back after the request went out (a read timeout, a
    dropped connection), so the provider may have taken it; the outbox then asks the
    provider (``find_sent``) before sending it again, as after a crash.
    """

    def __init__(self, reason: str, *, retryable: bool = True, maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.maybe_sent = maybe_sent


class Notifier(Protocol):
    """Sends messages on one channel."""

    channel: Channel
    # Whether ``find_sent`` can tell if a message left before a crash. When False, the
    # outbox sends an interrupted message again, with the same idempotency key.
    can_confirm: bool

    def send(self, message: Message) -> str | None:
        """Send it; return the provider's id for it (Twilio's SID), if there is one.

        Raises ``DeliveryError`` on failure.
        """
        ...

    def find_sent(self, message: Message, since: datetime) -> str | None:
        """After a crash between sending and recording: the provider's id of this
        message if it was sent after ``since``, else None. Raises ``DeliveryError`` when
        the provider cannot be asked now."""
        ...
