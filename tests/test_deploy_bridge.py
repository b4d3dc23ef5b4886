"""The shipped edge bridge: an archive's broker forwards its site to the regional broker,
over TLS with a site-scoped account, and queues while the region is unreachable."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_SITE
from tests.deploy_helpers import (
    MOSQUITTO_DIR,
    Installed,
    broker_root,
    connect,
    hand_to_mosquitto,
    install_mosquitto,
    localize_conf,
)
from tests.mqtt_helpers import wait_for

pytestmark = pytest.mark.integration

TOPIC = "archive/yunxi/B2-01/b201-th1"
PLACEHOLDER_PASSWORD = "remote_password change-me"  # noqa: S105 - the shipped placeholder


def edge_bridge_conf(root: Path, region_tls_port: int, password: str) -> str:
    """bridge-edge.conf as an admin fills it in: the region's address and the password."""
    shipped = (MOSQUITTO_DIR / "bridge-edge.conf").read_text(encoding="utf-8")
    assert shipped.count(PLACEHOLDER_PASSWORD) == 1
    localized = localize_conf(shipped, root, {}, address=f"127.0.0.1:{region_tls_port}")
    return localized.replace(PLACEHOLDER_PASSWORD, f"remote_password {password}")


def test_filling_in_the_bridge_changes_only_address_password_and_paths(tmp_path: Path) -> None:
    shipped = (MOSQUITTO_DIR / "bridge-edge.conf").read_text(encoding="utf-8").splitlines()
    filled = edge_bridge_conf(tmp_path, 8884, "s3cret").splitlines()
    changed = [(a, b) for a, b in zip(shipped, filled, strict=True) if a != b]
    assert changed == [
        ("address region-mqtt.example.org:8883", "address 127.0.0.1:8884"),
        (
            "bridge_cafile /mosquitto/config/certs/region-ca.crt",
            f"bridge_cafile {tmp_path}/config/certs/region-ca.crt",
        ),
        ("remote_password change-me", "remote_password s3cret"),
    ]
    lines = set(shipped)
    # What the queueing rests on is stated in the shipped file.
    assert {"topic archive/yunxi/# out 1", "cleansession false", "bridge_insecure false"} <= lines


@dataclass
class Region:
    region: Installed
    edge: Installed


@pytest.fixture
def region() -> Iterator[Region]:
    with broker_root() as region_root, broker_root() as edge_root:
        region = install_mosquitto(
            region_root, EXAMPLE_SITE, account_args=("--bridge", "bridge-yunxi=yunxi")
        )
        edge = install_mosquitto(edge_root, EXAMPLE_SITE)
        shutil.copyfile(region.ca, edge.config / "certs" / "region-ca.crt")
        (edge.config / "conf.d" / "bridge.conf").write_text(
            edge_bridge_conf(edge_root, region.tls_port, region.credentials["bridge-yunxi"]),
            encoding="utf-8",
        )
        hand_to_mosquitto(region_root)
        hand_to_mosquitto(edge_root)
        region.broker.start()
        edge.broker.start()
        try:
            yield Region(region, edge)
        finally:
            edge.broker.stop()
            region.broker.stop()


def test_the_edge_forwards_and_queues_while_the_region_is_down(region: Region) -> None:
    central, edge = region.region, region.edge
    # The regional collector: a persistent session, so the region queues for it too.
    collector = connect(
        central.plain_port,
        "lantai",
        central.credentials["lantai"],
        client_id="region-collector",
        v5=False,
        clean=False,
    )
    device = connect(
        edge.tls_port, "b201-th1", edge.credentials["b201-th1"], client_id="dev", ca=edge.ca
    )
    try:
        collector.client.subscribe("archive/#", qos=1)
        wait_for(lambda: bool(collector.subacks), 5, "the collector's SUBACK")
        # The bridge connects in the background: probe until one reading comes through.
        deadline = time.monotonic() + 15
        while not collector.messages:
            assert time.monotonic() < deadline, "the bridge never forwarded a probe"
            device.client.publish(TOPIC, b"probe", qos=1)
            time.sleep(0.2)
        first = device.client.publish(TOPIC, b"1", qos=1)
        wait_for(lambda: (TOPIC, b"1") in collector.messages, 5, "the first reading")
        # One connection's messages keep their order, so every probe arrived before "1".
        start = collector.messages.index((TOPIC, b"1"))

        central.broker.stop()  # the WAN (or the region) goes down
        for n in range(2, 7):
            device.client.publish(TOPIC, str(n).encode(), qos=1)
        # The edge took them (PUBACK) with nowhere to send them.
        last = first.mid + 5
        wait_for(lambda: last in device.pubacks, 5, "the edge's PUBACKs")
        assert all(device.pubacks[mid].value == 0 for mid in range(first.mid, last + 1))

        central.broker.start()
        wait_for(lambda: len(collector.messages) >= start + 6, 20, "the queued readings")
        assert collector.messages[start:] == [(TOPIC, str(n).encode()) for n in range(1, 7)]
    finally:
        device.close()
        collector.close()
