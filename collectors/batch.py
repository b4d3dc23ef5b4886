"""A gateway's batch: a JSON array of contract objects on ``<prefix>/<site>/_batch``.

Each element is one sensor message plus its place, ``room`` and ``sensor``; the other keys
are the wire contract's payload (sensors/payload.py). Every element is judged on its own:
a good one becomes exactly the Reading its own message on
``<prefix>/<site>/<room>/<sensor>`` would have made (same key (site, sensor, ts), same
payload, ``room`` and ``sensor`` taken out), so a redelivered batch is stored once; a bad
one is quarantined with a reason whose detail starts ``batch[<index>]:`` and the element
itself as its payload. A batch that is not a JSON array, is empty or is over the limits
is quarantined whole. Presence is not batched: status topics stay one per message.

Speed: the array is parsed once by pydantic-core's JSON parser, each element is written
back without its place (``to_json``, in Rust) as the reading's ``raw`` record, and all the
elements are validated in one call of a list adapter; only a batch holding a bad element
is validated again element by element, to give each its own reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json, to_json

from collectors.quarantine import (
    MAX_PAYLOAD_BYTES,
    Reason,
    Rejected,
    non_finite_detail,
    non_finite_extra,
    reject,
    unparseable_reason,
)
from collectors.topics import Topic, TopicKind, reading_topic
from sensors.payload import ReadingPayload
from sensors.reading import Reading

# A batch is bounded like a message: a gateway with more to say sends more batches. The
# collector holds up to the broker's in-flight window of messages at once, so the byte
# bound is what keeps its memory bounded (README "Many archives").
MAX_BATCH_ELEMENTS = 1000
MAX_BATCH_BYTES = 256 * 1024

Route = Callable[[str], "Topic | tuple[Reason, str]"]
Explain = Callable[[ValidationError, bytes], "tuple[Reason, str]"]

# (index in the batch, the element without its place, room, sensor, that element as JSON)
_Placed = tuple[int, dict[str, object], str, str, bytes]

_PAYLOADS: TypeAdapter[list[ReadingPayload]] = TypeAdapter(list[ReadingPayload])


@dataclass(slots=True)
class DecodedBatch:
    """What one batch message yields: its good elements and its refused ones."""

    readings: list[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class BatchDecoder:
    """Decodes batch messages for one topic prefix, routing elements as their own topics."""

    def __init__(self, topic_prefix: str, route: Route, explain: Explain) -> None:
        self._prefix = topic_prefix
        self._route = route
        self._explain = explain

    def decode(
        self, site: str, topic: str, payload: bytes, received_at: datetime
    ) -> DecodedBatch | Rejected:
        """The batch's readings and rejections, or the whole batch refused."""
        if len(payload) > MAX_BATCH_BYTES:
            detail = f"batch of {len(payload)} bytes (at most {MAX_BATCH_BYTES})"
            return reject(received_at, topic, payload, Reason.TOO_LARGE, detail)
        try:
            items = from_json(payload)
        except ValueError as exc:
            reason = unparseable_reason(payload)
            return reject(received_at, topic, payload, reason, f"batch: {exc}")
        if not isinstance(items, list) or not items:
            what = "an empty array" if isinstance(items, list) else type(items).__name__
            detail = f"batch: a non-empty JSON array of reading objects is expected, not {what}"
            return reject(received_at, topic, payload, Reason.NOT_AN_OBJECT, detail)
        if len(items) > MAX_BATCH_ELEMENTS:
            detail = f"batch of {len(items)} elements (at most {MAX_BATCH_ELEMENTS})"
            return reject(received_at, topic, payload, Reason.TOO_LARGE, detail)
        out = DecodedBatch()
        # The elements whose place is known, in order.
        placed: list[_Placed] = []
        for index, item in enumerate(items):
            refused = self._place(site, index, item, placed)
            if refused is not None:
                reason, detail = refused
                element = to_json(item)
                out.rejected.append(
                    reject(received_at, topic, element, reason, f"batch[{index}]: {detail}")
                )
        if placed:
            self._validate(site, topic, placed, received_at, out)
        return out

    def _place(
        self, site: str, index: int, item: object, placed: list[_Placed]
    ) -> tuple[Reason, str] | None:
        """Append the element's place and raw payload to ``placed``, or say why not."""
        if not isinstance(item, dict):
            return Reason.NOT_AN_OBJECT, f"a JSON object is expected, not {type(item).__name__}"
        room, sensor = item.get("room"), item.get("sensor")
        if not (isinstance(room, str) and isinstance(sensor, str)):
            return Reason.BAD_TOPIC, "each element names its room and sensor as strings"
        route = self._route(reading_topic(self._prefix, site, room, sensor))
        if isinstance(route, tuple):
            return route
        if route.kind is not TopicKind.READING:  # e.g. a sensor id ending in "/status"
            return Reason.BAD_TOPIC, "room and sensor must be ids ([A-Za-z0-9_-]{1,64})"
        # The place leaves the element (put back only if it is refused): cheaper than a copy.
        del item["room"], item["sensor"]
        raw = to_json(item)
        if len(raw) > MAX_PAYLOAD_BYTES:
            whole = _placed(item, room, sensor)
            item.clear()
            item.update(whole)  # the caller keeps the element as it came
            return Reason.TOO_LARGE, f"{len(raw)} bytes"
        placed.append((index, item, room, sensor, raw))
        return None

    def _validate(
        self,
        site: str,
        topic: str,
        placed: list[_Placed],
        received_at: datetime,
        out: DecodedBatch,
    ) -> None:
        try:
            values = _PAYLOADS.validate_json(b"[" + b",".join(p[4] for p in placed) + b"]")
        except ValidationError:
            values = None  # some element is bad: judge each on its own below
        append = out.readings.append
        if values is not None:
            for (index, item, room, sensor, raw), value in zip(placed, values, strict=True):
                # Most elements carry no unknown keys: the walk is skipped for them.
                if value.__pydantic_extra__:
                    bad = non_finite_extra(value.__pydantic_extra__)
                    if bad is not None:
                        self._refuse(topic, index, item, room, sensor, received_at, out, bad)
                        continue
                append(
                    Reading(site, room, sensor, value.ts or received_at, received_at, value, raw)
                )
            return
        for index, item, room, sensor, raw in placed:
            try:
                value = ReadingPayload.model_validate_json(raw)
            except ValidationError as exc:
                reason, detail = self._explain(exc, raw)
                element = to_json(_placed(item, room, sensor))
                out.rejected.append(
                    reject(received_at, topic, element, reason, f"batch[{index}]: {detail}")
                )
            else:
                bad = non_finite_extra(value.__pydantic_extra__)
                if bad is not None:
                    self._refuse(topic, index, item, room, sensor, received_at, out, bad)
                    continue
                append(
                    Reading(site, room, sensor, value.ts or received_at, received_at, value, raw)
                )

    @staticmethod
    def _refuse(
        topic: str,
        index: int,
        item: dict[str, object],
        room: str,
        sensor: str,
        received_at: datetime,
        out: DecodedBatch,
        key: str,
    ) -> None:
        """Quarantine an element whose unknown key ``key`` holds NaN or Infinity."""
        element = to_json(_placed(item, room, sensor))
        detail = f"batch[{index}]: {non_finite_detail(key)}"
        out.rejected.append(reject(received_at, topic, element, Reason.OUT_OF_RANGE, detail))


def _placed(item: dict[str, object], room: str, sensor: str) -> dict[str, object]:
    """The element as it came, its place first, for the quarantine's record."""
    return {"room": room, "sensor": sensor, **item}
