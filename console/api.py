"""The JSON endpoints under /api, as a router bound to one console context.

Every route checks its caller (console/desk_access.py): reading needs ``read``, each
action its own permission, and every site in a path, a query or a list is checked
against the caller's grants. Two kinds of route need no login: Twilio's webhooks (they
carry Twilio's signature instead) and the health check, which tells a stranger (a load
balancer) only ok or degraded, and a reader the status of every part.

A console built without accounts (``ctx.auth`` None) serves those two only: without a
way to tell who is asking, it shows nobody the archive.

Reads are plain ``def`` endpoints: the stores answer with blocking SQLite calls, which
FastAPI runs in its thread pool, off the event loop that carries the alarm stream.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from alerts.models import ACTIVE_STATES, OPEN_STATES, Alarm, AlarmState
from collectors.quarantine import Reason
from collectors.sqlite_store import QUARANTINE_KEEP_ROWS, QuarantinedMessage
from console.alarm_actions import add_alarm_action_routes
from console.auth import AUTH_ERRORS, Gate, Permission, Principal
from console.context import ConsoleContext
from console.demo_actions import add_demo_route
from console.desk_access import DeskAccess
from console.preservation import add_preservation_route
from console.room_history import add_room_history_route
from console.rooms import site_rooms
from console.schemas import (
    AlarmChangeOut,
    AlarmOut,
    ErrorOut,
    FloorOut,
    HealthOut,
    LocalText,
    QuarantinedOut,
    QuarantineOut,
    RoomOut,
    SiteOut,
)
from console.sensor_health import add_sensor_health_route
from console.sop_api import add_sop_routes
from console.stream import (
    STREAM_PATH,
    EventStreamResponse,
    SiteFilter,
    alarm_stream_response,
)
from console.twilio_hooks import add_twilio_routes

_READ_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_ERRORS, 404: {"model": ErrorOut}}

log = logging.getLogger(__name__)


class AlarmFilter(StrEnum):
    """Which alarms to list: open (the desk's list: active, or cleared but never
    acknowledged), active (the condition is present), or all (with closed history)."""

    OPEN = "open"
    ACTIVE = "active"
    ALL = "all"


_FILTER_STATES = {AlarmFilter.OPEN: OPEN_STATES, AlarmFilter.ACTIVE: ACTIVE_STATES}
_UNACKED = frozenset({AlarmState.UNACKED, AlarmState.RTN_UNACKED})


def health_status(components: Mapping[str, object]) -> str:
    """``degraded`` when MQTT is down or any problem is reported, else ``ok``."""
    if components.get("mqtt_connected") is False:
        return "degraded"
    problems = components.get("problems")
    if isinstance(problems, Mapping):
        return "degraded" if any(problems.values()) else "ok"
    return "degraded" if problems else "ok"


def desk_order(alarm: Alarm) -> tuple[int, int, int, float]:
    """The alarm store's order for the desk's list (open, unacknowledged, most severe,
    newest first), to merge the lists of several sites."""
    return (
        0 if alarm.state.open else 1,
        0 if alarm.state in _UNACKED else 1,
        alarm.severity.rank,
        -alarm.raised_at.timestamp(),
    )


def build_router(ctx: ConsoleContext, gate: Gate | None = None) -> APIRouter:
    """The /api routes reading from ``ctx``, behind ``gate`` (default: one on ``ctx.auth``)."""
    router = APIRouter(prefix="/api")
    auth = ctx.auth
    access = None if auth is None else DeskAccess(ctx, gate or Gate(auth))
    _add_health_route(router, ctx, access)
    add_twilio_routes(router, ctx)
    if access is None:
        return router
    _add_status_routes(router, ctx, access)
    _add_alarm_routes(router, ctx, access)
    add_alarm_action_routes(router, ctx, access)
    _add_quarantine_route(router, ctx, access)
    add_preservation_route(router, ctx, access)
    add_room_history_route(router, ctx, access)
    add_sensor_health_route(router, ctx, access)
    add_sop_routes(router, ctx, access)
    add_demo_route(router, ctx, access)
    return router


def _add_health_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess | None) -> None:
    @router.get("/health")
    def health(request: Request) -> HealthOut:
        """Whether the monitoring chain works. Open to all (load balancers); the status
        of each part, with its counters, only to a caller who may read."""
        try:
            components = dict(ctx.health())
        except Exception as exc:
            # The page names the kind of failure only; the text (which may carry a URL or
            # a credential from a driver's message) goes to the log, for the administrator.
            log.exception("the health check itself failed")
            components = {"problems": [f"health check failed: {type(exc).__name__}"]}
        status = health_status(components)
        who = None if access is None else access.reauthorise(request)()
        shown = components if who is not None and who.can(Permission.READ) else {}
        return HealthOut(status=status, time=ctx.clock.now(), components=shown)


def _add_status_routes(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/sites", responses=AUTH_ERRORS)
    def sites(who: Principal = access.reader) -> list[SiteOut]:
        """The caller's sites, their names, time zones and floors."""
        return [
            SiteOut(
                id=site.id,
                name=LocalText(zh=site.name.zh, en=site.name.en),
                timezone=site.timezone.key,
                floors=[
                    FloorOut(building=b, id=f, name=LocalText(zh=n.zh, en=n.en))
                    for b, f, n in site.floors
                ],
            )
            for site in ctx.facility.sites.values()
            if who.sees(site.id)
        ]

    @router.get("/rooms", responses=_READ_ERRORS)
    def rooms(site: str | None = None, who: Principal = access.reader) -> list[RoomOut]:
        """Every room's status, of one site or of every site granted to the caller."""
        return [room for s in access.sites(who, site) for room in site_rooms(ctx, s)]

    @router.get("/rooms/{site}/{room}", responses=_READ_ERRORS)
    def room(site: str, room: str, who: Principal = access.reader) -> RoomOut:
        """One room's status."""
        access.room(who, site, room)
        return site_rooms(ctx, site, room)[0]


def _add_alarm_routes(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/alarms", responses=_READ_ERRORS)
    def alarms(
        state: AlarmFilter = AlarmFilter.OPEN,
        site: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        who: Principal = access.reader,
    ) -> list[AlarmOut]:
        """Alarms of the caller's sites (or of ``site``), most urgent first: open before
        closed, unacknowledged before acknowledged, then by severity and time."""
        states = _FILTER_STATES.get(state)
        if site is None and who.all_sites:
            found = ctx.alarms.list(states=states, limit=limit)
        else:
            merged = [
                alarm
                for chosen in access.sites(who, site)
                for alarm in ctx.alarms.list(states=states, site=chosen, limit=limit)
            ]
            found = sorted(merged, key=desk_order)[:limit]
        return [AlarmOut.model_validate(alarm) for alarm in found]

    # Declared before /alarms/{alarm_id}, which would otherwise claim "stream".
    @router.get(
        STREAM_PATH.removeprefix("/api"),
        response_class=EventStreamResponse,
        responses={
            200: {
                # Puts the events' schema among the components; see describe_stream.
                "model": AlarmChangeOut,
                "description": (
                    "Server-sent events: `event: alarm` with an AlarmChangeOut as JSON data "
                    "(the caller's sites only), and a `: keepalive` comment when idle. The "
                    "stream ends when the caller's session ends."
                ),
            },
            **AUTH_ERRORS,
        },
    )
    async def alarm_stream(request: Request, who: Principal = access.reader) -> EventStreamResponse:
        """Alarm changes as they are recorded, for the desk's live list."""
        again = access.reauthorise(request)

        def recheck() -> SiteFilter | None:
            fresh = again()
            return fresh.sees if fresh is not None and fresh.can(Permission.READ) else None

        return alarm_stream_response(ctx.feed, ctx.keepalive_seconds, who.sees, recheck)


def _add_quarantine_route(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    @router.get("/quarantine", responses=AUTH_ERRORS)
    def quarantine(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        reason: Reason | None = None,
        who: Principal = access.reader,
    ) -> QuarantineOut:
        """Refused messages: counts per reason and the newest messages. A caller granted
        only some sites sees the messages whose topic names one of them, counted among
        the rows still kept; everybody else sees every message and the counts since the
        start."""
        wanted = None if reason is None else reason.value
        if who.all_sites:
            counts = ctx.readings.quarantine_counts()
            messages = ctx.readings.quarantine(limit, wanted)
        else:
            kept = [m for m in ctx.readings.quarantine(QUARANTINE_KEEP_ROWS) if _seen_by(who, m)]
            counts = dict(Counter(m.reason for m in kept))
            messages = [m for m in kept if wanted in {None, m.reason}][:limit]
        return QuarantineOut(
            counts=counts,
            total=sum(counts.values()),
            messages=[QuarantinedOut.model_validate(m) for m in messages],
        )


def _seen_by(who: Principal, message: QuarantinedMessage) -> bool:
    """Whether the site a refused message's topic names (``<prefix>/<site>/...``) is
    granted to ``who``; a topic naming no site is for those who see every site."""
    parts = message.topic.split("/")
    return len(parts) >= 2 and who.sees(parts[1])  # noqa: PLR2004 - <prefix>/<site>
