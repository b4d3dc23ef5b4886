"""The email notifier against a real SMTP server (aiosmtpd) on a free local port."""

from __future__ import annotations

import dataclasses
import logging
import shutil
import socket
import ssl
import subprocess
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr, ValidationError

from alerts.notifiers import Channel, DeliveryError, Message, MessageKind
from alerts.notifiers.email import EmailNotifier, SmtpSettings

PASSWORD = "correct-horse-battery-staple"  # noqa: S105 (the test relay's)
WRONG_PASSWORD = "wrong-horse-battery-staple"  # noqa: S105
FROM = "兰台 <alerts@archive.example>"
TEXT_ZH = "兰台#57 严重：云溪市档案馆 B2-03 烟感报警（02:30）。\n回复“ACK 57”确认，或在值班台确认。"


def alarm(**changes: Any) -> Message:
    base = Message(
        outbox_id=57,
        channel=Channel.EMAIL,
        kind=MessageKind.ALARM,
        address="duty@archive.example",
        language="zh-CN",
        subject="兰台#57 严重：B2-03 烟感报警",
        text=TEXT_ZH,
        incident_id=12,
        code="57",
        created_at=datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    def parsed(self) -> EmailMessage:
        # As a mailbox stores it: CRLF is the wire's line ending, not the text's.
        mail = message_from_bytes(self.content.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(mail, EmailMessage)
        return mail


class Recorder:
    """An aiosmtpd handler that keeps what it accepts and refuses on request."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        assert isinstance(envelope.content, bytes)
        assert envelope.mail_from is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content)
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def serve(handler: Recorder, **smtp: Any) -> Iterator[Controller]:
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **smtp)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def settings(port: int, **changes: Any) -> SmtpSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": FROM,
        "timeout_s": 5,
    }
    return SmtpSettings(**(base | changes))


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def relay(recorder: Recorder) -> Iterator[Controller]:
    with serve(recorder) as controller:
        yield controller


def send(port: int, message: Message, **changes: Any) -> str | None:
    return EmailNotifier(settings(port, **changes)).send(message)


# -- what arrives ---------------------------------------------------------------------


def test_the_relay_receives_exactly_the_message(relay: Controller, recorder: Recorder) -> None:
    assert send(relay.port, alarm()) is None

    [got] = recorder.received
    assert got.mail_from == "alerts@archive.example"
    assert got.rcpt_tos == ["duty@archive.example"]
    # Encoded headers and a base64 body: it passes relays without 8BITMIME or SMTPUTF8.
    assert got.content.isascii()
    mail = got.parsed()
    assert mail["Subject"] == "兰台#57 严重：B2-03 烟感报警"
    assert mail["From"] == FROM
    assert mail["To"] == "duty@archive.example"
    assert mail["Message-ID"] == "<lantai-outbox-57@lantai.invalid>"
    assert mail["X-Lantai-Incident"] == "12"
    assert parsedate_to_datetime(mail["Date"]) == datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content() == TEXT_ZH + "\n"


def test_an_english_message_goes_as_readable_seven_bit_text(
    relay: Controller, recorder: Recorder
) -> None:
    text = "Lantai #57 CRITICAL: smoke in B2-03 at 02:30.\nReply ACK 57 to acknowledge."
    send(relay.port, alarm(language="en", subject="Lantai #57 smoke in B2-03", text=text))

    [got] = recorder.received
    assert text.encode() in got.content.replace(b"\r\n", b"\n")
    mail = got.parsed()
    assert mail["Subject"] == "Lantai #57 smoke in B2-03"
    assert mail["Content-Transfer-Encoding"] == "7bit"
    assert mail.get_content() == text + "\n"


def test_a_resent_message_is_the_same_message(relay: Controller, recorder: Recorder) -> None:
    notifier = EmailNotifier(settings(relay.port))
    notifier.send(alarm())
    notifier.send(alarm())

    first, second = recorder.received
    assert first.content == second.content  # same Message-ID and Date: clients fold it
    assert notifier.can_confirm is False
    assert notifier.channel is Channel.EMAIL
    assert notifier.find_sent(alarm(), datetime(2026, 3, 1, tzinfo=UTC)) is None


def test_message_id_domain_is_configurable(relay: Controller, recorder: Recorder) -> None:
    send(relay.port, alarm(outbox_id=9001), message_id_domain="lantai.yunxi-archive.example")

    [got] = recorder.received
    assert got.parsed()["Message-ID"] == "<lantai-outbox-9001@lantai.yunxi-archive.example>"


def test_a_line_break_in_the_subject_does_not_cost_the_email(
    relay: Controller, recorder: Recorder
) -> None:
    send(relay.port, alarm(subject="兰台#57 严重\r\nBcc: intruder@example.org"))

    [got] = recorder.received
    assert got.parsed()["Subject"] == "兰台#57 严重 Bcc: intruder@example.org"
    assert got.rcpt_tos == ["duty@archive.example"]


@pytest.mark.parametrize(
    "address", ["not-an-address", "duty@archive.example\r\nBcc: x@example.org", "a@b@c.example"]
)
def test_a_bad_address_is_refused_before_connecting(
    relay: Controller, recorder: Recorder, address: str
) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm(address=address))

    assert caught.value.retryable is False
    assert recorder.received == []


# -- what fails, and whether to try again ------------------------------------------------


def test_a_refused_recipient_is_final(relay: Controller, recorder: Recorder) -> None:
    recorder.rcpt_reply = "550 no such user"

    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm())

    assert caught.value.retryable is False
    assert "550 no such user" in caught.value.reason


def test_a_recipient_deferred_with_451_is_retried(relay: Controller, recorder: Recorder) -> None:
    recorder.rcpt_reply = "451 4.3.0 try again later"

    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm())

    assert caught.value.retryable is True
    assert "451" in caught.value.reason


@pytest.mark.parametrize(("reply", "retryable"), [("451 queue full", True), ("554 spam", False)])
def test_a_refused_message_follows_the_reply_code(
    relay: Controller, recorder: Recorder, reply: str, retryable: bool
) -> None:
    recorder.data_reply = reply

    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm())

    assert caught.value.retryable is retryable
    assert reply in caught.value.reason


def test_nothing_listening_is_retried() -> None:
    with pytest.raises(DeliveryError) as caught:
        send(free_port(), alarm())

    assert caught.value.retryable is True
    assert "Connection refused" in caught.value.reason


def test_a_server_that_never_greets_times_out_and_is_retried() -> None:
    # Listening without accepting: the connection opens, the greeting never comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]

        with pytest.raises(DeliveryError) as caught:
            send(port, alarm(), timeout_s=0.3)

    assert caught.value.retryable is True
    assert "timed out" in caught.value.reason


def test_starttls_against_a_server_without_it_is_final(relay: Controller) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm(), security="starttls")

    assert caught.value.retryable is False
    assert "STARTTLS" in caught.value.reason


def test_a_login_to_a_server_without_auth_is_final(relay: Controller) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(relay.port, alarm(), username="lantai", password=PASSWORD)

    assert caught.value.retryable is False
    assert PASSWORD not in caught.value.reason


# -- login, and keeping the password to ourselves ---------------------------------------


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    assert isinstance(auth_data, LoginPassword)
    good = auth_data.login == b"lantai" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=good, handled=False)


@pytest.fixture
def auth_relay(recorder: Recorder) -> Iterator[Controller]:
    # Plain-text AUTH only because the test relay listens on loopback.
    with serve(recorder, authenticator=authenticator, auth_require_tls=False) as controller:
        yield controller


def test_a_login_with_the_right_password_delivers(
    auth_relay: Controller, recorder: Recorder
) -> None:
    send(auth_relay.port, alarm(), username="lantai", password=PASSWORD)

    assert len(recorder.received) == 1


def test_a_refused_login_is_final_and_keeps_the_password_secret(
    auth_relay: Controller, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    notifier = EmailNotifier(settings(auth_relay.port, username="lantai", password=WRONG_PASSWORD))

    with pytest.raises(DeliveryError) as caught:
        notifier.send(alarm())

    assert caught.value.retryable is False
    assert "535" in caught.value.reason
    assert recorder.received == []
    told = "".join(traceback.format_exception(caught.value))
    for text in (told, repr(caught.value), caplog.text, repr(notifier)):
        assert WRONG_PASSWORD not in text


def test_settings_never_show_the_password() -> None:
    config = settings(25, username="lantai", password=PASSWORD)

    assert isinstance(config.password, SecretStr)
    for text in (repr(config), str(config), repr(EmailNotifier(config)), config.model_dump_json()):
        assert PASSWORD not in text


def test_invalid_settings_do_not_print_the_password() -> None:
    with pytest.raises(ValidationError) as caught:
        SmtpSettings(
            host="127.0.0.1",
            from_address="not an address",
            password=SecretStr(PASSWORD),
        )

    errors = {(e["loc"], e["msg"].split(",")[0]) for e in caught.value.errors()}
    assert (("from_address",), "Value error") in errors
    assert PASSWORD not in str(caught.value)


def test_settings_defaults_and_strictness() -> None:
    config = SmtpSettings(host="mail.archive.example", from_address="alerts@archive.example")

    assert (config.port, config.security, config.timeout_s) == (587, "starttls", 10)
    assert config.message_id_domain == "lantai.invalid"
    with pytest.raises(ValidationError):
        SmtpSettings.model_validate(
            {"host": "h", "from_address": "alerts@archive.example", "sender": "x"}
        )
    with pytest.raises(ValidationError):
        SmtpSettings(host="h", from_address="alerts@archive.example", username="lantai")
    with pytest.raises(ValidationError):
        SmtpSettings(host="h", from_address="alerts@archive.example", security="ssl")


# -- TLS, with a certificate made for the test -------------------------------------------


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a test certificate")
    where = tmp_path_factory.mktemp("tls")
    cert, key = where / "cert.pem", where / "key.pem"
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def test_starttls_upgrades_and_delivers(
    certificate: tuple[Path, Path], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The system trust store is where a private CA goes in production, too.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    context = server_context(certificate)
    with serve(recorder, tls_context=context, require_starttls=True) as controller:
        send(controller.port, alarm(), security="starttls")

    [got] = recorder.received
    assert got.parsed()["Message-ID"] == "<lantai-outbox-57@lantai.invalid>"


def test_implicit_tls_delivers(
    certificate: tuple[Path, Path], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with serve(recorder, ssl_context=server_context(certificate)) as controller:
        send(controller.port, alarm(), security="tls")

    assert len(recorder.received) == 1


def test_an_untrusted_certificate_is_final(
    certificate: tuple[Path, Path], recorder: Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    context = server_context(certificate)
    with (
        serve(recorder, tls_context=context, require_starttls=True) as controller,
        pytest.raises(DeliveryError) as caught,
    ):
        send(controller.port, alarm(), security="starttls")

    assert caught.value.retryable is False
    assert "certificate" in caught.value.reason
    assert recorder.received == []
