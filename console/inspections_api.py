"""The inspections' REST endpoints: tasks, answers, photos, sign-off and hazards.

Described in OpenAPI so that another checklist app can work against Lantai. Every action
is taken by ``inspections.service.InspectionService``; this module maps HTTP onto it and
its refusals onto status codes, with the reason in Chinese and English:
``{"detail": {"reason": "invalid", "en": "...", "zh": "..."}}``.

Every route asks the accounts' gate who is calling and checks the role and the site:
checklist work needs ``inspect`` (a guard sees only guards' tasks), reading needs
``inspect`` or ``read``, and assigning, accepting and filing hazards need
``hazard_manage``. Requests from phones carry a ``client_id`` of their own making: a resend
after a lost connection changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, NoReturn, Protocol

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Response, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from alerts.models import Alarm, AlarmState
from console.auth import Gate, Permission, Principal, Role
from console.auth.dependencies import AUTH_ERRORS, require_site
from console.schemas import LocalText, RowId, UtcTime
from inspections.alarms import place_names
from inspections.errors import REASON_STATUS, Refused
from inspections.models import (
    Answer,
    Cadence,
    ChecklistItem,
    Hazard,
    HazardGrade,
    HazardLogEntry,
    HazardState,
    ItemKind,
    Photo,
    PhotoRule,
    Result,
    Task,
    TaskSource,
    TaskStatus,
)
from inspections.readings import Prefill
from inspections.schedule import wall
from inspections.service import Answered, InspectionService
from sensors.events import Category, Severity

ClientId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")]
Note = Annotated[str, Field(max_length=2000)]


# -- shapes --------------------------------------------------------------------------------


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RefusalOut(_Out):
    reason: str = Field(description="not_found | invalid | conflict | too_large | unsupported")
    en: str
    zh: str


class RefusedOut(_Out):
    """Why an inspection request was refused."""

    detail: RefusalOut


class ItemOut(_Out):
    """A checklist line: what to check, and how it is answered."""

    key: str
    kind: ItemKind
    label: LocalText
    photo: PhotoRule
    field: str | None = Field(description="the sensor field a reading item is filled from")
    unit: str | None
    minimum: float | None = Field(description="below this the reading fails")
    maximum: float | None = Field(description="above this the reading fails")
    hazard_grade: HazardGrade


class AnswerOut(_Out):
    item_key: str
    result: Result
    value: float | None
    note: str
    answered_by: str
    answered_at: UtcTime
    photo_ids: list[int]


class TaskOut(_Out):
    """An inspection task: its place, window, checklist and what was answered."""

    id: int
    key: str
    source: TaskSource
    site: str
    # The site's IANA time zone: windows and times are shown in it, not the phone's.
    timezone: str
    room: str | None
    floor: str | None
    place: LocalText
    template: str | None
    cadence: Cadence | None
    title: LocalText
    role: str
    window_start: UtcTime
    window_end: UtcTime
    local_date: date | None
    created_at: UtcTime
    created_late: bool
    status: TaskStatus
    items: list[ItemOut]
    answers: list[AnswerOut]
    signed_by: str | None
    signed_at: UtcTime | None
    synced_at: UtcTime | None = Field(description="when the sign-off reached Lantai")
    checkpoint: str | None


class PrefillOut(_Out):
    """A reading as the room's sensors measure it now, to offer the person."""

    value: float
    at: UtcTime
    sensors: list[str]


class HazardLogOut(_Out):
    at: UtcTime
    by: str
    state: HazardState
    note: str


class HazardOut(_Out):
    """A hazard (隐患) and every step of its closed loop."""

    id: int
    site: str
    room: str | None
    place: LocalText
    task_id: int | None
    item_key: str | None
    title: LocalText
    grade: HazardGrade
    state: HazardState
    found_by: str
    found_at: UtcTime
    owner: str | None
    deadline: UtcTime | None
    note: str
    photo_ids: list[int]
    log: list[HazardLogOut]


class PhotoOut(_Out):
    id: int
    content_type: str
    size: int
    sha256: str
    taken_by: str
    taken_at: UtcTime
    task_id: int | None
    item_key: str | None
    hazard_id: int | None


class RoomAlarmOut(_Out):
    """An alarm of the task's room, as the guard needs it on the spot."""

    id: int
    category: Category
    severity: Severity
    state: AlarmState
    message: LocalText
    raised_at: UtcTime
    cleared_at: UtcTime | None
    acked_by: str | None


class TaskDetailOut(TaskOut):
    """A task with what the phone needs to do it: the room's sensors' current values for
    its readings (by field), its photos, when the room was last signed off, every alarm in
    the room since then (newest first; a guard cannot read the desk's alarm list) and the
    hazards its failed items opened."""

    readings: dict[str, PrefillOut]
    photos: list[PhotoOut]
    previous_signed_at: UtcTime | None
    alarms_since_previous: list[RoomAlarmOut]
    hazards: list[HazardOut]


class AnsweredOut(_Out):
    answer: AnswerOut
    hazard_id: int | None = Field(description="the hazard a failed item opened")


class AnswerIn(_In):
    result: Result
    value: float | None = None
    note: Note = ""
    client_id: ClientId
    answered_at: UtcTime = Field(description="when the person answered (the phone's clock)")
    grade: HazardGrade | None = Field(
        default=None, description="raise the grade of the hazard a failure opens"
    )


class SignOffIn(_In):
    client_id: ClientId
    checkpoint: str | None = Field(default=None, max_length=100)
    signed_at: UtcTime


class AssignIn(_In):
    owner: str = Field(min_length=1, max_length=100)
    deadline: UtcTime
    note: Note = ""


class RectifyIn(_In):
    note: Note = Field(min_length=1)
    photo_ids: list[int] = Field(default_factory=list)


class ReinspectIn(_In):
    accepted: bool
    note: Note = ""


class FileIn(_In):
    note: Note = ""


# -- the router ----------------------------------------------------------------------------

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": RefusedOut} for code in sorted(set(REASON_STATUS.values()))
}


def _refused(exc: Refused) -> NoReturn:
    raise HTTPException(
        REASON_STATUS.get(exc.reason, 400),
        detail={"reason": exc.reason, "en": exc.message, "zh": exc.message_zh},
    ) from exc


def _missing(what: str, zh: str) -> NoReturn:
    raise HTTPException(404, detail={"reason": "not_found", "en": what, "zh": zh})


class AlarmHistory(Protocol):
    """Alarms raised in a span (``alerts.store.AlarmStore``)."""

    def raised_between(self, site: str, start: datetime, end: datetime) -> list[Alarm]: ...


# With no patrol signed before, a task shows the alarms of this long before its window.
FIRST_PATROL_LOOKBACK = timedelta(days=1)
# A task page lists at most this many of the room's alarms (newest first).
ROOM_ALARMS_SHOWN = 50


def build_inspections_router(
    service: InspectionService, gate: Gate, alarms: AlarmHistory | None = None
) -> APIRouter:
    """The /api/inspections and /api/hazards routes acting through ``service``, for the
    callers ``gate`` lets in; ``alarms`` lists a room's alarms on its task pages."""
    router = APIRouter(prefix="/api", tags=["inspections"], responses=AUTH_ERRORS)
    access = _Access(service, gate)
    _add_task_routes(router, service, access, alarms)
    _add_photo_routes(router, service, access)
    _add_hazard_routes(router, service, access)
    return router


class _Access:
    """Who may do what here: the dependencies, and the checks on a task's or hazard's site."""

    def __init__(self, service: InspectionService, gate: Gate) -> None:
        self._service = service
        # Defaults, not ``Annotated[...]``: these are locals, and FastAPI resolves postponed
        # annotations in the module's globals.
        self.reader = Depends(gate.require(Permission.INSPECT, Permission.READ))
        self.inspector = Depends(gate.require(Permission.INSPECT))
        self.rectifier = Depends(gate.require(Permission.INSPECT, Permission.HAZARD_MANAGE))
        self.manager = Depends(gate.require(Permission.HAZARD_MANAGE))

    def task(self, who: Principal, task_id: int) -> Task:
        """The task, if ``who`` may see it: its site granted, and a guard's only if it is
        a guard's task (the checklist app opens no more than the guard's own work)."""
        found = self._service.task(task_id)
        if found is None:
            _missing(f"no task {task_id}", f"没有任务 {task_id}")
        require_site(who, found.site)
        if who.role is Role.GUARD and found.role != Role.GUARD.value:
            raise HTTPException(
                403,
                detail={
                    "reason": "forbidden",
                    "en": f"this task is for the {found.role} role",
                    "zh": f"此任务属于 {found.role} 角色",
                },
            )
        return found

    def hazard(self, who: Principal, hazard_id: int) -> Hazard:
        found = self._service.hazard(hazard_id)
        if found is None:
            _missing(f"no hazard {hazard_id}", f"没有隐患 {hazard_id}")
        require_site(who, found.site)
        return found

    def site(self, who: Principal, site: str | None) -> str:
        """The site asked for (or the only one the caller may see), if granted."""
        if site is None:
            visible = who.visible(self._service.facility.sites)
            if len(visible) == 1:
                site = next(iter(visible))
        chosen = _site(self._service, site)
        require_site(who, chosen)
        return chosen


def _add_task_routes(
    router: APIRouter, service: InspectionService, access: _Access, alarms: AlarmHistory | None
) -> None:
    @router.get("/inspections/tasks", responses=_ERRORS)
    def tasks(
        site: str | None = None,
        day: Annotated[date | None, Query(alias="date")] = None,
        role: str | None = None,
        who: Principal = access.reader,
    ) -> list[TaskOut]:
        """A site's tasks of one local day (default: today), optionally for one role; a
        guard gets the guards' tasks."""
        chosen = access.site(who, site)
        if who.role is Role.GUARD:
            role = Role.GUARD.value
        found = service.tasks_for_day(chosen, day or service.local_today(chosen), role)
        return [_task(service, t) for t in found]

    @router.get("/inspections/tasks/{task_id}", responses=_ERRORS)
    def task(task_id: RowId, who: Principal = access.reader) -> TaskDetailOut:
        """A task with its answers, the sensors' current readings and its hazards."""
        found = access.task(who, task_id)
        previous = (
            None
            if found.room is None
            else service.last_signed(found.site, found.room, found.window_start)
        )
        since = (
            previous.signed_at
            if previous is not None and previous.signed_at is not None
            else found.window_start - FIRST_PATROL_LOOKBACK
        )
        in_room = (
            []
            if alarms is None or found.room is None
            else [
                a
                for a in alarms.raised_between(found.site, since, service.now())
                if a.room == found.room
            ]
        )
        return TaskDetailOut(
            **_task(service, found).model_dump(),
            readings={k: _prefill(v) for k, v in service.prefill(found).items()},
            photos=[_photo(p) for p in service.task_photos(task_id)],
            previous_signed_at=None if previous is None else previous.signed_at,
            alarms_since_previous=[_room_alarm(a) for a in reversed(in_room)][:ROOM_ALARMS_SHOWN],
            hazards=[_hazard(service, h) for h in service.task_hazards(task_id)],
        )

    @router.put("/inspections/tasks/{task_id}/answers/{item_key}", responses=_ERRORS)
    def answer(
        task_id: RowId, item_key: str, body: AnswerIn, who: Principal = access.inspector
    ) -> AnsweredOut:
        """Answer one item. A reading outside its limits fails; a failure opens a hazard.
        Resending the same ``client_id`` changes nothing; the newest answer wins."""
        access.task(who, task_id)
        by = who.username
        try:
            done = service.answer(
                task_id,
                item_key,
                body.result,
                body.value,
                body.note,
                by,
                body.answered_at,
                body.client_id,
                grade=body.grade,
            )
        except Refused as exc:
            _refused(exc)
        return _answered(done)

    @router.post("/inspections/tasks/{task_id}/sign-off", responses=_ERRORS)
    def sign_off(task_id: RowId, body: SignOffIn, who: Principal = access.inspector) -> TaskOut:
        """Sign the task off (every item answered, required photos there): done within
        the window by the phone's time, late after it."""
        access.task(who, task_id)
        try:
            signed = service.sign_off(
                task_id, who.username, body.signed_at, body.checkpoint, body.client_id
            )
        except Refused as exc:
            _refused(exc)
        return _task(service, signed)


def _add_photo_routes(router: APIRouter, service: InspectionService, access: _Access) -> None:
    @router.post("/inspections/tasks/{task_id}/photos", status_code=201, responses=_ERRORS)
    def task_photo(
        task_id: RowId,
        file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
        client_id: Annotated[str, Form(min_length=1, max_length=100)],
        item_key: Annotated[str, Form(min_length=1, max_length=64)],
        who: Principal = access.inspector,
        taken_at: Annotated[datetime | None, Form()] = None,
    ) -> PhotoOut:
        """Attach a photo to a checklist item; resending the same ``client_id`` returns
        the photo already stored."""
        access.task(who, task_id)
        data = _read(file, service.photo_limit)
        when = _when(service, taken_at)
        try:
            photo = service.add_photo(
                task_id, item_key, data, file.content_type, who.username, when, client_id
            )
        except Refused as exc:
            _refused(exc)
        return _photo(photo)

    @router.post("/hazards/{hazard_id}/photos", status_code=201, responses=_ERRORS)
    def hazard_photo(
        hazard_id: RowId,
        file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
        client_id: Annotated[str, Form(min_length=1, max_length=100)],
        who: Principal = access.rectifier,
        taken_at: Annotated[datetime | None, Form()] = None,
    ) -> PhotoOut:
        """Attach a photo to a hazard (its rectification, usually)."""
        access.hazard(who, hazard_id)
        data = _read(file, service.photo_limit)
        when = _when(service, taken_at)
        try:
            photo = service.add_hazard_photo(
                hazard_id, data, file.content_type, who.username, when, client_id
            )
        except Refused as exc:
            _refused(exc)
        return _photo(photo)

    @router.get(
        "/inspections/photos/{photo_id}",
        response_class=Response,
        responses={
            200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}},
            **_ERRORS,
        },
    )
    def photo(photo_id: RowId, who: Principal = access.reader) -> Response:
        """A photo's bytes (never changes once stored: cached for a year)."""
        found = service.photo(photo_id)
        if found is None:
            _missing(f"no photo {photo_id}", f"没有照片 {photo_id}")
        meta, data = found
        if meta.task_id is not None:
            access.task(who, meta.task_id)
        elif meta.hazard_id is not None:
            access.hazard(who, meta.hazard_id)
        return Response(
            content=data,
            media_type=meta.content_type,
            headers={
                "Cache-Control": "private, max-age=31536000, immutable",
                "ETag": f'"{meta.sha256}"',
            },
        )


def _add_hazard_routes(router: APIRouter, service: InspectionService, access: _Access) -> None:
    @router.get("/hazards", responses=_ERRORS)
    def hazards(
        site: str | None = None,
        state: Annotated[list[HazardState] | None, Query()] = None,
        who: Principal = access.reader,
    ) -> list[HazardOut]:
        """Hazards, oldest found first, by site and state (repeat ``state`` for several);
        only the sites granted to the caller."""
        if site is not None:
            access.site(who, site)
        found = service.hazards(site=site, states=state)
        return [_hazard(service, h) for h in found if who.sees(h.site)]

    # Declared before /hazards/{hazard_id}: a path, not an id.
    @router.get(
        "/hazards.csv",
        response_class=Response,
        responses={200: {"content": {"text/csv": {}}}, **_ERRORS},
    )
    def ledger(
        site: str | None = None,
        since: date | None = None,
        until: date | None = None,
        who: Principal = access.reader,
    ) -> Response:
        """The hazard ledger (台账) of hazards found from ``since`` up to ``until``
        (site-local dates, ``until`` included; default: this year so far), as CSV in
        UTF-8 with a byte-order mark so that Excel shows the Chinese."""
        chosen = access.site(who, site)
        zone = service.facility.sites[chosen].timezone
        today = service.local_today(chosen)
        first = since or date(today.year, 1, 1)
        last = until or today
        data = service.ledger_csv(
            chosen, wall(first, time(0), zone), wall(last + timedelta(days=1), time(0), zone)
        )
        name = f"hazards-{chosen}-{first.isoformat()}-{last.isoformat()}.csv"
        return Response(
            content=data,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    @router.get("/hazards/{hazard_id}", responses=_ERRORS)
    def hazard(hazard_id: RowId, who: Principal = access.reader) -> HazardOut:
        """A hazard with its log."""
        return _hazard(service, access.hazard(who, hazard_id))

    @router.post("/hazards/{hazard_id}/assign", responses=_ERRORS)
    def assign(hazard_id: RowId, body: AssignIn, who: Principal = access.manager) -> HazardOut:
        """Give the hazard an owner and a rectification deadline."""
        access.hazard(who, hazard_id)
        by = who.username
        return _act(
            service, lambda: service.assign(hazard_id, body.owner, body.deadline, by, body.note)
        )

    @router.post("/hazards/{hazard_id}/rectify", responses=_ERRORS)
    def rectify(hazard_id: RowId, body: RectifyIn, who: Principal = access.rectifier) -> HazardOut:
        """Report the hazard rectified: what was done, with the hazard's photos."""
        access.hazard(who, hazard_id)
        by = who.username
        return _act(service, lambda: service.rectify(hazard_id, body.note, by, body.photo_ids))

    @router.post("/hazards/{hazard_id}/reinspect", responses=_ERRORS)
    def reinspect(
        hazard_id: RowId, body: ReinspectIn, who: Principal = access.manager
    ) -> HazardOut:
        """Re-inspect: accepted closes the loop; rejected (with a reason) reassigns it."""
        access.hazard(who, hazard_id)
        by = who.username
        return _act(service, lambda: service.reinspect(hazard_id, body.accepted, by, body.note))

    @router.post("/hazards/{hazard_id}/file", responses=_ERRORS)
    def file(hazard_id: RowId, body: FileIn, who: Principal = access.manager) -> HazardOut:
        """File an accepted hazard."""
        access.hazard(who, hazard_id)
        by = who.username
        return _act(service, lambda: service.file(hazard_id, by, body.note))


# -- helpers -------------------------------------------------------------------------------


def _act(service: InspectionService, action: Callable[[], Hazard]) -> HazardOut:
    try:
        return _hazard(service, action())
    except Refused as exc:
        _refused(exc)


def _site(service: InspectionService, site: str | None) -> str:
    sites = service.facility.sites
    if site is None:
        if len(sites) == 1:
            return next(iter(sites))
        raise HTTPException(
            422,
            detail={"reason": "invalid", "en": "name the site", "zh": "请指定馆区"},
        )
    if site not in sites:
        _missing(f"unknown site {site!r}", f"没有馆区 {site!r}")
    return site


def _read(file: UploadFile, limit: int) -> bytes:
    # One byte past the limit is enough to refuse it; the rest is never read.
    return file.file.read(limit + 1)


def _when(service: InspectionService, taken_at: datetime | None) -> datetime:
    if taken_at is None:
        return service.now()
    if taken_at.tzinfo is None:
        raise HTTPException(
            422,
            detail={
                "reason": "invalid",
                "en": "taken_at needs its UTC offset",
                "zh": "时间须带时区",
            },
        )
    return taken_at


def _room_alarm(alarm: Alarm) -> RoomAlarmOut:
    return RoomAlarmOut(
        id=alarm.id,
        category=alarm.category,
        severity=alarm.severity,
        state=alarm.state,
        message=_text(alarm.message_zh, alarm.message_en),
        raised_at=alarm.raised_at,
        cleared_at=alarm.cleared_at,
        acked_by=alarm.acked_by,
    )


def _text(zh: str, en: str) -> LocalText:
    return LocalText(zh=zh, en=en)


def _item(item: ChecklistItem) -> ItemOut:
    return ItemOut(
        key=item.key,
        kind=item.kind,
        label=_text(item.label_zh, item.label_en),
        photo=item.photo,
        field=item.field,
        unit=item.unit,
        minimum=item.minimum,
        maximum=item.maximum,
        hazard_grade=item.hazard_grade,
    )


def _answer(answer: Answer) -> AnswerOut:
    return AnswerOut(
        item_key=answer.item_key,
        result=answer.result,
        value=answer.value,
        note=answer.note,
        answered_by=answer.answered_by,
        answered_at=answer.answered_at,
        photo_ids=list(answer.photo_ids),
    )


def _answered(done: Answered) -> AnsweredOut:
    return AnsweredOut(answer=_answer(done.answer), hazard_id=done.hazard_id)


def _task(service: InspectionService, task: Task) -> TaskOut:
    zh, en = place_names(service.facility, task.site, task.room, task.floor)
    return TaskOut(
        id=task.id,
        key=task.key,
        source=task.source,
        site=task.site,
        timezone=service.facility.sites[task.site].timezone.key,
        room=task.room,
        floor=task.floor,
        place=_text(zh, en),
        template=task.template,
        cadence=task.cadence,
        title=_text(task.title_zh, task.title_en),
        role=task.role,
        window_start=task.window_start,
        window_end=task.window_end,
        local_date=task.local_date,
        created_at=task.created_at,
        created_late=task.created_late,
        status=task.status,
        items=[_item(i) for i in task.items],
        answers=[_answer(a) for a in task.answers],
        signed_by=task.signed_by,
        signed_at=task.signed_at,
        synced_at=task.synced_at,
        checkpoint=task.checkpoint,
    )


def _prefill(found: Prefill) -> PrefillOut:
    return PrefillOut(value=found.value, at=found.at, sensors=list(found.sensors))


def _log(entry: HazardLogEntry) -> HazardLogOut:
    return HazardLogOut(at=entry.at, by=entry.by, state=entry.state, note=entry.note)


def _hazard(service: InspectionService, hazard: Hazard) -> HazardOut:
    zh, en = place_names(service.facility, hazard.site, hazard.room, None)
    return HazardOut(
        id=hazard.id,
        site=hazard.site,
        room=hazard.room,
        place=_text(zh, en),
        task_id=hazard.task_id,
        item_key=hazard.item_key,
        title=_text(hazard.title_zh, hazard.title_en),
        grade=hazard.grade,
        state=hazard.state,
        found_by=hazard.found_by,
        found_at=hazard.found_at,
        owner=hazard.owner,
        deadline=hazard.deadline,
        note=hazard.note,
        photo_ids=list(hazard.photo_ids),
        log=[_log(e) for e in hazard.log],
    )


def _photo(photo: Photo) -> PhotoOut:
    return PhotoOut(
        id=photo.id,
        content_type=photo.content_type,
        size=photo.size,
        sha256=photo.sha256,
        taken_by=photo.taken_by,
        taken_at=photo.taken_at,
        task_id=photo.task_id,
        item_key=photo.item_key,
        hazard_id=photo.hazard_id,
    )
