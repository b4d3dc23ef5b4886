"""The desk's alarm actions: acknowledge, shelve, maintenance windows, rotas.

Every action is taken by the alarm service; this module only maps HTTP onto it and its
refusals onto status codes. Until accounts arrive (the console issue), the caller says
who they are in ``by``; the audit trail records it with ``via`` console or API.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Header, HTTPException, Query

from alerts.models import Via
from alerts.service import AlarmService, Refused
from console.context import ConsoleContext
from console.schemas import (
    AckIn,
    AckOut,
    AlarmDetailOut,
    AlarmOut,
    DutyOut,
    ErrorOut,
    LogEntryOut,
    NotificationOut,
    RotaOut,
    ShelveIn,
    UnshelveIn,
    WindowIn,
    WindowOut,
)

_STATUS = {"not_found": 404, "forbidden": 403, "invalid": 422, "conflict": 409}
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (403, 404, 409, 422, 503)
}
# The page sends this header; anything else calling the API is recorded as "api".
_CLIENT_HEADER = "X-Lantai-Client"


def _refused(exc: Refused) -> NoReturn:
    raise HTTPException(_STATUS.get(exc.reason, 400), exc.message) from exc


def _via(client: str | None) -> Via:
    return Via.CONSOLE if client == "console" else Via.API


def add_alarm_action_routes(router: APIRouter, ctx: ConsoleContext) -> None:
    """POST ack/shelve/unshelve, GET an alarm's detail, windows and rotas."""

    def service() -> AlarmService:
        if ctx.actions is None:
            raise HTTPException(503, "this console is read-only")
        return ctx.actions

    @router.get("/alarms/{alarm_id}", responses=_ERRORS)
    def alarm_detail(alarm_id: int) -> AlarmDetailOut:
        """An alarm with its audit trail and the notifications of its incident."""
        found = ctx.alarms.get(alarm_id)
        if found is None:
            raise HTTPException(404, f"no alarm {alarm_id}")
        messages = [] if found.incident_id is None else ctx.alarms.messages(found.incident_id)
        return AlarmDetailOut(
            alarm=AlarmOut.model_validate(found),
            timeline=[LogEntryOut.model_validate(e) for e in ctx.alarms.timeline(alarm_id)],
            notifications=[NotificationOut.model_validate(m) for m in messages],
        )

    @router.post("/alarms/{alarm_id}/ack", responses=_ERRORS)
    def ack(
        alarm_id: int,
        body: AckIn,
        client: Annotated[str | None, Header(alias=_CLIENT_HEADER)] = None,
    ) -> AckOut:
        """Acknowledge an alarm and the other unacknowledged alarms of its incident:
        pending calls stop at once and everybody already called is told who took it."""
        try:
            changes = service().ack(alarm_id, body.by, _via(client), body.comment)
        except Refused as exc:
            _refused(exc)
        return AckOut(changed=[AlarmOut.model_validate(c.alarm) for c in changes])

    add_shelve_routes(router, service)
    add_window_routes(router, ctx, service)


def add_shelve_routes(router: APIRouter, service: Callable[[], AlarmService]) -> None:
    """Shelve and unshelve."""

    @router.post("/alarms/{alarm_id}/shelve", responses=_ERRORS)
    def shelve(
        alarm_id: int,
        body: ShelveIn,
        client: Annotated[str | None, Header(alias=_CLIENT_HEADER)] = None,
    ) -> AlarmOut:
        """Take an alarm off the callers' list until ``until`` (at most the configured
        limit, 24 h by default), by a person allowed to shelve, with a reason."""
        try:
            change = service().shelve(alarm_id, body.by, body.reason, body.until, _via(client))
        except Refused as exc:
            _refused(exc)
        return AlarmOut.model_validate(change.alarm)

    @router.post("/alarms/{alarm_id}/unshelve", responses=_ERRORS)
    def unshelve(
        alarm_id: int,
        body: UnshelveIn,
        client: Annotated[str | None, Header(alias=_CLIENT_HEADER)] = None,
    ) -> AlarmOut:
        """Put a shelved alarm back; if it still needs somebody, calling starts again."""
        try:
            change = service().unshelve(alarm_id, body.by, _via(client))
        except Refused as exc:
            _refused(exc)
        return AlarmOut.model_validate(change.alarm)


def add_window_routes(
    router: APIRouter, ctx: ConsoleContext, service: Callable[[], AlarmService]
) -> None:
    """Maintenance windows and rotas."""

    @router.get("/maintenance-windows")
    def windows(include_ended: bool = False) -> list[WindowOut]:
        """Maintenance windows and out-of-service equipment."""
        found = ctx.alarms.windows(include_ended=include_ended)
        return [WindowOut.model_validate(w) for w in found]

    @router.post("/maintenance-windows", status_code=201, responses=_ERRORS)
    def open_window(body: WindowIn) -> WindowOut:
        """Open a maintenance window for a site, room or sensor (an end is required
        unless the equipment is taken out of service)."""
        try:
            window = service().open_window(
                site=body.site,
                room=body.room,
                sensor=body.sensor,
                starts_at=body.starts_at,
                ends_at=body.ends_at,
                reason=body.reason,
                by=body.by,
                out_of_service=body.out_of_service,
            )
        except Refused as exc:
            _refused(exc)
        return WindowOut.model_validate(window)

    @router.delete("/maintenance-windows/{window_id}", responses=_ERRORS)
    def close_window(window_id: int, by: Annotated[str, Query(min_length=1)]) -> WindowOut:
        """End a window now; alarms it held that still need somebody are called at once."""
        try:
            window = service().close_window(window_id, by)
        except Refused as exc:
            _refused(exc)
        return WindowOut.model_validate(window)

    @router.get("/rotas")
    def rotas(days: Annotated[int, Query(ge=1, le=31)] = 7) -> list[RotaOut]:
        """Every rota, who is on duty now, and its shifts over the next ``days`` days."""
        routing = ctx.routing
        if routing is None:
            return []
        now = ctx.clock.now()
        return [
            RotaOut(
                id=rota.id,
                site=rota.site,
                on_duty=list(rota.on_duty(now)),
                shifts=[
                    DutyOut(start=d.start, end=d.end, people=list(d.people), name=d.name)
                    for d in rota.duties(now, now + timedelta(days=days))
                ],
            )
            for rota in routing.rotas.values()
        ]
