"""Signed JSON webhooks: one POST per message to a configured endpoint.

The body is compact JSON with sorted keys. ``X-Lantai-Delivery`` carries the outbox id,
the same on every retry: receivers use it to drop duplicates. ``X-Lantai-Signature`` is
``sha256=`` and the hex HMAC-SHA256 of the exact body bytes, keyed with the endpoint's
secret. A receiver checks it before parsing the body::

    from alerts.notifiers.webhook import signature_valid

    def receive(body: bytes, headers: Mapping[str, str]) -> int:
        if not signature_valid(SECRET, body, headers.get("X-Lantai-Signature")):
            return 401  # not from Lantai, or altered on the way
        if first_time(headers["X-Lantai-Delivery"]):  # a retry repeats the id
            handle(json.loads(body))
        return 200

2xx is success; 408, 429, 5xx, timeouts and lost connections are worth another try; any
other answer, a redirect included, is not.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from datetime import datetime
from importlib import metadata
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr

from alerts.notifiers import Channel, DeliveryError, Message

_PREFIX = "sha256="
# The 4xx answers that say "not now" rather than "never": timeout, too many requests.
_RETRYABLE = frozenset({408, 429})
_SERVER_ERROR = 500
# Read at most this much of an answer: it is discarded, but reading lets the connection end cleanly.
_MAX_ANSWER = 64 * 1024


class WebhookEndpoint(BaseModel):
    """A receiver of signed webhooks, named by id in the alerting file."""

    # Inputs stay out of validation errors: they would print the secret.
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, hide_input_in_errors=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    url: HttpUrl
    secret: SecretStr = Field(min_length=16)
    timeout_s: float = Field(default=10, gt=0)


def sign(secret: SecretStr, body: bytes) -> str:
    """The ``X-Lantai-Signature`` value for a body: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def signature_valid(secret: SecretStr, body: bytes, header: str | None) -> bool:
    """Whether a received ``X-Lantai-Signature`` header matches the body (constant time)."""
    if header is None or not header.startswith(_PREFIX):
        return False
    return hmac.compare_digest(sign(secret, body).encode(), header.encode())


def _body(message: Message) -> bytes:
    """The exact bytes POSTed (and signed) for a message."""
    document = {
        "delivery": message.outbox_id,
        "kind": message.kind.value,
        "incident": message.incident_id,
        "code": message.code,
        "language": message.language,
        "subject": message.subject,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "data": dict(message.data),
    }
    # NaN is no JSON a receiver's parser must accept: refuse it rather than send it.
    text = json.dumps(
        document, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    )
    return text.encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib turns a redirected POST into a GET without the body, which a receiver would
    # answer 2xx to without ever seeing the alarm. A redirect is an answer like any 3xx.
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:  # noqa: ANN401 (urllib's)
        return None


class WebhookNotifier:
    """POSTs each message, signed, to the endpoint its address names."""

    channel = Channel.WEBHOOK
    # A receiver cannot be asked afterwards. An interrupted message is posted again with
    # the same X-Lantai-Delivery id, which receivers use to drop the repeat.
    can_confirm = False

    def __init__(self, endpoints: Sequence[WebhookEndpoint]) -> None:
        self._endpoints = {e.id: e for e in endpoints}
        if len(self._endpoints) != len(endpoints):
            raise ValueError("webhook endpoint ids must be unique")
        self._opener = urllib.request.build_opener(_NoRedirect())
        try:
            version = metadata.version("lantai")
        except metadata.PackageNotFoundError:  # running from a checkout that is not installed
            version = "0"
        self._user_agent = f"lantai/{version}"

    def __repr__(self) -> str:
        return f"WebhookNotifier({sorted(self._endpoints)})"

    def send(self, message: Message) -> str | None:
        """POST the message; return the receiver's ``X-Request-Id``, if it sent one."""
        endpoint = self._endpoints.get(message.address)
        if endpoint is None:
            raise DeliveryError(f"no webhook {message.address!r} configured", retryable=False)
        try:
            body = _body(message)
        except (TypeError, ValueError) as exc:  # data that is not JSON: sending again won't help
            raise DeliveryError(f"webhook body is not JSON: {exc}", retryable=False) from exc
        request = urllib.request.Request(  # noqa: S310 (HttpUrl admits only http and https)
            str(endpoint.url),
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "X-Lantai-Delivery": str(message.outbox_id),
                "X-Lantai-Signature": sign(endpoint.secret, body),
                "User-Agent": self._user_agent,
            },
        )
        # The endpoint's id names it in errors: its URL may carry credentials.
        where = f"webhook {endpoint.id}"
        try:
            with self._opener.open(request, timeout=endpoint.timeout_s) as response:
                _drain(response)
                request_id: str | None = response.headers.get("X-Request-Id")
        except urllib.error.HTTPError as exc:
            with exc:
                status = exc.code
                retryable = status in _RETRYABLE or status >= _SERVER_ERROR
                raise DeliveryError(
                    f"{where} answered {status} {exc.reason}", retryable=retryable
                ) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ssl.SSLCertVerificationError):
                raise DeliveryError(
                    f"{where}: certificate not trusted: {exc.reason.verify_message}",
                    retryable=False,
                ) from exc
            raise DeliveryError(f"{where} unreachable: {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # timed out reading, cut off
            raise DeliveryError(f"{where} failed: {str(exc) or type(exc).__name__}") from exc
        return request_id

    def find_sent(self, message: Message, since: datetime) -> str | None:  # noqa: ARG002 (the Protocol's)
        """A receiver cannot tell; the outbox posts again with the same delivery id."""
        return None


def _drain(response: IO[bytes]) -> None:
    response.read(_MAX_ANSWER)
