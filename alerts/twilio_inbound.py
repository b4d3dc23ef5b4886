"""What the console's Twilio webhooks need, without I/O: check, parse, answer.

``signature_valid`` must be given the URL Twilio called as Twilio saw it (built from
``TwilioSettings.public_url`` with ``sms_reply_url``/``keypress_url``/``status_url``),
not the URL the console saw behind its reverse proxy: the signature covers the URL.

What counts as an SMS acknowledgement is deliberately narrow: the three words the
messages teach (``1``, ``ACK``, ``确认``), optionally followed by the alarm's code. A
longer or different reply ("OK", "ACKNOWLEDGE?", "12", "确认收到") is not taken as an
acknowledgement: it may be a question, or a code typed without the word, and a wrong
acknowledgement silences the escalation. The console answers it with the usage instead.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import SecretStr
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from alerts.notifiers import Language
from alerts.notifiers.voice import VOICES

# After NFKC and casefold. "1" needs a space or "#" before a code: "157" could be
# "1" and code 57, or code 157 without the word. Codes are incident ids: digits.
_ACK = re.compile(
    r"(?:ack|确认)\s*#?\s*(?P<code>[0-9]{1,12})?"
    r"|1(?:(?:\s+#?|\s*#)\s*(?P<code1>[0-9]{1,12}))?"
)


@dataclass(frozen=True, slots=True)
class Reply:
    """An SMS reply that acknowledges; ``code`` names the alarm, else the newest one."""

    code: str | None = None


class Keypress(StrEnum):
    """A key pressed during an alarm call."""

    ACK = "1"
    ESCALATE = "2"


def signature_valid(
    auth_token: SecretStr, url: str, params: Mapping[str, str], signature: str | None
) -> bool:
    """Whether ``X-Twilio-Signature`` proves Twilio sent these form fields to this URL."""
    if not signature:
        return False
    validator = RequestValidator(auth_token.get_secret_value())
    return bool(validator.validate(url, dict(params), signature))


def parse_reply(body: str) -> Reply | None:
    """The acknowledgement an SMS reply makes, or None when it makes none."""
    # NFKC: phones in Chinese input mode send full-width digits, letters and spaces.
    text = _strip_edges(unicodedata.normalize("NFKC", body).casefold())
    match = _ACK.fullmatch(text)
    if match is None:
        return None
    digits = match.group("code") or match.group("code1")
    # int() drops leading zeros, so "ACK 057" names the same alarm as the SMS's "57".
    return Reply(code=str(int(digits)) if digits else None)


def _strip_edges(text: str) -> str:
    """Without surrounding whitespace and punctuation ("确认。", "ACK!", "「1」")."""
    start, end = 0, len(text)
    while start < end and _edge(text[start]):
        start += 1
    while end > start and _edge(text[end - 1]):
        end -= 1
    return text[start:end]


def _edge(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")


def parse_keypress(digits: str | None) -> Keypress | None:
    """The key in Twilio's ``Digits`` field, or None for any other key or none."""
    if digits is None:
        return None
    try:
        return Keypress(digits.strip())
    except ValueError:
        return None


def messaging_reply(text: str) -> str:
    """TwiML answering an SMS with one SMS."""
    response = MessagingResponse()
    response.message(text)
    return str(response)


def voice_reply(text: str, language: Language) -> str:
    """TwiML answering a keypress: say ``text`` in the call's voice, then hang up."""
    voice = VOICES[language]
    response = VoiceResponse()
    response.say(text, voice=voice.name, language=voice.language)
    response.hangup()
    return str(response)
