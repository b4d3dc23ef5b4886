"""The MQTT side of the collector: a narrow seam around paho-mqtt 2.x.

QoS 1 with a persistent session (clean session off on 3.1.1; clean start off with a
session expiry on 5), so the broker queues what arrives while the collector is away.
Messages are acknowledged by hand, and only after the ingest worker has written them.
paho reconnects with backoff by itself (``connect_async`` + ``loop_start``), and the
subscription is renewed on every connect.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from collectors.topics import subscription

log = logging.getLogger(__name__)

# Unsubscribed from at stop, to learn that the broker has read every PUBACK before it
# (PahoSource._settle_acks). Never subscribed to: the unsubscribe changes nothing.
ACK_BARRIER_FILTER = "lantai/_ack-barrier"
ACK_BARRIER_WAIT_S = 5.0


class MqttProtocol(StrEnum):
    """MQTT 3.1.1 drains ~3x faster in paho than 5 (no properties object per message)."""

    V311 = "3.1.1"
    V5 = "5"


class MqttSettings(BaseModel):
    """How the collector reaches the broker."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    protocol: MqttProtocol = MqttProtocol.V311
    # Stable, so the broker keeps this collector's session and queue across restarts.
    client_id: str = Field(default="lantai-collector", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    username: str | None = None
    password: SecretStr | None = None
    topic_prefix: str = Field(default="archive", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Collectors that share the stream: each message goes to one member of the group
    # ($share/<group>/<prefix>/#). Only for collect-only processes (`lantai collect`): the
    # rules keep state per sensor and must see all of a sensor's readings (README "Many
    # archives"). Every member needs its own client_id.
    share_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    # MQTT 5: how long the broker keeps the session (and queues for it) while we are away.
    session_expiry_s: int = Field(default=7 * 86400, ge=0)
    reconnect_min_s: int = Field(default=1, ge=1)
    reconnect_max_s: int = Field(default=30, ge=1)


# (mid, qos, session): session counts connections, and acks for an older one are void.
AckToken = tuple[int, int, int]
# (topic, payload, ack token). Plain tuples: one is built per message on paho's thread,
# which is the ceiling of the whole pipeline, and a tuple costs a fifth of a dataclass.
Delivery = tuple[str, bytes, AckToken]


class MessageSource(Protocol):
    """Where deliveries come from; the ingest worker acknowledges them through it."""

    def start(self, on_delivery: Callable[[Delivery], None]) -> None: ...

    def stop(self) -> None: ...

    def ack(self, tokens: Sequence[AckToken]) -> None:
        """Acknowledge, in delivery order (MQTT requires PUBACKs in receive order)."""
        ...

    @property
    def connected(self) -> bool: ...


class PahoSource:
    """A MessageSource over paho-mqtt, with manual acknowledgement."""

    def __init__(self, settings: MqttSettings) -> None:
        self._settings = settings
        self._session = 0
        self._connected = threading.Event()
        self._subscribed = threading.Event()
        self._client: mqtt.Client | None = None
        self._on_delivery: Callable[[Delivery], None] | None = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def session(self) -> int:
        """Counts connections; tests and health checks use it to see reconnects."""
        return self._session

    def start(self, on_delivery: Callable[[Delivery], None]) -> None:
        s = self._settings
        v5 = s.protocol is MqttProtocol.V5
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id,
            protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
            clean_session=None if v5 else False,
            manual_ack=True,
        )
        if s.username is not None:
            client.username_pw_set(
                s.username, s.password.get_secret_value() if s.password else None
            )
        client.reconnect_delay_set(s.reconnect_min_s, s.reconnect_max_s)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        self._on_delivery = on_delivery
        self._client = client
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = s.session_expiry_s
            client.connect_async(s.host, s.port, s.keepalive_s, clean_start=False, properties=props)
        else:
            client.connect_async(s.host, s.port, s.keepalive_s)
        client.loop_start()

    def stop(self) -> None:
        client = self._client
        if client is not None:
            if self._connected.is_set():
                self._settle_acks(client)
            client.disconnect()
            client.loop_stop()
            self._client = None
        self._connected.clear()
        self._subscribed.clear()

    def _settle_acks(self, client: mqtt.Client) -> None:
        """Return once the broker has processed every PUBACK sent so far.

        A broker handles a connection's packets in order, but a client that connects with
        the same id (a restart) takes the session over at once, and PUBACKs still unread on
        the old connection are lost: the broker sends those messages again. So before
        disconnecting, ask for an answer that must come after them: an UNSUBSCRIBE of a
        filter this client never subscribed to (it changes nothing, and no ACL governs it).
        """
        answered = threading.Event()
        client.on_unsubscribe = lambda *_: answered.set()
        result, _mid = client.unsubscribe(ACK_BARRIER_FILTER)
        if result == mqtt.MQTT_ERR_SUCCESS and not answered.wait(ACK_BARRIER_WAIT_S):
            log.warning("the broker did not confirm the last acknowledgements before stop")

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_subscribed(self, timeout: float) -> bool:
        """The broker granted the subscription on the current connection."""
        return self._subscribed.wait(timeout)

    def ack(self, tokens: Sequence[AckToken]) -> None:
        client = self._client
        if client is None:
            return
        current = self._session
        # paho wakes its network thread by writing a byte to a socket pair on every
        # queued packet; from our thread each such send releases the GIL and may wait a
        # switch interval to get it back. With the wake-up pipe set aside, a batch's
        # PUBACKs are queued in one go and the loop is woken once.
        wake = getattr(client, "_sockpairW", None)
        if wake is not None:
            client._sockpairW = None  # noqa: SLF001 - see above; restored below
        try:
            for mid, qos, session in tokens:
                # After a reconnect the broker resends what was unacknowledged; an id
                # from an older connection could name a different message: skip it.
                if qos and session == current:
                    client.ack(mid, qos)
        finally:
            if wake is not None:
                client._sockpairW = wake  # noqa: SLF001
                with contextlib.suppress(BlockingIOError):
                    wake.send(b"0")

    # -- paho callbacks (paho's network thread) ---------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        if reason.is_failure:
            log.warning("MQTT connection refused: %s", reason)
            return
        self._session += 1
        client.subscribe(
            subscription(self._settings.topic_prefix, self._settings.share_group), qos=1
        )
        self._connected.set()
        log.info("MQTT connected to %s:%s", self._settings.host, self._settings.port)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: ReasonCode,
        _props: object,
    ) -> None:
        self._connected.clear()
        self._subscribed.clear()
        log.warning("MQTT disconnected: %s (paho reconnects with backoff)", reason)

    def _on_subscribe(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _mid: int,
        reasons: list[ReasonCode],
        _props: object,
    ) -> None:
        refused = [r for r in reasons if r.is_failure]
        if refused:
            # Typically the broker's ACL: the account may not read this topic filter.
            log.error("MQTT subscription refused: %s", ", ".join(map(str, refused)))
            return
        self._subscribed.set()

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        # Kept minimal: paho's thread is the ceiling of the whole pipeline.
        callback = self._on_delivery
        if callback is None:
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:
            # The broker should refuse such topics; if one slips through, quarantine it.
            topic = message._topic.decode("utf-8", errors="replace")  # noqa: SLF001
        payload: bytes = message.payload  # type: ignore[assignment] # paho hands bytes to callbacks
        callback((topic, payload, (message.mid, message.qos, self._session)))
