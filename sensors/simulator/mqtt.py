"""paho-mqtt plumbing for the simulator: client construction and a bounded in-flight window.

Why a window: paho numbers QoS 1 messages with a 16-bit id, so with more than 65,535
unacknowledged messages ``publish()`` returns MQTT_ERR_QUEUE_SIZE and the message is
lost unless the caller checks. An MQTT 5 broker also states a Receive Maximum that a
client must not exceed (MQTT 5.0 §4.9, flow control). So the simulator counts what it
has sent but not yet had acknowledged, and waits at the limit instead of piling on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

PROTOCOLS: Mapping[str, MQTTProtocolVersion] = {
    "3.1.1": MQTTProtocolVersion.MQTTv311,
    "5": MQTTProtocolVersion.MQTTv5,
}
# Enough to keep a local broker's pipe full, small enough to stay far from 65,535.
DEFAULT_MAX_INFLIGHT = 1_000


def make_client(client_id: str, protocol: str) -> mqtt.Client:
    """A paho client with the version 2 callback API for ``protocol`` "3.1.1" or "5"."""
    version = PROTOCOLS.get(protocol)
    if version is None:
        raise ValueError(
            f"unknown MQTT protocol {protocol!r} (choose from: {', '.join(PROTOCOLS)})"
        )
    return mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)


def unique_client_id(prefix: str) -> str:
    """A client id that no other running process will pick: the broker drops duplicates."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class InflightWindow:
    """Counts QoS 1 messages sent but not acknowledged, and makes senders wait at the limit."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        self._limit = limit
        self._count = 0
        self._changed = threading.Condition()

    @property
    def in_flight(self) -> int:
        with self._changed:
            return self._count

    @property
    def limit(self) -> int:
        with self._changed:
            return self._limit

    def set_limit(self, limit: int) -> None:
        """Change the limit, e.g. to the broker's Receive Maximum after CONNACK."""
        if limit < 1:
            raise ValueError("the in-flight limit must be at least 1")
        with self._changed:
            self._limit = limit
            self._changed.notify_all()

    def acquire(self, timeout: float) -> bool:
        """Take a slot; False if none freed up within ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._count < self._limit, timeout):
                return False
            self._count += 1
            return True

    def release(self) -> None:
        """Give a slot back: the broker acknowledged the message, or it was never queued."""
        with self._changed:
            # A PUBACK for a message sent by an earlier run of paho's session would take
            # the count below zero; ignore it rather than widen the window.
            self._count = max(0, self._count - 1)
            self._changed.notify_all()

    def wait_empty(self, timeout: float) -> bool:
        """Wait until every message sent has been acknowledged."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)
