"""Start an MQTT broker for the demo, the benchmarks and the test suite.

A local ``mosquitto`` binary is preferred. Its config is written deliberately: Mosquitto's
default per-client queue (``max_queued_messages 1000``) silently drops QoS 1 messages for
a subscriber that falls behind, and its default in-flight window of 20 would throttle a
collector that acknowledges only after a durable write. Where no binary exists, the demo
falls back to amqtt, a pure-Python broker (MQTT 3.1.1 only, a few thousand messages/s).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol

# Sized for a site's backlog: 200 sensors at one reading a second queue 720k messages an
# hour while the collector is down; at ~200 bytes each that is ~150 MB in the broker.
MAX_QUEUED_MESSAGES = 1_000_000
# The collector holds at most this many unacknowledged messages (MQTT 3.1.1; an MQTT 5
# client states its own Receive Maximum). It bounds the collector's memory like
# Telegraf's max_undelivered_messages, and must exceed one group-commit batch.
MAX_INFLIGHT_MESSAGES = 20_000


class Broker(Protocol):
    """A running broker the caller can connect to."""

    host: str
    port: int

    def stop(self) -> None: ...


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def mosquitto_config(
    port: int, data_dir: Path, *, persistence: bool = True, as_root: bool = False
) -> str:
    """The config Lantai runs a local Mosquitto with (loopback only, anonymous)."""
    lines = [
        "# Written by lantai.broker for a local broker on loopback; see deploy/ for production.",
        f"listener {port} 127.0.0.1",
        "allow_anonymous true",
        f"max_queued_messages {MAX_QUEUED_MESSAGES}",
        "max_queued_bytes 0",
        f"max_inflight_messages {MAX_INFLIGHT_MESSAGES}",
        "persistent_client_expiration 7d",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if persistence and as_root:
        # Started as root (a container, CI), Mosquitto drops to the user "mosquitto", which
        # cannot write the persistence file in a folder root made: it logs "Permission
        # denied" and a restart loses every queued message and persistent session.
        lines.append("user root")
    if persistence:
        lines += [
            "persistence true",
            f"persistence_location {data_dir}/",
            # Save the queue often enough that a broker crash loses little; 0 would save on
            # every change, which is what a test of broker restarts wants.
            "autosave_interval 60",
        ]
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    """A ``mosquitto`` child process on a free loopback port."""

    def __init__(
        self, data_dir: Path, *, port: int | None = None, binary: str | None = None
    ) -> None:
        found = binary or shutil.which("mosquitto") or _sbin("mosquitto")
        if found is None:
            raise FileNotFoundError("mosquitto is not installed (apt-get install mosquitto)")
        self.binary = found
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.data_dir = data_dir
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MosquittoBroker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        conf = self.data_dir / "mosquitto.conf"
        as_root = os.geteuid() == 0
        conf.write_text(
            mosquitto_config(self.port, self.data_dir, as_root=as_root), encoding="utf-8"
        )
        self._log = (self.data_dir / "mosquitto.log").open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - our own binary and config
            [self.binary, "-c", str(conf)], stdout=self._log, stderr=self._log
        )
        _wait_for_port(self.host, self.port, self._proc)
        return self

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
        self._proc = None
        with contextlib.suppress(AttributeError):
            self._log.close()

    def kill(self) -> None:
        """Stop at once, as a crash would (no clean persistence save)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None


class EmbeddedBroker:
    """amqtt in a background thread: the demo's broker where no mosquitto is installed."""

    def __init__(self, *, port: int | None = None) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: object | None = None

    def start(self) -> EmbeddedBroker:
        try:
            from amqtt.broker import Broker as AmqttBroker  # noqa: PLC0415 - optional extra
        except ImportError as exc:
            raise RuntimeError(
                "no mosquitto binary and amqtt is not installed: "
                "pip install 'lantai[embedded-broker]'"
            ) from exc
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None  # noqa: S101 - set just above
            asyncio.set_event_loop(self._loop)
            broker = AmqttBroker(config, loop=self._loop)
            self._broker = broker
            self._loop.run_until_complete(broker.start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="amqtt-broker", daemon=True)
        self._thread.start()
        if not ready.wait(15):
            raise RuntimeError("the embedded broker did not start")
        _wait_for_port(self.host, self.port, None)
        return self

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        shutdown = self._broker.shutdown()  # type: ignore[attr-defined]
        future = asyncio.run_coroutine_threadsafe(shutdown, self._loop)
        with contextlib.suppress(Exception):
            future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None


def start_local_broker(data_dir: Path, *, port: int | None = None) -> Broker:
    """Mosquitto if it is installed, otherwise the embedded amqtt broker."""
    if shutil.which("mosquitto") or _sbin("mosquitto"):
        return MosquittoBroker(data_dir, port=port).start()
    return EmbeddedBroker(port=port).start()


def _sbin(name: str) -> str | None:
    # Debian installs mosquitto in /usr/sbin, which is not on every user's PATH.
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def _wait_for_port(
    host: str, port: int, proc: subprocess.Popen[bytes] | None, timeout: float = 10
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the broker exited with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"no broker listening on {host}:{port} after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if it has not gone in 10 s (a broker persisting a big queue)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
