"""Pure decoding: (topic, payload, receive time) → a reading, a presence update, a rejection,
or for a gateway's batch topic (``<prefix>/<site>/_batch``) the readings and rejections of
its elements (collectors/batch.py)."""

from __future__ import annotations

from datetime import datetime

from pydantic import ValidationError

from collectors.batch import BatchDecoder, DecodedBatch
from collectors.quarantine import (
    MAX_PAYLOAD_BYTES,
    Reason,
    Rejected,
    non_finite_detail,
    non_finite_extra,
    reject,
    unparseable_reason,
)
from collectors.topics import Topic, TopicKind, parse_topic
from sensors.facility import Facility
from sensors.payload import ReadingPayload
from sensors.reading import PresenceUpdate, Reading

Decoded = Reading | PresenceUpdate | Rejected | DecodedBatch

# pydantic error types → our reason codes; anything else is a wrong type.
_RANGE_ERRORS = frozenset(
    {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number"}
)
_SHAPE_ERRORS = {
    "json_invalid": Reason.NOT_JSON,
    "json_type": Reason.NOT_JSON,
    "recursion_loop": Reason.NOT_JSON,
    "model_type": Reason.NOT_AN_OBJECT,
    "dict_type": Reason.NOT_AN_OBJECT,
}


# Topics a site uses are few (one or two per sensor), so their verdicts are cached; the
# bound keeps a flood of random topics from growing the cache without limit.
TOPIC_CACHE_SIZE = 100_000


class Decoder:
    """Decodes messages against one facility and topic prefix."""

    def __init__(self, facility: Facility, topic_prefix: str = "archive") -> None:
        self._facility = facility
        self._prefix = topic_prefix
        self._topics: dict[str, Topic | tuple[Reason, str]] = {}
        self._batches = BatchDecoder(topic_prefix, self.route, explain)

    def _route(self, topic: str) -> Topic | tuple[Reason, str]:
        """The topic's parts if it names a registered sensor (or a site's batch), else why not."""
        parsed = parse_topic(self._prefix, topic)
        if parsed is None:
            return Reason.BAD_TOPIC, "topic breaks the contract"
        if parsed.kind is TopicKind.BATCH:
            if parsed.site not in self._facility.sites:
                return Reason.UNKNOWN_SENSOR, f"site {parsed.site!r} is not in the facility"
            return parsed
        sensor = self._facility.sensor(parsed.site, parsed.sensor)
        if sensor is None:
            detail = f"sensor {parsed.sensor!r} is not registered in site {parsed.site!r}"
            return Reason.UNKNOWN_SENSOR, detail
        if sensor.room != parsed.room:
            return Reason.WRONG_ROOM, f"sensor {sensor.id!r} is registered in room {sensor.room!r}"
        return parsed

    def route(self, topic: str) -> Topic | tuple[Reason, str]:
        """The cached verdict on a topic (batch elements are routed by theirs too)."""
        route = self._topics.get(topic)
        if route is None:
            route = self._route(topic)
            if len(self._topics) >= TOPIC_CACHE_SIZE:
                self._topics.clear()
            self._topics[topic] = route
        return route

    def decode(self, topic: str, payload: bytes, received_at: datetime) -> Decoded:
        # The cache lookup is inlined, not a call to route(): this runs once per message.
        route = self._topics.get(topic)
        if route is None:
            route = self.route(topic)
        if isinstance(route, tuple):
            return reject(received_at, topic, payload, route[0], route[1])
        parsed = route
        if parsed.kind is not TopicKind.READING:
            if parsed.kind is TopicKind.BATCH:
                return self._batches.decode(parsed.site, topic, payload, received_at)
            return self._presence(
                parsed.site, parsed.room, parsed.sensor, topic, payload, received_at
            )
        return self._reading(parsed, topic, payload, received_at)

    @staticmethod
    def _reading(
        parsed: Topic, topic: str, payload: bytes, received_at: datetime
    ) -> Reading | Rejected:
        if len(payload) > MAX_PAYLOAD_BYTES:
            return reject(received_at, topic, payload, Reason.TOO_LARGE, f"{len(payload)} bytes")
        try:
            values = ReadingPayload.model_validate_json(payload)
        except ValidationError as exc:
            reason, detail = explain(exc, payload)
            return reject(received_at, topic, payload, reason, detail)
        # Most messages carry no unknown keys: the walk is skipped for them.
        if values.__pydantic_extra__:
            bad = non_finite_extra(values.__pydantic_extra__)
            if bad is not None:
                detail = non_finite_detail(bad)
                return reject(received_at, topic, payload, Reason.OUT_OF_RANGE, detail)
        return Reading(
            site=parsed.site,
            room=parsed.room,
            sensor=parsed.sensor,
            ts=values.ts or received_at,
            received_at=received_at,
            payload=values,
            raw=payload,
        )

    @staticmethod
    def _presence(
        site: str, room: str, sensor: str, topic: str, payload: bytes, received_at: datetime
    ) -> PresenceUpdate | Rejected:
        text = payload.strip().lower()
        if text in (b"online", b"offline"):
            return PresenceUpdate(site, room, sensor, text == b"online", received_at)
        return reject(
            received_at, topic, payload, Reason.BAD_STATUS, "status must be online or offline"
        )


def explain(exc: ValidationError, payload: bytes) -> tuple[Reason, str]:
    """A payload's validation failure as a reason code and a short detail."""
    errors = exc.errors(include_url=False, include_input=False)
    kind = errors[0]["type"]
    if kind == "json_invalid" and unparseable_reason(payload) is Reason.NOT_UTF8:
        reason = Reason.NOT_UTF8
    elif errors[0]["loc"][:1] == ("ts",):
        reason = Reason.BAD_TIMESTAMP
    elif kind in _SHAPE_ERRORS:
        reason = _SHAPE_ERRORS[kind]
    elif kind in _RANGE_ERRORS:
        reason = Reason.OUT_OF_RANGE
    else:
        reason = Reason.WRONG_TYPE
    detail = "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}" for err in errors[:5]
    )
    return reason, detail
