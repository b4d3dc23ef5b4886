"""The shipped deploy/mosquitto/mosquitto.conf, run for real with generated accounts and ACL."""

from __future__ import annotations

import os
import shlex
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import EXAMPLE_SITE, ROOT
from tests.deploy_helpers import (
    CONTAINER_ROOT,
    MOSQUITTO_DIR,
    Installed,
    Session,
    broker_root,
    connect,
    hand_to_mosquitto,
    install_mosquitto,
    localize_conf,
    write_accounts,
)
from tests.mqtt_helpers import wait_for

pytestmark = pytest.mark.integration

NOT_AUTHORISED = 0x87  # MQTT 5 reason code; 3.1.1's CONNACK 5 maps to the same in paho
OWN_TOPIC = "archive/yunxi/B2-01/b201-th1"
OTHER_TOPIC = "archive/yunxi/B2-01/b201-th2"


def test_localizing_changes_only_listeners_and_container_paths(tmp_path: Path) -> None:
    shipped = (MOSQUITTO_DIR / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
    local = localize_conf("\n".join(shipped), tmp_path, {1883: 1, 8883: 2}).splitlines()
    assert len(local) == len(shipped)
    changed = {old: new for old, new in zip(shipped, local, strict=True) if old != new}
    assert changed.pop("listener 1883") == "listener 1 127.0.0.1"
    assert changed.pop("listener 8883") == "listener 2 127.0.0.1"
    for old, new in changed.items():
        assert not old.startswith("#")
        assert new == old.replace(CONTAINER_ROOT, f"{tmp_path}/")
    # Every container path outside comments was moved, and nothing else was touched.
    assert not [line for line in local if CONTAINER_ROOT in line and not line.startswith("#")]
    assert {line.split()[0] for line in changed} == {
        "password_file",
        "acl_file",
        "certfile",
        "keyfile",
        "cafile",
        "persistence_location",
        "include_dir",
    }


def test_the_production_config_states_its_security() -> None:
    """What the hardening rests on is in the file itself, not in Mosquitto's defaults."""
    lines = {
        line.strip()
        for line in (MOSQUITTO_DIR / "mosquitto.conf").read_text(encoding="utf-8").splitlines()
    }
    assert {
        "per_listener_settings false",
        "allow_anonymous false",
        "password_file /mosquitto/config/passwd",
        "acl_file /mosquitto/config/acl",
        "persistence true",
        "require_certificate false",
    } <= lines


@pytest.fixture(scope="module")
def hardened() -> Iterator[Installed]:
    with broker_root() as root:
        installed = install_mosquitto(
            root,
            EXAMPLE_SITE,
            account_args=("--gateway", "gw-yunxi=yunxi", "--bridge", "bridge-yunxi=yunxi"),
        )
        hand_to_mosquitto(root)
        installed.broker.start()
        try:
            yield installed
        finally:
            installed.broker.stop()


@pytest.fixture
def collector(hardened: Installed, unique_id: str) -> Iterator[Session]:
    session = connect(
        hardened.plain_port, "lantai", hardened.credentials["lantai"], client_id=f"c-{unique_id}"
    )
    assert session.connack == 0
    session.client.subscribe("archive/#", qos=1)
    wait_for(lambda: bool(session.subacks), 5, "the collector's SUBACK")
    assert session.subacks[0][0].value == 1  # granted QoS 1
    yield session
    session.close()


def _device(hardened: Installed, user: str, client_id: str) -> Session:
    session = connect(
        hardened.tls_port, user, hardened.credentials[user], client_id=client_id, ca=hardened.ca
    )
    assert session.connack == 0, session.connack
    return session


def _publish(session: Session, topic: str, payload: bytes) -> ReasonCode:
    info = session.client.publish(topic, payload, qos=1)
    wait_for(lambda: info.mid in session.pubacks, 5, f"PUBACK for {topic}")
    return session.pubacks[info.mid]


@pytest.mark.parametrize("v5", [True, False], ids=["mqtt5", "mqtt311"])
@pytest.mark.parametrize(("user", "password"), [(None, None), ("lantai", "wrong"), ("nobody", "x")])
def test_anonymous_and_wrong_passwords_are_refused(
    hardened: Installed, user: str | None, password: str | None, v5: bool, unique_id: str
) -> None:
    session = connect(hardened.plain_port, user, password, client_id=unique_id, v5=v5)
    session.close()
    assert session.connack is not None
    assert session.connack.value == NOT_AUTHORISED, session.connack


def test_a_device_reaches_the_collector_on_its_own_topic_only(
    hardened: Installed, collector: Session, unique_id: str
) -> None:
    device = _device(hardened, "b201-th1", f"d-{unique_id}")
    try:
        denied = _publish(device, OTHER_TOPIC, b'{"forged": true}')
        allowed = _publish(device, OWN_TOPIC, b'{"temperature": 20}')
        status = _publish(device, f"{OWN_TOPIC}/status", b'{"online": true}')
    finally:
        device.close()
    assert denied.value == NOT_AUTHORISED
    assert allowed.value == 0
    assert status.value == 0
    # One connection's messages are routed in order: once the later, allowed ones have
    # arrived, the refused one would have arrived before them.
    wait_for(lambda: len(collector.messages) >= 2, 5, "the device's readings")
    assert collector.messages == [
        (OWN_TOPIC, b'{"temperature": 20}'),
        (f"{OWN_TOPIC}/status", b'{"online": true}'),
    ]


def test_the_collector_cannot_publish(hardened: Installed, collector: Session) -> None:
    refused = _publish(collector, OWN_TOPIC, b'{"temperature": 99}')
    assert refused.value == NOT_AUTHORISED
    probe = _device(hardened, "b201-th1", "probe-after-collector")
    try:
        assert _publish(probe, OWN_TOPIC, b"probe").value == 0
    finally:
        probe.close()
    wait_for(lambda: bool(collector.messages), 5, "the probe")
    assert collector.messages == [(OWN_TOPIC, b"probe")]


def test_a_gateway_publishes_its_sites_batches_only(
    hardened: Installed, collector: Session, unique_id: str
) -> None:
    gateway = _device(hardened, "gw-yunxi", f"g-{unique_id}")
    try:
        assert _publish(gateway, OWN_TOPIC, b"{}").value == NOT_AUTHORISED
        assert _publish(gateway, "archive/yunxi/_batch", b"[]").value == 0
    finally:
        gateway.close()
    wait_for(lambda: bool(collector.messages), 5, "the batch")
    assert collector.messages == [("archive/yunxi/_batch", b"[]")]


def test_a_bridge_account_writes_its_own_site_only(hardened: Installed, unique_id: str) -> None:
    """On a regional broker: one archive's bridge cannot write another archive's topics."""
    bridge = _device(hardened, "bridge-yunxi", f"b-{unique_id}")
    try:
        # No subscriber here: MQTT 5 says so (0x10), still a success.
        assert not _publish(bridge, "archive/yunxi/B2-01/b201-th1", b"{}").is_failure
        assert not _publish(bridge, "archive/yunxi/_batch", b"[]").is_failure
        assert _publish(bridge, "archive/other-site/R1/s1", b"{}").value == NOT_AUTHORISED
    finally:
        bridge.close()


def test_collectors_may_share_a_subscription(hardened: Installed, unique_id: str) -> None:
    """Horizontal collectors use `$share/<group>/archive/#`; the ACL's read grant covers it."""
    shared = connect(
        hardened.plain_port, "lantai", hardened.credentials["lantai"], client_id=f"s-{unique_id}"
    )
    try:
        shared.client.subscribe("$share/collectors/archive/#", qos=1)
        wait_for(lambda: bool(shared.subacks), 5, "SUBACK")
        assert shared.subacks[0][0].value == 1
        device = _device(hardened, "b202-door", f"d-{unique_id}")
        try:
            assert _publish(device, "archive/yunxi/B2-02/b202-door", b"{}").value == 0
        finally:
            device.close()
        wait_for(lambda: bool(shared.messages), 5, "the shared delivery")
        assert shared.messages == [("archive/yunxi/B2-02/b202-door", b"{}")]
    finally:
        shared.close()


def test_tls_needs_the_ca_and_the_tls_port_speaks_no_plain_mqtt(hardened: Installed) -> None:
    with_ca = connect(
        hardened.tls_port, "lantai", hardened.credentials["lantai"], client_id="tls", ca=hardened.ca
    )
    with_ca.close()
    assert with_ca.connack == 0
    # A plain MQTT CONNECT (3.1.1, clean session, no credentials) on the TLS port: the
    # broker reads it as a broken TLS handshake and closes the socket without a CONNACK.
    connect_packet = bytes.fromhex("100c00044d5154540402003c0000")
    with socket.create_connection(("127.0.0.1", hardened.tls_port), timeout=5) as sock:
        sock.sendall(connect_packet)
        try:
            answer = sock.recv(64)
        except ConnectionResetError:
            answer = b""  # closed hard instead of with a FIN: no CONNACK either way
    assert answer == b""
    # With the system's CAs instead of ours, a client refuses the broker's certificate.
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(hardened.tls_port, "lantai", "x", client_id="no-ca", tls=True)


def test_the_compose_health_check_passes_against_the_shipped_config(hardened: Installed) -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    kind, command = compose["services"]["mosquitto"]["healthcheck"]["test"]
    assert kind == "CMD-SHELL"
    # Compose turns `$$` into `$`; the shell then expands the password from the environment.
    script = command.replace("$$", "$").replace("-p 1883", f"-p {hardened.plain_port}")
    env = {"PATH": os.environ["PATH"], "MOSQUITTO_HEALTHCHECK_PASSWORD": "wrong"}
    assert subprocess.run(["sh", "-c", script], env=env, check=False).returncode != 0
    env["MOSQUITTO_HEALTHCHECK_PASSWORD"] = hardened.credentials["healthcheck"]
    done = subprocess.run(["sh", "-c", script], env=env, check=False, capture_output=True)
    assert done.returncode == 0, (shlex.quote(script), done.stderr)


def test_added_accounts_work_after_a_reload_and_old_passwords_stay() -> None:
    """README: new sensors → mosquitto-accounts --add-missing, -U, new ACL, SIGHUP."""
    with broker_root() as root:
        installed = install_mosquitto(root, EXAMPLE_SITE)
        hand_to_mosquitto(root)
        installed.broker.start()
        try:
            refused = connect(installed.plain_port, "gw-new", "x", client_id="gw-before")
            refused.close()
            assert refused.connack is not None
            assert refused.connack.value == NOT_AUTHORISED
            args = ("--gateway", "gw-new=yunxi")
            credentials = write_accounts(root, EXAMPLE_SITE, args, add_missing=True)
            assert credentials.items() >= installed.credentials.items()
            hand_to_mosquitto(root)
            installed.broker.reload()

            def gateway_logs_in() -> bool:
                session = connect(
                    installed.plain_port, "gw-new", credentials["gw-new"], client_id="gw-after"
                )
                accepted = session.connack == 0
                if accepted:
                    batch = _publish(session, "archive/yunxi/_batch", b"[]")
                    assert not batch.is_failure, batch
                session.close()
                return accepted

            wait_for(gateway_logs_in, 10, "the reloaded password file")
            device = _device(installed, "b201-th1", "old-password")
            device.close()
        finally:
            installed.broker.stop()
