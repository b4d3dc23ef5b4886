"""Injecting a scenario from another process: the control topic and its message.

The topic sits outside the ``archive/`` prefix on purpose, so a collector subscribed to
``archive/#`` never sees (or quarantines) control traffic.
"""

from __future__ import annotations

import json
import threading

from paho.mqtt.client import Client, ConnectFlags
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field

from sensors.simulator.mqtt import make_client, unique_client_id
from sensors.simulator.scenarios import SCENARIOS

CONTROL_TOPIC = "lantai-sim/inject"


class Injection(BaseModel):
    """A control message: ``{"scenario": "fire", "target": "B2-03"}``."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    scenario: str = Field(min_length=1, max_length=64)
    target: str | None = Field(default=None, min_length=1, max_length=200)


def parse_injection(payload: bytes) -> Injection:
    """The control message in ``payload``; pydantic's ValidationError (a ValueError) if bad."""
    return Injection.model_validate_json(payload)


def encode_injection(scenario: str, target: str | None) -> bytes:
    """The control message for ``scenario``; ValueError for a name no simulator knows."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r} (choose from: {', '.join(SCENARIOS)})")
    return json.dumps(Injection(scenario=scenario, target=target).model_dump()).encode()


def send_injection(
    host: str,
    port: int,
    scenario: str,
    target: str | None,
    *,
    topic: str = CONTROL_TOPIC,
    protocol: str = "3.1.1",
    timeout: float = 10.0,
) -> None:
    """Publish one injection (QoS 1) and return once the broker has acknowledged it."""
    payload = encode_injection(scenario, target)
    client = make_client(unique_client_id("lantai-inject"), protocol)
    connected = threading.Event()
    refused: list[ReasonCode] = []

    def on_connect(
        _client: Client,
        _userdata: object,
        _flags: ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            refused.append(reason_code)
        connected.set()

    client.on_connect = on_connect
    client.connect(host, port, keepalive=30)  # OSError if nothing listens there
    client.loop_start()
    try:
        if not connected.wait(timeout):
            raise TimeoutError(f"no CONNACK from {host}:{port} within {timeout}s")
        if refused:
            raise ConnectionError(f"the broker at {host}:{port} refused us: {refused[0]}")
        info = client.publish(topic, payload, qos=1)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"publishing the injection failed: rc={info.rc}")
        info.wait_for_publish(timeout)
        if not info.is_published():
            raise TimeoutError(f"the broker did not acknowledge the injection within {timeout}s")
    finally:
        client.disconnect()
        client.loop_stop()
