"""SMS through Twilio's Messages API: one message, one POST, the SID back."""

from __future__ import annotations

from datetime import datetime

from twilio.rest import Client

from alerts.notifiers import Channel, Message
from alerts.notifiers.twilio_account import (
    TwilioSettings,
    delivery_errors,
    make_twilio_client,
    status_url,
    twilio_time,
)

# Enough for every message to one person in one day; bounds the pages read after a crash.
_FIND_LIMIT = 200


class SmsNotifier:
    """Sends a message as an SMS from the account's number."""

    channel: Channel = Channel.SMS
    can_confirm: bool = True

    def __init__(self, settings: TwilioSettings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client if client is not None else make_twilio_client(settings)

    def __repr__(self) -> str:
        return f"SmsNotifier({self._settings.account_sid}, from {self._settings.from_number})"

    def send(self, message: Message) -> str | None:
        """Create the message at Twilio; its SID, or ``DeliveryError``."""
        with delivery_errors(f"SMS to {message.address}"):
            created = self._client.messages.create(
                to=message.address,
                from_=self._settings.from_number,
                body=message.text,
                status_callback=status_url(self._settings, message.outbox_id),
            )
        # A 2xx without a SID still means Twilio took the message: sending it again
        # would be the duplicate, so it counts as sent.
        return str(created.sid) if created.sid else None

    def find_sent(self, message: Message, since: datetime) -> str | None:
        """The SID of a message with this text to this number created since ``since``."""
        since = twilio_time(since)
        with delivery_errors(f"looking up SMS to {message.address}"):
            # DateSent> is date-granular (GMT), hence the exact filter below.
            found = self._client.messages.list(
                to=message.address,
                from_=self._settings.from_number,
                date_sent_after=since.date().isoformat(),
                limit=_FIND_LIMIT,
            )
        for sent in found:
            # date_created, not date_sent: it is when Twilio took the message, and is
            # never empty; date_sent is empty while a message waits in Twilio's queue.
            created = sent.date_created
            if isinstance(created, datetime) and created >= since and sent.body == message.text:
                return str(sent.sid)
        return None
