"""The JSON endpoints under /api, as a router bound to one console context.

Reads are plain ``def`` endpoints: the stores answer with blocking SQLite calls, which
FastAPI runs in its thread pool, off the event loop that carries the alarm stream.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from alerts.models import ACTIVE_STATES, OPEN_STATES
from collectors.quarantine import Reason
from console.alarm_actions import add_alarm_action_routes
from console.context import ConsoleContext
from console.preservation import add_preservation_route
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
from console.stream import STREAM_PATH, EventStreamResponse, alarm_stream_response
from console.twilio_hooks import add_twilio_routes

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}


class AlarmFilter(StrEnum):
    """Which alarms to list: open (the desk's list: active, or cleared but never
    acknowledged), active (the condition is present), or all (with closed history)."""

    OPEN = "open"
    ACTIVE = "active"
    ALL = "all"


_FILTER_STATES = {AlarmFilter.OPEN: OPEN_STATES, AlarmFilter.ACTIVE: ACTIVE_STATES}


def health_status(components: Mapping[str, object]) -> str:
    """``degraded`` when MQTT is down or any problem is reported, else ``ok``."""
    if components.get("mqtt_connected") is False:
        return "degraded"
    problems = components.get("problems")
    if isinstance(problems, Mapping):
        return "degraded" if any(problems.values()) else "ok"
    return "degraded" if problems else "ok"


def build_router(ctx: ConsoleContext) -> APIRouter:
    """The /api routes reading from ``ctx``."""
    router = APIRouter(prefix="/api")
    _add_status_routes(router, ctx)
    _add_alarm_routes(router, ctx)
    add_alarm_action_routes(router, ctx)
    add_twilio_routes(router, ctx)
    _add_quarantine_route(router, ctx)
    add_preservation_route(router, ctx)
    return router


def _add_status_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    @router.get("/health")
    def health() -> HealthOut:
        """Whether the monitoring chain works, with each component's status."""
        try:
            components = dict(ctx.health())
        except Exception as exc:  # noqa: BLE001 - a broken probe is itself a finding
            components = {"problems": [f"health check failed: {exc!r}"]}
        return HealthOut(
            status=health_status(components), time=ctx.clock.now(), components=components
        )

    @router.get("/sites")
    def sites() -> list[SiteOut]:
        """The sites, their names, time zones and floors."""
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
        ]

    @router.get("/rooms", responses=_NOT_FOUND)
    def rooms(site: str | None = None) -> list[RoomOut]:
        """Every room's status, optionally of one site only."""
        if site is not None and site not in ctx.facility.sites:
            raise HTTPException(404, f"unknown site {site!r}")
        chosen = [site] if site is not None else list(ctx.facility.sites)
        return [room for s in chosen for room in site_rooms(ctx, s)]

    @router.get("/rooms/{site}/{room}", responses=_NOT_FOUND)
    def room(site: str, room: str) -> RoomOut:
        """One room's status."""
        if ctx.facility.room(site, room) is None:
            raise HTTPException(404, f"unknown room {room!r} in site {site!r}")
        return site_rooms(ctx, site, room)[0]


def _add_alarm_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    @router.get("/alarms")
    def alarms(
        state: AlarmFilter = AlarmFilter.OPEN,
        site: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    ) -> list[AlarmOut]:
        """Alarms, most urgent first: open before closed, unacknowledged before
        acknowledged, then by severity and time."""
        found = ctx.alarms.list(states=_FILTER_STATES.get(state), site=site, limit=limit)
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
                    "Server-sent events: `event: alarm` with an AlarmChangeOut as JSON data, "
                    "and a `: keepalive` comment when idle."
                ),
            }
        },
    )
    async def alarm_stream() -> EventStreamResponse:
        """Alarm changes as they are recorded, for the desk's live list."""
        return alarm_stream_response(ctx.feed, ctx.keepalive_seconds)


def _add_quarantine_route(router: APIRouter, ctx: ConsoleContext) -> None:
    @router.get("/quarantine")
    def quarantine(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100, reason: Reason | None = None
    ) -> QuarantineOut:
        """Refused messages: counts per reason and the newest messages."""
        counts = ctx.readings.quarantine_counts()
        messages = ctx.readings.quarantine(limit, None if reason is None else reason.value)
        return QuarantineOut(
            counts=counts,
            total=sum(counts.values()),
            messages=[QuarantinedOut.model_validate(m) for m in messages],
        )
