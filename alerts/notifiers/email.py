"""Email over SMTP: one connection per message, STARTTLS by default.

The message is plain UTF-8 text. Its Message-ID (``<lantai-outbox-{outbox_id}@{domain}>``)
and Date (when the message was written) depend only on the outbox row, so a message sent
again after a crash is byte-for-byte the same message, and mail clients fold the duplicate.

Errors follow the reply codes: 4xx, timeouts and lost connections are worth another try;
5xx (a refused recipient, a refused login) are not.
"""

from __future__ import annotations

import re
import smtplib
import ssl
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from alerts.notifiers import Channel, DeliveryError, Message

_ADDR_SPEC = re.compile(r"^[^@\s<>,;:\"()\[\]\\]+@[^@\s<>,;:\"()\[\]\\]+\.[^@\s<>,;:\"()\[\]\\]+$")
_DOMAIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*$")
# A server's reply ends up in the outbox and the log: enough to diagnose, not a page.
_REPLY_CHARS = 200
# 5xx is the server's final word (RFC 5321 §4.2.1); anything below may pass later.
_PERMANENT = 500


class SmtpSettings(BaseModel):
    """Where and how to hand email to the archive's mail relay."""

    # Inputs stay out of validation errors: they would print the password.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    # "tls" is implicit TLS (port 465); "none" is for a relay on the same host or LAN.
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_address: str  # "alerts@archive.example" or "兰台 <alerts@archive.example>"
    timeout_s: float = Field(default=10, gt=0)
    message_id_domain: str = Field(default="lantai.invalid", pattern=_DOMAIN.pattern)

    @field_validator("from_address")
    @classmethod
    def _from_is_an_address(cls, value: str) -> str:
        _, addr = parseaddr(value)
        if not _ADDR_SPEC.fullmatch(addr) or "\n" in value or "\r" in value:
            raise ValueError("not an email address, like alerts@archive.example")
        return value

    @model_validator(mode="after")
    def _login_complete(self) -> Self:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self

    @property
    def envelope_from(self) -> str:
        """The bare address for MAIL FROM."""
        return parseaddr(self.from_address)[1]


class EmailNotifier:
    """Sends messages as plain-text email through one SMTP relay."""

    channel = Channel.EMAIL
    # SMTP cannot be asked afterwards whether a message left. An interrupted message is
    # sent again with the same Message-ID, so mail clients fold the duplicate.
    can_confirm = False

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    def __repr__(self) -> str:
        s = self._settings
        return f"EmailNotifier({s.security}://{s.host}:{s.port}, user={s.username!r})"

    def send(self, message: Message) -> str | None:
        """Hand the message to the relay; SMTP gives no id worth keeping, so None."""
        mail = self._compose(message)
        where = f"SMTP {self._settings.host}:{self._settings.port}"
        try:
            smtp = self._connect()
            try:
                self._login(smtp)
                smtp.send_message(
                    mail, from_addr=self._settings.envelope_from, to_addrs=[message.address]
                )
            finally:
                _quit_quietly(smtp)
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}", retryable=False) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _by_code(f"{where} refused the recipient", code, reply) from exc
        except smtplib.SMTPResponseException as exc:
            raise _by_code(f"{where} {_stage(exc)}", exc.smtp_code, exc.smtp_error) from exc
        except smtplib.SMTPServerDisconnected as exc:
            raise DeliveryError(f"{where} closed the connection: {exc}") from exc
        except smtplib.SMTPException as exc:
            # What is left is about what the server offers ("no suitable authentication
            # method"): settings to change, not a moment to wait for.
            raise DeliveryError(f"{where}: {exc}", retryable=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(
                f"{where}: certificate not trusted: {exc.verify_message}", retryable=False
            ) from exc
        except OSError as exc:  # refused, unreachable, timed out, TLS handshake broke off
            raise DeliveryError(f"{where} connection failed: {_describe(exc)}") from exc
        return None

    def find_sent(self, message: Message, since: datetime) -> str | None:  # noqa: ARG002 (the Protocol's)
        """SMTP cannot tell; the outbox sends again with the same Message-ID."""
        return None

    def _compose(self, message: Message) -> EmailMessage:
        """The email for one message (the default policy: UTF-8, RFC 2047 headers)."""
        if not _ADDR_SPEC.fullmatch(message.address):
            raise DeliveryError("not an email address", retryable=False)
        mail = EmailMessage()
        # A stray line break in a subject must not cost an alarm its email.
        mail["Subject"] = " ".join(message.subject.split())
        mail["From"] = self._settings.from_address
        mail["To"] = message.address
        # When the message was written, not when this attempt runs: a resend is the same
        # message, and the reader sees when the alarm happened.
        mail["Date"] = format_datetime(message.created_at)
        mail["Message-ID"] = (
            f"<lantai-outbox-{message.outbox_id}@{self._settings.message_id_domain}>"
        )
        mail["X-Lantai-Incident"] = str(message.incident_id)
        # 8bit bodies need the relay's 8BITMIME; base64 passes through any relay.
        cte = None if message.text.isascii() else "base64"
        mail.set_content(message.text, charset="utf-8", cte=cte)
        return mail

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        if s.security == "tls":
            return smtplib.SMTP_SSL(
                s.host, s.port, timeout=s.timeout_s, context=ssl.create_default_context()
            )
        smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        if s.security == "starttls":
            try:
                smtp.ehlo()
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            except BaseException:
                _quit_quietly(smtp)
                raise
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        s = self._settings
        if s.username is not None and s.password is not None:
            smtp.login(s.username, s.password.get_secret_value())


def _by_code(what: str, code: int, reply: bytes | str) -> DeliveryError:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return DeliveryError(f"{what}: {code} {text[:_REPLY_CHARS]}", retryable=code < _PERMANENT)


def _stage(exc: smtplib.SMTPResponseException) -> str:
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return "refused the login"
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return "refused the sender"
    if isinstance(exc, smtplib.SMTPDataError):
        return "refused the message"
    if isinstance(exc, smtplib.SMTPConnectError):
        return "refused the connection"
    return "answered"


def _describe(exc: OSError) -> str:
    return str(exc) or type(exc).__name__


def _quit_quietly(smtp: smtplib.SMTP) -> None:
    # Once the server has taken the message, a failing QUIT must not make it a failure.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()
