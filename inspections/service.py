"""The inspection service: creates tasks on time, records answers, and follows hazards.

Everything is driven by the injected clock and is safe to repeat:

- ``tick()`` creates each task whose time has come (the calendar cadences at the start
  of their local day, cron templates when their window opens; see ``schedule``). A
  durable per-template cursor says up to when every occurrence exists, so after downtime
  the next tick creates the missed ones, marked ``created_late``, and a unique task key
  means nothing is created twice. The same tick sends reminders, closes windows (status
  MISSED and an overdue alarm) and raises alarms for hazards past their deadline.
- ``request()`` is the rules engine's ``TaskSink``: a rule's request becomes a short task.
- ``answer()``, ``add_photo()`` and ``sign_off()`` come from phones that may have been
  offline: each carries a client-generated id, and a resend with a known id changes
  nothing. A failed item opens a hazard (one per task and item).
- Hazards go found → assigned → rectified → accepted → filed; every step is logged.

Alarm events are written to an outbox table in the same transaction as the change and
handed to the alarm pipeline (``AlarmSink``) after the commit: the alarm service writes
to the same database, which SQLite lets one writer do at a time. Tables are created by
``InspectionStore.start()``.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from alerts.store import aware
from inspections import alarms as texts
from inspections.checklist import (
    GRADE_RANK,
    RULE_CHECKLIST,
    check_complete,
    find_item,
    judge,
    raised_grade,
    with_room_limits,
)
from inspections.errors import Refused
from inspections.ledger import ledger_csv
from inspections.models import (
    Answer,
    ChecklistItem,
    Hazard,
    HazardGrade,
    HazardState,
    Photo,
    Result,
    Task,
    TaskSource,
    TaskStatus,
)
from inspections.photos import MAX_PHOTO_BYTES, check_photo
from inspections.readings import LatestReadings, Prefill, current_readings
from inspections.schedule import Occurrence, occurrences
from inspections.store import InspectionStore, Tx, items_to_json
from inspections.templates import Template
from sensors.clock import Clock
from sensors.events import AlarmSink, Severity, TaskRequest
from sensors.facility import Facility

log = logging.getLogger(__name__)

T = TypeVar("T")

# A task created this long after its window opened was created late (the service was
# down): more than the scheduler's one-minute tick could explain.
LATE_GRACE = timedelta(minutes=2)
# Phone clocks drift; an answer this much before the window opens still counts.
EARLY_TOLERANCE = timedelta(minutes=15)
# A rule's request: go and look within two hours.
RULE_WINDOW = timedelta(hours=2)
RULE_REMIND_BEFORE = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Answered:
    answer: Answer
    hazard_id: int | None  # the hazard the answer opened or keeps open


@dataclass(frozen=True, slots=True)
class TickResult:
    created: int = 0
    created_late: int = 0
    reminded: int = 0
    missed: int = 0
    hazards_overdue: int = 0


class InspectionService:
    def __init__(
        self,
        store: InspectionStore,
        facility: Facility,
        templates: Sequence[Template],
        clock: Clock,
        alarms: AlarmSink,
        *,
        readings: LatestReadings | None = None,
        photo_limit: int = MAX_PHOTO_BYTES,
    ) -> None:
        self._store = store
        self._facility = facility
        self.templates = tuple(templates)
        self._clock = clock
        self._alarms = alarms
        self._readings = readings
        self._photo_limit = photo_limit
        # Ticks come from the scheduler's threads, answers from the console's: one
        # writer at a time, and alarm events leave in the order they were decided.
        self._lock = threading.RLock()

    @property
    def store(self) -> InspectionStore:
        return self._store

    @property
    def facility(self) -> Facility:
        return self._facility

    # -- timers --------------------------------------------------------------------

    def tick(self) -> TickResult:
        """Create what is due, remind, close windows, and check hazard deadlines."""
        now = self._clock.now()
        with self._lock:
            with self._store.begin() as tx:
                created, late = self._create_due(tx, now)
                reminded = self._remind(tx, now)
                missed = self._close_windows(tx, now)
                overdue = self._hazard_deadlines(tx, now)
            self._flush()
        return TickResult(created, late, reminded, missed, overdue)

    def _create_due(self, tx: Tx, now: datetime) -> tuple[int, int]:
        created = late = 0
        for template in self.templates:
            for site in self._facility.sites:
                if not template.applies_to_site(site):
                    continue
                cursor = tx.cursor(template.id, site)
                if cursor is None:
                    # First sight of this template: no backlog from before it existed,
                    # only what can still be done now.
                    due = [
                        o
                        for o in occurrences(
                            template, self._facility, site, now - template.reach, now
                        )
                        if o.window_end > now
                    ]
                else:
                    due = occurrences(template, self._facility, site, cursor, now)
                for occurrence in due:
                    if self._create(tx, occurrence, now):
                        created += 1
                        late += _late(occurrence, now)
                if cursor is None or now > cursor:
                    tx.set_cursor(template.id, site, now)
        return created, late

    def _create(self, tx: Tx, occurrence: Occurrence, now: datetime) -> bool:
        template, place = occurrence.template, occurrence.place
        room = None if place.room is None else self._facility.room(place.site, place.room)
        items = with_room_limits(template.items, room)
        task_id = tx.insert_task(
            key=occurrence.key,
            source=TaskSource.SCHEDULE.value,
            site=place.site,
            room=place.room,
            floor=place.floor,
            template=template.id,
            cadence=template.cadence.value,
            title_zh=template.title_zh,
            title_en=template.title_en,
            role=template.role,
            window_start=occurrence.window_start,
            window_end=occurrence.window_end,
            local_date=occurrence.local_date,
            created_at=now,
            created_late=_late(occurrence, now),
            status=TaskStatus.OPEN.value,
            items=items_to_json(items),
            remind_at=max(occurrence.window_start, occurrence.window_end - template.remind_before),
            overdue_severity=template.overdue_severity.value,
            reminded=False,
            overdue_raised=False,
        )
        if task_id is not None and _late(occurrence, now):
            log.warning("inspection task %s created late at %s", occurrence.key, now)
        return task_id is not None

    def _remind(self, tx: Tx, now: datetime) -> int:
        rows = tx.rows_to_remind(now)
        for row in rows:
            tx.update_task(row.id, reminded=True)
            task = _must(tx.task(row.id))
            tx.enqueue_alarm(texts.task_due(task, self._facility, _must(aware(row.remind_at))))
        return len(rows)

    def _close_windows(self, tx: Tx, now: datetime) -> int:
        rows = tx.rows_to_close(now)
        for row in rows:
            tx.update_task(row.id, status=TaskStatus.MISSED.value, overdue_raised=True)
            task = _must(tx.task(row.id))
            if row.reminded:
                tx.enqueue_alarm(
                    texts.task_clear(
                        texts.due_key(task.id),
                        texts.DUE_RULE,
                        task,
                        self._facility,
                        Severity.LOW,
                        task.window_end,
                    )
                )
            tx.enqueue_alarm(
                texts.task_overdue(task, self._facility, Severity(row.overdue_severity))
            )
        return len(rows)

    def _hazard_deadlines(self, tx: Tx, now: datetime) -> int:
        found = tx.hazards_past_deadline(now)
        for hazard in found:
            tx.update_hazard(hazard.id, overdue_raised=True)
            tx.enqueue_alarm(texts.hazard_overdue(hazard, self._facility))
        return len(found)

    # -- the rules' side (TaskSink) ------------------------------------------------

    def request(self, tasks: Sequence[TaskRequest]) -> None:
        """A rule's request becomes a task for now → now + 2 h, once per episode."""
        now = self._clock.now()
        with self._lock, self._store.begin() as tx:
            for request in tasks:
                self._from_rule(tx, request, now)

    def _from_rule(self, tx: Tx, request: TaskRequest, now: datetime) -> None:
        info = self._facility.room(request.site, request.room)
        if info is None:
            log.warning("task request %s names unknown room %s", request.key, request.room)
            return
        if tx.open_rule_task(request.key) is not None:
            return  # the same episode (or one still being looked into)
        zone = self._facility.sites[request.site].timezone
        end = now + RULE_WINDOW
        tx.insert_task(
            # The episode: the condition's key and when the rule asked.
            key=f"rule:{request.key}:{request.at.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            source=TaskSource.RULE.value,
            site=request.site,
            room=request.room,
            floor=info.floor,
            template=None,
            cadence=None,
            request_key=request.key,
            title_zh=request.title_zh,
            title_en=request.title_en,
            role=request.role,
            window_start=now,
            window_end=end,
            local_date=now.astimezone(zone).date(),
            created_at=now,
            created_late=False,
            status=TaskStatus.OPEN.value,
            items=items_to_json(RULE_CHECKLIST),
            remind_at=end - RULE_REMIND_BEFORE,
            overdue_severity=Severity.MEDIUM.value,
            reminded=False,
            overdue_raised=False,
        )

    # -- the person's side: answers, photos, sign-off ------------------------------

    def answer(
        self,
        task_id: int,
        item_key: str,
        result: Result,
        value: float | None,
        note: str,
        by: str,
        at: datetime,
        client_id: str,
        *,
        grade: HazardGrade | None = None,
    ) -> Answered:
        """Record one item's answer; a failure opens (or keeps) the item's hazard.

        A reading outside its limits is a failure whatever ``result`` says. The newest
        answer (by ``at``) wins, so a stale resend from a second phone cannot undo it.
        ``grade`` raises the hazard's grade above the item's default; it never lowers it.
        """
        now = self._clock.now()

        def act(tx: Tx) -> Answered:
            seen = self._seen(tx, client_id, "answer", task_id)
            if seen is not None:
                if seen.item_key != item_key:
                    raise _reused(client_id)
                return self._answered(tx, task_id, item_key)
            task = self._task(tx, task_id)
            self._check_open(task)
            item = find_item(task, item_key)
            when = self._check_time(task, at, now)
            final = judge(item, result, value)
            current = tx.answer(task_id, item_key)
            if current is None or current.answered_at <= when:
                tx.put_answer(
                    task_id,
                    item_key,
                    result=final.value,
                    value=value,
                    note=note,
                    answered_by=by,
                    answered_at=when,
                    received_at=now,
                )
                self._follow_hazard(tx, task, item, final, grade, note, by, when)
            tx.record_client_request(client_id, "answer", now, task_id=task_id, item_key=item_key)
            return self._answered(tx, task_id, item_key)

        return self._locked(act)

    def _answered(self, tx: Tx, task_id: int, item_key: str) -> Answered:
        found = _must(tx.answer(task_id, item_key))
        hazard = tx.hazard_for_item(task_id, item_key)
        return Answered(found, None if hazard is None else hazard.id)

    def _follow_hazard(
        self,
        tx: Tx,
        task: Task,
        item: ChecklistItem,
        result: Result,
        grade: HazardGrade | None,
        note: str,
        by: str,
        at: datetime,
    ) -> None:
        existing = tx.hazard_for_item(task.id, item.key)
        if result is not Result.FAIL:
            # A corrected answer withdraws a hazard nobody has acted on yet.
            if existing is not None and existing.state is HazardState.FOUND:
                tx.delete_hazard(existing.id)
            return
        wanted = raised_grade(item.hazard_grade, grade)
        if existing is not None:
            if existing.state is HazardState.FOUND:
                raised = GRADE_RANK[wanted] > GRADE_RANK[existing.grade]
                tx.update_hazard(
                    existing.id, note=note, grade=(wanted if raised else existing.grade).value
                )
            return
        zh, en = texts.place_names(self._facility, task.site, task.room, task.floor)
        hazard_id = tx.insert_hazard(
            site=task.site,
            room=task.room,
            task_id=task.id,
            item_key=item.key,
            title_zh=f"{zh}：{item.label_zh}（不合格）",
            title_en=f"{en}: {item.label_en} (failed)",
            grade=wanted.value,
            state=HazardState.FOUND.value,
            found_by=by,
            found_at=at,
            note=note,
            overdue_raised=False,
        )
        if hazard_id is not None:
            tx.log_hazard(hazard_id, at, by, HazardState.FOUND, note)

    def add_photo(
        self,
        task_id: int,
        item_key: str,
        data: bytes,
        content_type: str | None,
        by: str,
        at: datetime,
        client_id: str,
    ) -> Photo:
        """Attach a photo to a task's item (JPEG, PNG or WebP, at most the size limit)."""
        now = self._clock.now()

        def act(tx: Tx) -> int:
            seen = self._seen(tx, client_id, "photo", task_id)
            if seen is not None:
                return int(seen.photo_id)
            task = self._task(tx, task_id)
            self._check_open(task)
            find_item(task, item_key)
            kind = check_photo(data, content_type, self._photo_limit)
            photo_id = tx.insert_photo(
                data,
                task_id=task_id,
                item_key=item_key,
                content_type=kind,
                size=len(data),
                sha256=_sha256(data),
                taken_by=by,
                taken_at=min(at, now),
                received_at=now,
            )
            tx.record_client_request(
                client_id, "photo", now, task_id=task_id, item_key=item_key, photo_id=photo_id
            )
            return photo_id

        return self._photo(self._locked(act))

    def add_hazard_photo(
        self,
        hazard_id: int,
        data: bytes,
        content_type: str | None,
        by: str,
        at: datetime,
        client_id: str,
    ) -> Photo:
        """Attach a photo to a hazard (its rectification, usually)."""
        now = self._clock.now()

        def act(tx: Tx) -> int:
            seen = tx.client_request(client_id)
            if seen is not None:
                if seen.kind != "hazard_photo" or seen.hazard_id != hazard_id:
                    raise _reused(client_id)
                return int(seen.photo_id)
            hazard = self._hazard(tx, hazard_id)
            if hazard.state is HazardState.FILED:
                raise Refused(
                    "conflict", f"hazard {hazard_id} is filed", f"隐患 {hazard_id} 已归档"
                )
            kind = check_photo(data, content_type, self._photo_limit)
            photo_id = tx.insert_photo(
                data,
                hazard_id=hazard_id,
                content_type=kind,
                size=len(data),
                sha256=_sha256(data),
                taken_by=by,
                taken_at=min(at, now),
                received_at=now,
            )
            tx.record_client_request(
                client_id, "hazard_photo", now, hazard_id=hazard_id, photo_id=photo_id
            )
            return photo_id

        return self._photo(self._locked(act))

    def sign_off(
        self, task_id: int, by: str, at: datetime, checkpoint: str | None, client_id: str
    ) -> Task:
        """Sign a task off: every item answered and every required photo there.

        Done when signed within the window (as the phone says, and never later than now:
        a phone offline in a basement signs on time and syncs later), late after it; the
        reminder and overdue alarms are cleared.
        """
        now = self._clock.now()

        def act(tx: Tx) -> Task:
            seen = self._seen(tx, client_id, "sign_off", task_id)
            if seen is not None:
                return self._task(tx, task_id)
            task = self._task(tx, task_id)
            if task.signed_at is not None:
                raise Refused(
                    "conflict",
                    f"task {task_id} was signed off by {task.signed_by} already",
                    f"任务 {task_id} 已由 {task.signed_by} 签到",
                )
            when = self._check_time(task, at, now)
            check_complete(task)
            status = TaskStatus.DONE if when <= task.window_end else TaskStatus.LATE
            tx.update_task(
                task_id,
                status=status.value,
                signed_by=by,
                signed_at=when,
                synced_at=now,
                checkpoint=checkpoint,
            )
            tx.record_client_request(client_id, "sign_off", now, task_id=task_id)
            signed = self._task(tx, task_id)
            row = tx.task_row(task_id)
            if row is not None and row.reminded and task.status is TaskStatus.OPEN:
                tx.enqueue_alarm(
                    texts.task_clear(
                        texts.due_key(task_id),
                        texts.DUE_RULE,
                        signed,
                        self._facility,
                        Severity.LOW,
                        when,
                    )
                )
            if row is not None and row.overdue_raised:
                tx.enqueue_alarm(
                    texts.task_clear(
                        texts.overdue_key(task_id),
                        texts.OVERDUE_RULE,
                        signed,
                        self._facility,
                        Severity(row.overdue_severity),
                        now,
                    )
                )
            return signed

        return self._locked(act)

    # -- hazards -------------------------------------------------------------------

    def assign(
        self, hazard_id: int, owner: str, deadline: datetime, by: str, note: str = ""
    ) -> Hazard:
        """Give a found (or re-give an assigned) hazard an owner and a deadline."""
        now = self._clock.now()

        def act(tx: Tx) -> Hazard:
            hazard = self._hazard(tx, hazard_id)
            _check_state(hazard, (HazardState.FOUND, HazardState.ASSIGNED), "assign")
            if not owner.strip():
                raise Refused("invalid", "name the owner", "请填写整改责任人")
            if deadline <= now:
                raise Refused(
                    "invalid", "the deadline must be in the future", "整改期限须晚于当前时间"
                )
            tx.update_hazard(
                hazard_id, state=HazardState.ASSIGNED.value, owner=owner, deadline=deadline
            )
            text = note or f"owner {owner}, deadline {deadline.astimezone(UTC):%Y-%m-%d %H:%M}Z"
            tx.log_hazard(hazard_id, now, by, HazardState.ASSIGNED, text)
            if tx.hazard_overdue_raised(hazard_id):  # a new deadline: no longer overdue
                tx.update_hazard(hazard_id, overdue_raised=False)
                tx.enqueue_alarm(texts.hazard_clear(hazard, by, now))
            return _must(tx.hazard(hazard_id))

        return self._locked(act)

    def rectify(self, hazard_id: int, note: str, by: str, photo_ids: Sequence[int] = ()) -> Hazard:
        """The owner reports the hazard rectified, saying how (and showing, with photos)."""
        now = self._clock.now()

        def act(tx: Tx) -> Hazard:
            hazard = self._hazard(tx, hazard_id)
            _check_state(hazard, (HazardState.ASSIGNED,), "rectify")
            if not note.strip():
                raise Refused("invalid", "say what was done", "请填写整改情况")
            stray = set(photo_ids) - set(tx.hazard_photo_ids(hazard_id))
            if stray:
                raise Refused(
                    "invalid",
                    f"photos {sorted(stray)} are not this hazard's",
                    f"照片 {sorted(stray)} 不属于该隐患",
                )
            tx.update_hazard(hazard_id, state=HazardState.RECTIFIED.value)
            tx.log_hazard(hazard_id, now, by, HazardState.RECTIFIED, note)
            if tx.hazard_overdue_raised(hazard_id):
                tx.update_hazard(hazard_id, overdue_raised=False)
                tx.enqueue_alarm(texts.hazard_clear(hazard, by, now))
            return _must(tx.hazard(hazard_id))

        return self._locked(act)

    def reinspect(self, hazard_id: int, accepted: bool, by: str, note: str = "") -> Hazard:
        """Re-inspection: accepted closes the loop, rejected sends it back to its owner."""
        now = self._clock.now()

        def act(tx: Tx) -> Hazard:
            hazard = self._hazard(tx, hazard_id)
            _check_state(hazard, (HazardState.RECTIFIED,), "re-inspect")
            if not accepted and not note.strip():
                raise Refused("invalid", "say why it is rejected", "请填写复查未通过的原因")
            state = HazardState.ACCEPTED if accepted else HazardState.ASSIGNED
            tx.update_hazard(hazard_id, state=state.value)
            text = note if accepted else f"复查未通过 / rejected: {note}"
            tx.log_hazard(hazard_id, now, by, state, text)
            return _must(tx.hazard(hazard_id))

        return self._locked(act)

    def file(self, hazard_id: int, by: str, note: str = "") -> Hazard:
        """File an accepted hazard: the record is complete."""
        now = self._clock.now()

        def act(tx: Tx) -> Hazard:
            hazard = self._hazard(tx, hazard_id)
            _check_state(hazard, (HazardState.ACCEPTED,), "file")
            tx.update_hazard(hazard_id, state=HazardState.FILED.value)
            tx.log_hazard(hazard_id, now, by, HazardState.FILED, note)
            return _must(tx.hazard(hazard_id))

        return self._locked(act)

    def ledger_csv(self, site: str, since: datetime, until: datetime) -> bytes:
        """The hazard ledger (台账) of hazards found in ``[since, until)``, as CSV bytes."""
        found = self._store.hazards(site=site, found_since=since, found_until=until)
        return ledger_csv(found, self._facility)

    # -- queries -------------------------------------------------------------------

    def task(self, task_id: int) -> Task | None:
        return self._store.task(task_id)

    def now(self) -> datetime:
        return self._clock.now()

    def local_today(self, site: str) -> date:
        return self._clock.now().astimezone(self._facility.sites[site].timezone).date()

    def tasks_for_day(self, site: str, local_date: date, role: str | None = None) -> list[Task]:
        return self._store.tasks_for_day(site, local_date, role)

    def open_tasks(self, site: str, role: str | None = None) -> list[Task]:
        return self._store.open_tasks(site, role)

    def tasks_between(self, site: str, since: datetime, until: datetime) -> list[Task]:
        return self._store.tasks_between(site, since, until)

    def last_signed(self, site: str, room: str, before: datetime) -> Task | None:
        return self._store.last_signed(site, room, before)

    def hazard(self, hazard_id: int) -> Hazard | None:
        return self._store.hazard(hazard_id)

    def hazards(
        self,
        *,
        site: str | None = None,
        states: Sequence[HazardState] | None = None,
        found_since: datetime | None = None,
        found_until: datetime | None = None,
    ) -> list[Hazard]:
        return self._store.hazards(
            site=site, states=states, found_since=found_since, found_until=found_until
        )

    def task_hazards(self, task_id: int) -> list[Hazard]:
        return self._store.task_hazards(task_id)

    def task_photos(self, task_id: int) -> list[Photo]:
        return self._store.task_photos(task_id)

    def photo(self, photo_id: int) -> tuple[Photo, bytes] | None:
        return self._store.photo(photo_id)

    @property
    def photo_limit(self) -> int:
        return self._photo_limit

    def prefill(self, task: Task) -> dict[str, Prefill]:
        """The room's current sensor values, by field, for the task's reading items."""
        if self._readings is None:
            return {}
        return current_readings(self._facility, self._readings, task, self._clock.now())

    # -- helpers -------------------------------------------------------------------

    def _locked(self, act: Callable[[Tx], T]) -> T:
        with self._lock:
            with self._store.begin() as tx:
                result = act(tx)
            self._flush()
            return result

    def _flush(self) -> None:
        """Hand decided alarm events to the alarm pipeline; what fails waits for the next
        tick (raising or clearing an alarm twice is harmless: they are keyed)."""
        for outbox_id, event in self._store.pending_alarms():
            try:
                self._alarms.publish([event])
            except Exception:
                log.exception(
                    "could not publish %s %s; retrying at the next tick",
                    event.transition,
                    event.key,
                )
                return
            self._store.mark_published(outbox_id, self._clock.now())

    def _seen(self, tx: Tx, client_id: str, kind: str, task_id: int) -> Any:  # noqa: ANN401 - a Row
        seen = tx.client_request(client_id)
        if seen is not None and (seen.kind != kind or seen.task_id != task_id):
            raise _reused(client_id)
        return seen

    def _task(self, tx: Tx, task_id: int) -> Task:
        task = tx.task(task_id)
        if task is None:
            raise Refused("not_found", f"no task {task_id}", f"没有任务 {task_id}")
        return task

    def _hazard(self, tx: Tx, hazard_id: int) -> Hazard:
        hazard = tx.hazard(hazard_id)
        if hazard is None:
            raise Refused("not_found", f"no hazard {hazard_id}", f"没有隐患 {hazard_id}")
        return hazard

    def _photo(self, photo_id: int) -> Photo:
        found = self._store.photo(photo_id)
        if found is None:
            raise Refused("not_found", f"no photo {photo_id}", f"没有照片 {photo_id}")
        return found[0]

    def _check_open(self, task: Task) -> None:
        if task.signed_at is not None:
            raise Refused(
                "conflict",
                f"task {task.id} is signed off; its answers are final",
                f"任务 {task.id} 已签到，不能再修改",
            )

    def _check_time(self, task: Task, at: datetime, now: datetime) -> datetime:
        """When the person acted: the phone's time, never later than now, not before
        the window opens."""
        if at.tzinfo is None:
            raise Refused("invalid", "a time needs its UTC offset", "时间须带时区")
        when = min(at.astimezone(UTC), now)
        if when < task.window_start - EARLY_TOLERANCE:
            zone = self._facility.sites[task.site].timezone
            opens = task.window_start.astimezone(zone)
            raise Refused(
                "invalid",
                f"task {task.id} opens at {opens:%Y-%m-%d %H:%M}",
                f"任务 {task.id} 于 {opens:%Y-%m-%d %H:%M} 开始",
            )
        return when


def _late(occurrence: Occurrence, now: datetime) -> bool:
    """Created after its window had opened (beyond the scheduler's own lag)."""
    return now > occurrence.window_start + LATE_GRACE


def _must(value: T | None) -> T:
    if value is None:
        raise LookupError("a row written in this transaction is gone")  # cannot happen
    return value


def _reused(client_id: str) -> Refused:
    return Refused(
        "conflict",
        f"request id {client_id!r} was used for another request",
        f"请求编号 {client_id!r} 已用于其他请求",
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_state(hazard: Hazard, allowed: Sequence[HazardState], action: str) -> None:
    if hazard.state not in allowed:
        raise Refused(
            "conflict",
            f"hazard {hazard.id} is {hazard.state}; it cannot be {action}ed now",
            f"隐患 {hazard.id} 当前状态为 {hazard.state}，不能执行此操作",
        )
