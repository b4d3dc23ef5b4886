"""Run the shipped Mosquitto config for real: localise it, make its files, start it.

The production config names container paths (/mosquitto/...) and fixed ports; a test may
change those and nothing else, so that what is tested is what ships.
"""

from __future__ import annotations

import contextlib
import io
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from lantai.broker import free_port, stop_process
from lantai.cli import main

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
MOSQUITTO_DIR = DEPLOY / "mosquitto"
CONTAINER_ROOT = "/mosquitto/"
MOSQUITTO_BIN = shutil.which("mosquitto") or "/usr/sbin/mosquitto"

_LISTENER = re.compile(r"^listener (\d+)$")
_ADDRESS = re.compile(r"^address \S+$")


def localize_conf(
    text: str, root: Path, ports: Mapping[int, int], address: str | None = None
) -> str:
    """The config with container paths under ``root``, listeners moved to loopback ports
    (``ports`` maps the shipped port to the test's), and a bridge ``address`` replaced."""

    def rewrite(line: str) -> str:
        listener = _LISTENER.match(line)
        if listener is not None:
            return f"listener {ports[int(listener.group(1))]} 127.0.0.1"
        if address is not None and _ADDRESS.match(line):
            return f"address {address}"
        if line.startswith("#"):
            return line
        return line.replace(CONTAINER_ROOT, f"{root}/")

    return "\n".join(rewrite(line) for line in text.splitlines()) + "\n"


@contextlib.contextmanager
def broker_root() -> Iterator[Path]:
    """A folder Mosquitto can read after it drops root to its own user (as it does in the
    container): pytest's tmp folders are private to root."""
    path = Path(tempfile.mkdtemp(prefix="lantai-mosquitto-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hand_to_mosquitto(root: Path) -> None:
    """chown the tree to the mosquitto user when we are root (the README's chown 1883)."""
    if os.geteuid() != 0:
        return
    user = pwd.getpwnam("mosquitto")
    for dirpath, _dirs, files in os.walk(root):
        os.chown(dirpath, user.pw_uid, user.pw_gid)
        for name in files:
            os.chown(Path(dirpath) / name, user.pw_uid, user.pw_gid)


def make_certificates(certs: Path, names: str = "server") -> None:
    """A throwaway CA (ca.crt) and a server certificate for 127.0.0.1 and localhost."""
    certs.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=certs, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=Lantai test CA")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{names}.key",
            "-out", f"{names}.csr", "-subj", "/CN=localhost")  # fmt: skip
    ext = certs / "san.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n", encoding="utf-8")
    openssl("x509", "-req", "-in", f"{names}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", f"{names}.crt",
            "-extfile", "san.ext")  # fmt: skip


def hash_passwords(plain: Path, passwd: Path) -> None:
    """The README's step: copy the credentials and let mosquitto_passwd hash them."""
    shutil.copyfile(plain, passwd)
    subprocess.run(["mosquitto_passwd", "-U", str(passwd)], check=True, capture_output=True)


def read_credentials(path: Path) -> dict[str, str]:
    pairs = (line.split(":", 1) for line in path.read_text(encoding="utf-8").splitlines())
    return dict(pairs)


@dataclass
class ConfiguredBroker:
    """``mosquitto -c <conf>`` as a child process, listening on ``ports``."""

    conf: Path
    ports: tuple[int, ...]
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def log(self) -> Path:
        return self.conf.with_suffix(".log")

    def start(self) -> ConfiguredBroker:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [MOSQUITTO_BIN, "-c", str(self.conf)], stdout=log, stderr=log
            )
        for port in self.ports:
            self._wait(port)
        return self

    def reload(self) -> None:
        """SIGHUP: Mosquitto rereads its password file and ACL (README: adding sensors)."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self._proc is not None:
            stop_process(self._proc)
        self._proc = None

    def _wait(self, port: int, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text(errors='replace')}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                return
            time.sleep(0.05)
        raise TimeoutError(f"mosquitto not listening on {port}: {self.log.read_text()}")


@dataclass
class Session:
    """A connected (or refused) paho client and what the broker told it."""

    client: mqtt.Client
    connack: ReasonCode | None
    messages: list[tuple[str, bytes]] = field(default_factory=list)
    pubacks: dict[int, ReasonCode] = field(default_factory=dict)
    subacks: list[list[ReasonCode]] = field(default_factory=list)
    _connected: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    port: int,
    username: str | None,
    password: str | None,
    *,
    client_id: str,
    ca: Path | None = None,
    tls: bool = False,
    v5: bool = True,
    clean: bool = True,
    timeout: float = 5,
) -> Session:
    """Connect, wait for the CONNACK and return the session (its connack may be a refusal)."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5 if v5 else MQTTProtocolVersion.MQTTv311,
        clean_session=None if v5 else clean,
    )
    session = Session(client, None)
    if username is not None:
        client.username_pw_set(username, password)
    if ca is not None or tls:
        # No CA given: the system's, which a throwaway test CA is not among.
        client.tls_set(ca_certs=None if ca is None else str(ca))

    def on_connect(_c: object, _u: object, _f: object, rc: ReasonCode, _p: object) -> None:
        session.connack = rc
        session._connected.set()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        with session._lock:
            session.messages.append((msg.topic, bytes(msg.payload)))

    def on_publish(_c: object, _u: object, mid: int, rc: ReasonCode, _p: object) -> None:
        session.pubacks[mid] = rc

    def on_subscribe(_c: object, _u: object, _m: int, rcs: list[ReasonCode], _p: object) -> None:
        session.subacks.append(rcs)

    client.on_connect = on_connect
    client.on_message = on_message
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    # No automatic reconnect for a refused login: one CONNACK is the answer under test.
    client.reconnect_delay_set(1, 2)
    if v5 and not clean:
        from paho.mqtt.packettypes import PacketTypes  # noqa: PLC0415
        from paho.mqtt.properties import Properties  # noqa: PLC0415

        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        client.connect("127.0.0.1", port, 30, clean_start=False, properties=props)
    else:
        client.connect("127.0.0.1", port, 30)
    client.loop_start()
    if not session._connected.wait(timeout):
        session.close()
        raise TimeoutError(f"no CONNACK from port {port} in {timeout}s")
    return session


@dataclass(frozen=True)
class Installed:
    """A shipped config installed under a root, as README "Production" tells an admin."""

    root: Path
    broker: ConfiguredBroker
    plain_port: int
    tls_port: int
    credentials: dict[str, str]

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def ca(self) -> Path:
        return self.config / "certs" / "ca.crt"


def install_mosquitto(
    root: Path, facility: Path, *, account_args: tuple[str, ...] = ()
) -> Installed:
    """The README's steps on a fresh root: certificates, accounts, passwd, ACL, config."""
    config = root / "config"
    (config / "conf.d").mkdir(parents=True)
    (root / "data").mkdir()
    make_certificates(config / "certs")
    credentials = write_accounts(root, facility, account_args)
    plain_port, tls_port = free_port(), free_port()
    shipped = (MOSQUITTO_DIR / "mosquitto.conf").read_text(encoding="utf-8")
    conf = config / "mosquitto.conf"
    conf.write_text(
        localize_conf(shipped, root, {1883: plain_port, 8883: tls_port}), encoding="utf-8"
    )
    return Installed(
        root,
        ConfiguredBroker(conf, (plain_port, tls_port)),
        plain_port,
        tls_port,
        credentials,
    )


def write_accounts(
    root: Path, facility: Path, account_args: tuple[str, ...], *, add_missing: bool = False
) -> dict[str, str]:
    """README step 3: credentials, the hashed password file and the ACL (again with
    ``add_missing``, as after adding sensors); returns every account's password."""
    plain = root / "mqtt-credentials.txt"
    common = ["--facility", str(facility), *account_args]
    more = ["--add-missing"] if add_missing else []
    assert main(["deploy", "mosquitto-accounts", *common, "--output", str(plain), *more]) == 0
    hash_passwords(plain, root / "config" / "passwd")
    acl = io.StringIO()
    with contextlib.redirect_stdout(acl):
        assert main(["deploy", "mosquitto-acl", *common]) == 0
    (root / "config" / "acl").write_text(acl.getvalue(), encoding="utf-8")
    return read_credentials(plain)
