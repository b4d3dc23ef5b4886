"""Phone calls through Twilio's Calls API, with the TwiML inline: nothing to fetch back.

An alarm call reads the message twice and asks for a key: 1 acknowledges, 2 escalates
now. Twilio posts the key to the console (``keypress_url``), which carries the outbox id,
so the answer finds its incident without trusting the caller's number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from twilio.rest import Client
from twilio.twiml.voice_response import Gather, VoiceResponse

from alerts.notifiers import Channel, DeliveryError, Language, Message, MessageKind
from alerts.notifiers.twilio_account import (
    TwilioSettings,
    delivery_errors,
    keypress_url,
    make_twilio_client,
    status_url,
    twilio_time,
)


@dataclass(frozen=True, slots=True)
class Voice:
    """How Twilio's <Say> speaks one of our languages."""

    language: str  # <Say language=…>, the code Twilio lists for the voice
    name: str  # <Say voice=…>
    prompt: str  # the keypress prompt of an alarm call
    goodbye: str  # said when the call ends without a key


# The one place voices are chosen (the console's TwiML replies use it too). Amazon Polly
# through Twilio: Twilio's basic man/woman voices speak no Mandarin. Zhiyu is Polly's
# only Mandarin voice; its neural variant is the clearer one over a phone line. Joanna is
# Polly's reference US English voice, also neural. Polly's code for Mandarin is cmn-CN.
VOICES: Mapping[Language, Voice] = MappingProxyType(
    {
        "zh-CN": Voice(
            "cmn-CN",
            "Polly.Zhiyu-Neural",
            "确认请按1，立即上报请按2。",
            "未收到按键，再见。",
        ),
        "en": Voice(
            "en-US",
            "Polly.Joanna-Neural",
            "Press 1 to acknowledge, 2 to escalate now.",
            "No key was pressed. Goodbye.",
        ),
    }
)
# Seconds to wait for a key after the prompt: time to take the phone from the ear.
GATHER_TIMEOUT_S = 10
# Twilio refuses inline TwiML longer than this (error 32018).
MAX_TWIML_CHARS = 4000
_FIND_LIMIT = 200


def voice_twiml(message: Message, action_url: str) -> str:
    """The call's TwiML: the text twice, and for an alarm the keypress prompt."""
    voice = VOICES[message.language]
    response = VoiceResponse()
    if message.kind is MessageKind.ALARM:
        gather = response.gather(
            input="dtmf", num_digits=1, action=action_url, method="POST", timeout=GATHER_TIMEOUT_S
        )
        _say_twice(gather, message.text, voice)
        gather.say(voice.prompt, voice=voice.name, language=voice.language)
        # Reached only when nobody pressed a key; the escalation carries on regardless.
        response.say(voice.goodbye, voice=voice.name, language=voice.language)
    else:
        _say_twice(response, message.text, voice)
    return str(response)


def _say_twice(verb: VoiceResponse | Gather, text: str, voice: Voice) -> None:
    # Twice: the first words of a call are often lost while the phone reaches the ear.
    verb.say(text, voice=voice.name, language=voice.language)
    verb.pause(length=1)
    verb.say(text, voice=voice.name, language=voice.language)


class VoiceNotifier:
    """Places a call from the account's number that reads the message out."""

    channel: Channel = Channel.VOICE
    can_confirm: bool = True

    def __init__(self, settings: TwilioSettings, client: Client | None = None) -> None:
        self._settings = settings
        self._client = client if client is not None else make_twilio_client(settings)

    def __repr__(self) -> str:
        return f"VoiceNotifier({self._settings.account_sid}, from {self._settings.from_number})"

    def send(self, message: Message) -> str | None:
        """Place the call; its SID, or ``DeliveryError``."""
        twiml = voice_twiml(message, keypress_url(self._settings, message.outbox_id))
        if len(twiml) > MAX_TWIML_CHARS:
            raise DeliveryError(
                f"call to {message.address}: the TwiML is {len(twiml)} characters, "
                f"Twilio takes {MAX_TWIML_CHARS}",
                retryable=False,
            )
        with delivery_errors(f"call to {message.address}"):
            created = self._client.calls.create(
                to=message.address,
                from_=self._settings.from_number,
                twiml=twiml,
                status_callback=status_url(self._settings, message.outbox_id),
            )
        # A 2xx without a SID still means Twilio placed the call: not to be placed again.
        return str(created.sid) if created.sid else None

    def find_sent(self, message: Message, since: datetime) -> str | None:
        """The SID of the newest call to this number created since ``since``."""
        since = twilio_time(since)
        with delivery_errors(f"looking up calls to {message.address}"):
            # StartTime> is date-granular (GMT), hence the exact filter below.
            found = self._client.calls.list(
                to=message.address,
                from_=self._settings.from_number,
                start_time_after=since.date().isoformat(),
                limit=_FIND_LIMIT,
            )
        # A call has no text to compare, so any call to the number since then counts:
        # the outbox asks only about a call it had started placing at that time.
        calls = [
            (call.date_created, str(call.sid))
            for call in found
            if isinstance(call.date_created, datetime) and call.date_created >= since
        ]
        return max(calls)[1] if calls else None
