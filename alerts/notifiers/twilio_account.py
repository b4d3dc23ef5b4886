"""The Twilio account both phone channels share: settings, the REST client, webhook URLs.

Errors from Twilio become ``DeliveryError`` here, once for SMS and voice alike, so the
outbox sees one vocabulary: retryable when trying again later can help (Twilio's 5xx,
429, a network failure), not retryable when it cannot (a bad number, a refused sender,
wrong credentials), so the outbox falls back to the next channel at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from urllib.parse import urlsplit

import urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from alerts.notifiers import DeliveryError

TWILIO_API = "https://api.twilio.com"
_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# 408/429 and Twilio's 20429 (too many requests) say "not now"; every other 4xx says
# "never", like 21211 invalid number, 21610 recipient replied STOP, 21614 not a mobile,
# 21408 country not enabled, 20003 wrong credentials. 21611 (the sender's SMS queue
# holds over 10 hours of messages) is 400 and deliberately not retried: an alarm
# should move on to a call now, not wait for the queue.
_SERVER_ERROR = 500
_RETRYABLE_STATUS = frozenset({408, 429})
_RETRYABLE_CODES = frozenset({20429})


class TwilioSettings(BaseModel):
    """The Twilio account Lantai sends SMS and places calls with."""

    # hide_input_in_errors: a misspelt key would otherwise print the token it holds.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    account_sid: str
    auth_token: SecretStr
    from_number: str  # the Twilio number messages and calls come from, E.164
    # Where Twilio reaches the console's webhooks, as Twilio sees it (behind any proxy):
    # request signatures are computed over this exact URL.
    public_url: str
    # Another origin for Twilio's REST API: a Twilio-compatible proxy, or a test's fake.
    api_base_url: str = TWILIO_API
    timeout_s: float = Field(default=10, gt=0, le=120)

    @field_validator("account_sid")
    @classmethod
    def _account_sid(cls, value: str) -> str:
        if not _ACCOUNT_SID.match(value):
            raise ValueError("must be AC followed by 32 hex digits (the console's Account SID)")
        return value

    @field_validator("auth_token")
    @classmethod
    def _auth_token(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("from_number")
    @classmethod
    def _from_number(cls, value: str) -> str:
        if not _E164.match(value):
            raise ValueError(f"{value!r} is not an E.164 number like +8613800138000")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        return _base_url(value, schemes=("https",))

    @field_validator("api_base_url")
    @classmethod
    def _api_base_url(cls, value: str) -> str:
        return _base_url(value, schemes=("https", "http"))


def _base_url(value: str, *, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(f"{value!r} is not an {' or '.join(schemes)} URL")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r}: a base URL has no query or fragment")
    if value.endswith("/"):
        raise ValueError(f"{value!r}: leave out the trailing slash")
    return value


def sms_reply_url(settings: TwilioSettings) -> str:
    """Where Twilio posts SMS replies (set it as the number's messaging webhook)."""
    return f"{settings.public_url}/api/twilio/sms"


def keypress_url(settings: TwilioSettings, outbox_id: int) -> str:
    """Where Twilio posts the key pressed during one alarm call."""
    return f"{settings.public_url}/api/twilio/voice/{outbox_id}/keypress"


def status_url(settings: TwilioSettings, outbox_id: int) -> str:
    """Where Twilio posts the delivery status of one message or call."""
    return f"{settings.public_url}/api/twilio/status/{outbox_id}"


class _RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]  # twilio is untyped
    """Twilio's own HTTP client, sending what it would send to api.twilio.com elsewhere."""

    def __init__(self, api_base_url: str, timeout_s: float) -> None:
        # No retries in the transport: the outbox owns retrying (style-anchors §5.7).
        super().__init__(timeout=timeout_s, max_retries=0)
        self._api_base_url = api_base_url

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if url == TWILIO_API or url.startswith(TWILIO_API + "/"):
            url = self._api_base_url + url[len(TWILIO_API) :]
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )


def make_twilio_client(settings: TwilioSettings) -> Client:
    """A REST client for the account, configured only from ``settings``."""
    return Client(
        username=settings.account_sid,
        password=settings.auth_token.get_secret_value(),
        account_sid=settings.account_sid,
        http_client=_RebasedHttpClient(settings.api_base_url, settings.timeout_s),
        # Otherwise the client reads TWILIO_* from os.environ, and TWILIO_EDGE or
        # TWILIO_REGION there would move every request to another host behind our back.
        environment={"TWILIO_EDGE": "", "TWILIO_REGION": ""},
    )


def twilio_time(moment: datetime) -> datetime:
    """``moment`` in UTC to the whole second, comparable with the dates Twilio returns."""
    # Naive values are UTC, as the alarm store keeps them.
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.replace(microsecond=0)


@contextmanager
def delivery_errors(doing: str) -> Iterator[None]:
    """Turn whatever a Twilio call raises into ``DeliveryError``, saying what failed."""
    # `from None` throughout: a chained requests error holds the prepared request, whose
    # Authorization header carries the auth token.
    try:
        yield
    except TwilioException as exc:
        raise _from_twilio(doing, exc) from None
    except json.JSONDecodeError:
        raise DeliveryError(f"{doing}: Twilio's answer was not JSON") from None
    except OSError as exc:  # requests' errors are OSErrors: refused, reset, timed out, DNS
        detail = str(exc)[:300]
        raise DeliveryError(
            f"{doing}: cannot reach Twilio ({type(exc).__name__}: {detail})",
            maybe_sent=_may_have_arrived(exc),
        ) from None


def _may_have_arrived(exc: OSError) -> bool:
    """Whether Twilio may have taken the request although no answer came back.

    Only a connection that was never made (refused, DNS, connect timeout) proves it did
    not; a read timeout or a connection dropped mid-answer may follow Twilio's acceptance.
    """
    # requests wraps urllib3's error as its first argument (in MaxRetryError's reason
    # when urllib3 gave up on the connection).
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, urllib3.exceptions.MaxRetryError):
        inner = inner.reason
    # NewConnectionError (refused, name resolution) is a ConnectTimeoutError too.
    return not isinstance(inner, urllib3.exceptions.ConnectTimeoutError)


def _from_twilio(doing: str, exc: TwilioException) -> DeliveryError:
    status: int | None = getattr(exc, "status", None)
    code: int | None = getattr(exc, "code", None)
    # TwilioRestException has msg; the newer RFC 9457 TwilioServiceException, detail/title.
    text = str(
        getattr(exc, "msg", None) or getattr(exc, "detail", None) or getattr(exc, "title", "")
    )
    if status is None:
        # A list page's error carries only the raw response: TwilioException(msg, response).
        response = exc.args[1] if len(exc.args) > 1 else None
        status = getattr(response, "status_code", None)
        body = _json_object(getattr(response, "text", None))
        raw_code = body.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        text = f"{exc.args[0] if exc.args else ''}: {body.get('message', '')}".strip(": ")
    if status is None:  # the library could not make sense of an answer
        return DeliveryError(f"{doing}: unusable answer from Twilio: {exc}")
    retryable = status >= _SERVER_ERROR or status in _RETRYABLE_STATUS or code in _RETRYABLE_CODES
    where = f"HTTP {status}" if code in (None, status) else f"HTTP {status}, error {code}"
    return DeliveryError(f"{doing}: Twilio answered {where}: {text}", retryable=retryable)


def _json_object(text: object) -> dict[str, object]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
