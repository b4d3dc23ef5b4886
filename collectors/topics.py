"""The topic half of the wire contract: ``<prefix>/<site>/<room>/<sensor_id>[/status]``, and
a gateway's batches on ``<prefix>/<site>/_batch`` (collectors/batch.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BATCH_SEGMENT = "_batch"  # <prefix>/<site>/_batch: a gateway's JSON array of readings


class TopicKind(StrEnum):
    READING = "reading"
    STATUS = "status"
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class Topic:
    kind: TopicKind
    site: str
    room: str = ""
    sensor: str = ""


def reading_topic(prefix: str, site: str, room: str, sensor: str) -> str:
    return f"{prefix}/{site}/{room}/{sensor}"


def status_topic(prefix: str, site: str, room: str, sensor: str) -> str:
    return f"{prefix}/{site}/{room}/{sensor}/status"


def batch_topic(prefix: str, site: str) -> str:
    return f"{prefix}/{site}/{BATCH_SEGMENT}"


def subscription(prefix: str, share_group: str | None = None) -> str:
    """Everything under the prefix: topics that break the contract are quarantined, not ignored.

    With a share group the broker hands each message to one member of the group (MQTT 5
    shared subscriptions; Mosquitto 2 offers them on 3.1.1 too), so collectors scale out.
    """
    if share_group is not None:
        return f"$share/{share_group}/{prefix}/#"
    return f"{prefix}/#"


def parse_topic(prefix: str, topic: str) -> Topic | None:
    """Split a topic into its parts, or None when it does not follow the contract."""
    parts = topic.split("/")
    if not parts or parts[0] != prefix:
        return None
    if len(parts) == 3 and parts[2] == BATCH_SEGMENT and _ID.match(parts[1]):  # noqa: PLR2004
        return Topic(TopicKind.BATCH, parts[1])
    if len(parts) == 4:  # noqa: PLR2004
        kind = TopicKind.READING
    elif len(parts) == 5 and parts[4] == "status":  # noqa: PLR2004
        kind = TopicKind.STATUS
    else:
        return None
    site, room, sensor = parts[1], parts[2], parts[3]
    if _ID.match(site) and _ID.match(room) and _ID.match(sensor):
        return Topic(kind, site, room, sensor)
    return None
