"""A local stand-in for api.twilio.com that notes when each SMS or call request arrives.

For ``lantai bench alarm``: the measured path ends where Lantai's part ends, at the
provider's HTTP API, reached through the real twilio library.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "b" * 32


class TwilioStandIn:
    """Answers Messages.json and Calls.json POSTs with 201; ``arrived`` holds their times."""

    def __init__(self) -> None:
        self.arrived: list[tuple[float, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.event = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> TwilioStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(standin: TwilioStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            arrived = time.perf_counter()
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            with standin.lock:
                standin.arrived.append((arrived, form))
            standin.event.set()
            prefix = "SM" if self.path.endswith("Messages.json") else "CA"
            body: dict[str, Any] = {"sid": prefix + secrets.token_hex(16), "status": "queued"}
            data = json.dumps(body).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002, ANN401
            del format, args

    return Handler
