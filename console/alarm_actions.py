"""The desk's alarm actions: acknowledge, shelve, maintenance windows, rotas.

Every action is taken by the alarm service; this module checks who may (the caller's
permission, and the alarm's or window's site), then maps HTTP onto the service and its
refusals onto status codes. The actor in the audit trail is the logged-in user, or the
API token as ``token:<name>``, with ``via`` console for a browser session and api for a
token; a ``by`` in the request is ignored.

Shelving asks twice, on purpose: the role decides how long (an operator up to an hour, a
supervisor up to the alarm service's own limit), and the alerting file decides who may
shelve at all (``can_shelve`` of the person whose id is the user's login name). A login
with no such person in the alerting file cannot shelve, whatever its role.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, HTTPException, Query

from alerts.service import AlarmService, Refused
from console.auth import AUTH_ERRORS, Principal
from console.context import ConsoleContext
from console.desk_access import DeskAccess, via
from console.readings_around import readings_around
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
    RowId,
    ShelveIn,
    UnshelveIn,
    WindowIn,
    WindowOut,
)
from console.sop_api import current_sop

_STATUS = {"not_found": 404, "forbidden": 403, "invalid": 422, "conflict": 409}
_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    **{code: {"model": ErrorOut} for code in (404, 409, 422, 503)},
}
_READ_ERRORS: dict[int | str, dict[str, Any]] = {**AUTH_ERRORS, 404: {"model": ErrorOut}}


def _refused(exc: Refused) -> NoReturn:
    raise HTTPException(_STATUS.get(exc.reason, 400), exc.message) from exc


def add_alarm_action_routes(router: APIRouter, ctx: ConsoleContext, access: DeskAccess) -> None:
    """POST ack/shelve/unshelve, GET an alarm's detail, windows and rotas."""

    def service() -> AlarmService:
        if ctx.actions is None:
            raise HTTPException(503, "this console is read-only")
        return ctx.actions

    @router.get("/alarms/{alarm_id}", responses=_READ_ERRORS)
    def alarm_detail(alarm_id: RowId, who: Principal = access.reader) -> AlarmDetailOut:
        """An alarm with its audit trail, the notifications of its incident, the standard
        operating procedure of its category, and the readings around it."""
        found = access.alarm(who, alarm_id)
        messages = [] if found.incident_id is None else ctx.alarms.messages(found.incident_id)
        return AlarmDetailOut(
            alarm=AlarmOut.model_validate(found),
            timeline=[LogEntryOut.model_validate(e) for e in ctx.alarms.timeline(alarm_id)],
            notifications=[NotificationOut.model_validate(m) for m in messages],
            sop=current_sop(ctx, found.category),
            readings_around=(
                None if ctx.history is None else readings_around(ctx.facility, ctx.history, found)
            ),
        )

    @router.post("/alarms/{alarm_id}/ack", responses=_ERRORS)
    def ack(alarm_id: RowId, body: AckIn, who: Principal = access.acker) -> AckOut:
        """Acknowledge an alarm and the other unacknowledged alarms of its incident:
        pending calls stop at once and everybody already called is told who took it."""
        actions = service()
        access.alarm(who, alarm_id)
        try:
            changes = actions.ack(alarm_id, who.username, via(who), body.comment)
        except Refused as exc:
            _refused(exc)
        return AckOut(changed=[AlarmOut.model_validate(c.alarm) for c in changes])

    add_shelve_routes(router, ctx, access, service)
    add_window_routes(router, ctx, access, service)


def add_shelve_routes(
    router: APIRouter,
    ctx: ConsoleContext,
    access: DeskAccess,
    service: Callable[[], AlarmService],
) -> None:
    """Shelve and unshelve."""

    @router.post("/alarms/{alarm_id}/shelve", responses=_ERRORS)
    def shelve(alarm_id: RowId, body: ShelveIn, who: Principal = access.shelver) -> AlarmOut:
        """Take an alarm off the callers' list until ``until``: up to an hour for a desk
        operator, up to the configured limit (24 h by default) for a supervisor; the
        person must also have ``can_shelve`` in the alerting file. A reason is required."""
        actions = service()
        access.may_shelve(who, body.until - ctx.clock.now())
        access.alarm(who, alarm_id)
        try:
            change = actions.shelve(alarm_id, who.username, body.reason, body.until, via(who))
        except Refused as exc:
            if exc.reason == "forbidden":
                _not_a_shelver(who)
            _refused(exc)
        return AlarmOut.model_validate(change.alarm)

    @router.post("/alarms/{alarm_id}/unshelve", responses=_ERRORS)
    def unshelve(
        alarm_id: RowId,
        body: UnshelveIn | None = None,  # noqa: ARG001 - only an ignored ``by``, if anything
        who: Principal = access.shelver,
    ) -> AlarmOut:
        """Put a shelved alarm back; if it still needs somebody, calling starts again."""
        actions = service()
        access.alarm(who, alarm_id)
        try:
            change = actions.unshelve(alarm_id, who.username, via(who))
        except Refused as exc:
            _refused(exc)
        return AlarmOut.model_validate(change.alarm)


def _not_a_shelver(who: Principal) -> NoReturn:
    raise HTTPException(
        403,
        f"报警配置中没有可搁置报警的人员 {who.username}（can_shelve）/ "
        f"{who.username!r} may not shelve alarms: the alerting file has no person "
        f"{who.username!r} with can_shelve",
    )


def add_window_routes(
    router: APIRouter,
    ctx: ConsoleContext,
    access: DeskAccess,
    service: Callable[[], AlarmService],
) -> None:
    """Maintenance windows and rotas."""

    @router.get("/maintenance-windows", responses=_READ_ERRORS)
    def windows(
        include_ended: bool = False, site: str | None = None, who: Principal = access.reader
    ) -> list[WindowOut]:
        """Maintenance windows and out-of-service equipment of the caller's sites."""
        shown = set(access.sites(who, site))
        found = ctx.alarms.windows(include_ended=include_ended)
        return [WindowOut.model_validate(w) for w in found if w.site in shown]

    @router.post("/maintenance-windows", status_code=201, responses=_ERRORS)
    def open_window(body: WindowIn, who: Principal = access.maintainer) -> WindowOut:
        """Open a maintenance window for a site, room or sensor (an end is required
        unless the equipment is taken out of service)."""
        actions = service()
        if body.site in ctx.facility.sites:  # an unknown one is the service's 422
            access.site(who, body.site)
        try:
            window = actions.open_window(
                site=body.site,
                room=body.room,
                sensor=body.sensor,
                starts_at=body.starts_at,
                ends_at=body.ends_at,
                reason=body.reason,
                by=who.username,
                out_of_service=body.out_of_service,
            )
        except Refused as exc:
            _refused(exc)
        return WindowOut.model_validate(window)

    @router.delete("/maintenance-windows/{window_id}", responses=_ERRORS)
    def close_window(
        window_id: RowId,
        by: Annotated[  # noqa: ARG001 - kept for older callers
            str | None, Query(deprecated=True, description="ignored: the logged-in user ends it")
        ] = None,
        who: Principal = access.maintainer,
    ) -> WindowOut:
        """End a window now; alarms it held that still need somebody are called at once."""
        actions = service()
        access.window(who, window_id)
        try:
            window = actions.close_window(window_id, who.username)
        except Refused as exc:
            _refused(exc)
        return WindowOut.model_validate(window)

    @router.get("/rotas", responses=AUTH_ERRORS)
    def rotas(
        days: Annotated[int, Query(ge=1, le=31)] = 7, who: Principal = access.reader
    ) -> list[RotaOut]:
        """The rotas of the caller's sites, who is on duty now, and their shifts over the
        next ``days`` days."""
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
            if who.sees(rota.site)
        ]
