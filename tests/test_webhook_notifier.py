"""The webhook notifier against a real local HTTP server that records what it gets."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import socket
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from alerts.notifiers import Channel, DeliveryError, Message, MessageKind
from alerts.notifiers.webhook import WebhookEndpoint, WebhookNotifier, sign, signature_valid

SECRET = "s3cret-for-the-bms-endpoint"  # noqa: S105 (the test receiver's)


def alarm(**changes: Any) -> Message:
    base = Message(
        outbox_id=57,
        channel=Channel.WEBHOOK,
        kind=MessageKind.ALARM,
        address="bms",
        language="zh-CN",
        subject="兰台#57 严重：B2-03 烟感报警",
        text="B2-03 烟感报警",
        incident_id=12,
        code="57",
        created_at=datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
        data={"room": "B2-03", "severity": "critical", "alarms": 2, "acked_by": None},
    )
    return dataclasses.replace(base, **changes)


# Written out by hand: keys sorted at every level, no spaces, Chinese as UTF-8.
EXPECTED_BODY = (
    '{"code":"57","created_at":"2026-03-01T02:30:00+00:00",'
    '"data":{"acked_by":null,"alarms":2,"room":"B2-03","severity":"critical"},'
    '"delivery":57,"incident":12,"kind":"alarm","language":"zh-CN",'
    '"subject":"兰台#57 严重：B2-03 烟感报警","text":"B2-03 烟感报警"}'
).encode()


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """What the test server received, and how it is to answer."""

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[Recorded] = []
        self.status = 200
        self.reply_headers: dict[str, str] = {}
        self.delay_s = 0.0
        self.released = threading.Event()  # ends a delay early when the test is over

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = dict(self.headers.items())
                receiver.requests.append(Recorded(self.command, self.path, headers, body))
                receiver.released.wait(receiver.delay_s)
                try:
                    self.send_response(receiver.status)
                    for name, value in receiver.reply_headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:
                    pass  # the client gave up waiting: that is what a slow test wants

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    recorder = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), recorder.handler())
    # A short poll: shutdown() waits for it, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    recorder.port = server.server_address[1]
    yield recorder
    recorder.released.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


def endpoint(port: int, **changes: Any) -> WebhookEndpoint:
    base: dict[str, Any] = {
        "id": "bms",
        "url": f"http://127.0.0.1:{port}/hooks/lantai?site=yunxi",
        "secret": SECRET,
        "timeout_s": 5,
    }
    return WebhookEndpoint.model_validate(base | changes)


def notifier(receiver: Receiver, **changes: Any) -> WebhookNotifier:
    return WebhookNotifier([endpoint(receiver.port, **changes)])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# -- what arrives ---------------------------------------------------------------------


def test_the_receiver_gets_exactly_the_signed_body(receiver: Receiver) -> None:
    assert notifier(receiver).send(alarm()) is None

    [got] = receiver.requests
    assert got.method == "POST"
    assert got.path == "/hooks/lantai?site=yunxi"
    assert got.body == EXPECTED_BODY
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["Content-Length"] == str(len(EXPECTED_BODY))
    assert got.headers["X-Lantai-Delivery"] == "57"
    assert got.headers["User-Agent"] == f"lantai/{metadata.version('lantai')}"
    independent = hmac.new(SECRET.encode(), EXPECTED_BODY, hashlib.sha256).hexdigest()
    assert got.headers["X-Lantai-Signature"] == f"sha256={independent}"


def test_a_retry_carries_the_same_delivery_id_body_and_signature(receiver: Receiver) -> None:
    sender = notifier(receiver)
    sender.send(alarm())
    sender.send(alarm())

    first, second = receiver.requests
    assert first.body == second.body
    for name in ("X-Lantai-Delivery", "X-Lantai-Signature"):
        assert first.headers[name] == second.headers[name]
    assert sender.can_confirm is False
    assert sender.channel is Channel.WEBHOOK
    assert sender.find_sent(alarm(), datetime(2026, 3, 1, tzinfo=UTC)) is None


def test_the_receivers_request_id_is_returned(receiver: Receiver) -> None:
    receiver.reply_headers = {"X-Request-Id": "req-8f3a"}
    receiver.status = 202

    assert notifier(receiver).send(alarm()) == "req-8f3a"


def test_acked_messages_say_so(receiver: Receiver) -> None:
    notifier(receiver).send(alarm(outbox_id=58, kind=MessageKind.ACKED, language="en", data={}))

    [got] = receiver.requests
    assert b'"kind":"acked"' in got.body
    assert b'"delivery":58' in got.body
    assert b'"data":{}' in got.body
    assert got.headers["X-Lantai-Delivery"] == "58"


# -- signatures, as a receiver checks them -------------------------------------------------


def test_signature_valid_accepts_only_the_exact_body_and_secret() -> None:
    secret = SecretStr(SECRET)
    header = sign(secret, EXPECTED_BODY)

    assert header == "sha256=" + hmac.new(SECRET.encode(), EXPECTED_BODY, "sha256").hexdigest()
    assert signature_valid(secret, EXPECTED_BODY, header)
    assert not signature_valid(secret, EXPECTED_BODY.replace(b"57", b"58"), header)
    assert not signature_valid(secret, EXPECTED_BODY + b" ", header)
    assert not signature_valid(SecretStr("another-secret-of-length"), EXPECTED_BODY, header)
    assert not signature_valid(secret, EXPECTED_BODY, header.removeprefix("sha256="))
    assert not signature_valid(secret, EXPECTED_BODY, "sha1=" + header[len("sha256=") :])
    assert not signature_valid(secret, EXPECTED_BODY, None)
    assert not signature_valid(secret, EXPECTED_BODY, "")
    assert not signature_valid(secret, EXPECTED_BODY, "sha256=非十六进制")


def test_the_received_signature_validates(receiver: Receiver) -> None:
    notifier(receiver).send(alarm())

    [got] = receiver.requests
    assert signature_valid(SecretStr(SECRET), got.body, got.headers["X-Lantai-Signature"])


# -- what fails, and whether to try again ------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(500, True), (502, True), (503, True), (429, True), (408, True)],
        *[(400, False), (401, False), (404, False), (410, False), (422, False)],
    ],
)
def test_answers_are_classified(receiver: Receiver, status: int, retryable: bool) -> None:
    receiver.status = status

    with pytest.raises(DeliveryError) as caught:
        notifier(receiver).send(alarm())

    assert caught.value.retryable is retryable
    assert f"webhook bms answered {status}" in caught.value.reason
    assert len(receiver.requests) == 1


def test_a_redirect_is_not_followed(receiver: Receiver) -> None:
    # urllib would follow it as a GET without the body; the alarm would never arrive.
    receiver.status = 302
    receiver.reply_headers = {"Location": "/elsewhere"}

    with pytest.raises(DeliveryError) as caught:
        notifier(receiver).send(alarm())

    assert caught.value.retryable is False
    assert [r.method for r in receiver.requests] == ["POST"]


def test_connection_refused_is_retried() -> None:
    sender = WebhookNotifier([endpoint(free_port())])

    with pytest.raises(DeliveryError) as caught:
        sender.send(alarm())

    assert caught.value.retryable is True
    assert "unreachable" in caught.value.reason


def test_a_slow_receiver_times_out_and_is_retried(receiver: Receiver) -> None:
    receiver.delay_s = 5

    with pytest.raises(DeliveryError) as caught:
        notifier(receiver, timeout_s=0.3).send(alarm())

    assert caught.value.retryable is True
    assert "timed out" in caught.value.reason


def test_an_unknown_endpoint_is_final(receiver: Receiver) -> None:
    with pytest.raises(DeliveryError) as caught:
        notifier(receiver).send(alarm(address="fire-brigade"))

    assert caught.value.retryable is False
    assert receiver.requests == []


@pytest.mark.parametrize(
    "data", [{"at": datetime(2026, 3, 1, tzinfo=UTC)}, {"value": float("nan")}]
)
def test_data_that_is_not_json_is_final(receiver: Receiver, data: dict[str, object]) -> None:
    with pytest.raises(DeliveryError) as caught:
        notifier(receiver).send(alarm(data=data))

    assert caught.value.retryable is False
    assert receiver.requests == []


def test_errors_and_reprs_never_show_the_secret(receiver: Receiver) -> None:
    receiver.status = 500
    sender = notifier(receiver)

    with pytest.raises(DeliveryError) as caught:
        sender.send(alarm())

    told = "".join(traceback.format_exception(caught.value))
    config = endpoint(1)
    for text in (told, repr(sender), repr(config), str(config), config.model_dump_json()):
        assert SECRET not in text


# -- configuration ---------------------------------------------------------------------


def test_endpoints_are_strict() -> None:
    good = endpoint(8080)
    assert good.timeout_s == 5
    assert endpoint(8080, url="https://bms.archive.example/lantai").url.scheme == "https"

    for bad in (
        {"url": "ftp://bms.archive.example/"},
        {"url": "not a url"},
        {"secret": "short"},
        {"timeout_s": 0},
        {"timeout_s": "10"},
        {"retries": 3},
        {"id": "BMS with spaces"},
    ):
        with pytest.raises(ValidationError):
            endpoint(8080, **bad)


def test_a_short_secret_is_not_printed_in_the_error() -> None:
    short = "too-short-15chr"
    with pytest.raises(ValidationError) as caught:
        endpoint(8080, secret=short)

    assert short not in str(caught.value)
    assert caught.value.errors()[0]["loc"] == ("secret",)


def test_endpoint_ids_are_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        WebhookNotifier([endpoint(8080), endpoint(8081)])
