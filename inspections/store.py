"""The inspection store: reads that return ``models`` dataclasses, and one transaction type.

``InspectionStore.begin()`` hands out a ``Tx``; the inspection service makes every
change of one action (a tick, an answer, a sign-off, a hazard step) through one ``Tx``,
so a task, its answers, its hazards and the alarm events they cause commit together.
Every time is stored as UTC and read back aware (``alerts.store.aware``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

from alerts.store import aware
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
from inspections.tables import (
    alarm_outbox,
    answers,
    client_requests,
    cursors,
    hazard_log,
    hazards,
    metadata,
    photos,
    tasks,
)
from sensors.events import AlarmEvent, Category, Severity, Transition

__all__ = ["InspectionStore", "Tx", "items_from_json", "items_to_json"]


class InspectionStore:
    """Tasks, answers, photos and hazards in the state database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @property
    def engine(self) -> Engine:
        return self._engine

    def start(self) -> None:
        metadata.create_all(self._engine)

    @contextmanager
    def begin(self) -> Iterator[Tx]:
        with self._engine.begin() as conn:
            yield Tx(conn)

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self._engine.connect() as conn:
            yield Tx(conn)

    # -- reads for the app, the console and the reports ------------------------------

    def task(self, task_id: int) -> Task | None:
        with self.read() as tx:
            return tx.task(task_id)

    def tasks_for_day(self, site: str, local_date: date, role: str | None = None) -> list[Task]:
        """A site's tasks of one local day (by the day they belong to), by window and place."""
        query = sa.select(tasks).where(tasks.c.site == site, tasks.c.local_date == local_date)
        if role is not None:
            query = query.where(tasks.c.role == role)
        with self.read() as tx:
            return tx.tasks_where(query)

    def open_tasks(self, site: str, role: str | None = None) -> list[Task]:
        """A site's unsigned tasks (open, or missed and still to be done late)."""
        query = sa.select(tasks).where(
            tasks.c.site == site,
            tasks.c.status.in_([TaskStatus.OPEN.value, TaskStatus.MISSED.value]),
        )
        if role is not None:
            query = query.where(tasks.c.role == role)
        with self.read() as tx:
            return tx.tasks_where(query)

    def tasks_between(self, site: str, since: datetime, until: datetime) -> list[Task]:
        """A site's tasks whose window starts in ``[since, until)``, for the reports."""
        query = sa.select(tasks).where(
            tasks.c.site == site,
            tasks.c.window_start >= _utc(since),
            tasks.c.window_start < _utc(until),
        )
        with self.read() as tx:
            return tx.tasks_where(query)

    def last_signed(self, site: str, room: str, before: datetime) -> Task | None:
        """The room's latest task signed before ``before`` (the app shows the alarms since)."""
        query = (
            sa.select(tasks)
            .where(
                tasks.c.site == site,
                tasks.c.room == room,
                tasks.c.signed_at.is_not(None),
                tasks.c.signed_at < _utc(before),
            )
            .order_by(tasks.c.signed_at.desc())
            .limit(1)
        )
        with self.read() as tx:
            found = tx.tasks_where(query)
        return found[0] if found else None

    def hazard(self, hazard_id: int) -> Hazard | None:
        with self.read() as tx:
            return tx.hazard(hazard_id)

    def hazards(
        self,
        *,
        site: str | None = None,
        states: Sequence[HazardState] | None = None,
        found_since: datetime | None = None,
        found_until: datetime | None = None,
    ) -> list[Hazard]:
        """Hazards, oldest found first."""
        query = sa.select(hazards)
        if site is not None:
            query = query.where(hazards.c.site == site)
        if states is not None:
            query = query.where(hazards.c.state.in_([s.value for s in states]))
        if found_since is not None:
            query = query.where(hazards.c.found_at >= _utc(found_since))
        if found_until is not None:
            query = query.where(hazards.c.found_at < _utc(found_until))
        with self.read() as tx:
            return tx.hazards_where(query.order_by(hazards.c.found_at, hazards.c.id))

    def task_hazards(self, task_id: int) -> list[Hazard]:
        """The hazards a task's failed items opened."""
        with self.read() as tx:
            return tx.hazards_where(
                sa.select(hazards).where(hazards.c.task_id == task_id).order_by(hazards.c.id)
            )

    def task_photos(self, task_id: int) -> list[Photo]:
        """A task's photos (without their bytes), oldest first."""
        columns = [c for c in photos.c if c.name != "data"]
        with self.read() as tx:
            rows = tx.conn.execute(
                sa.select(*columns).where(photos.c.task_id == task_id).order_by(photos.c.id)
            )
            return [_to_photo(row) for row in rows]

    def photo(self, photo_id: int) -> tuple[Photo, bytes] | None:
        with self.read() as tx:
            row = tx.conn.execute(sa.select(photos).where(photos.c.id == photo_id)).first()
        return None if row is None else (_to_photo(row), bytes(row.data))

    def pending_alarms(self) -> list[tuple[int, AlarmEvent]]:
        """Alarm events decided but not yet handed to the alarm pipeline, in order."""
        with self.read() as tx:
            rows = tx.conn.execute(
                sa.select(alarm_outbox)
                .where(alarm_outbox.c.published_at.is_(None))
                .order_by(alarm_outbox.c.id)
            )
            return [(row.id, _to_event(row)) for row in rows]

    def mark_published(self, outbox_id: int, at: datetime) -> None:
        with self.begin() as tx:
            tx.conn.execute(
                alarm_outbox.update()
                .where(alarm_outbox.c.id == outbox_id)
                .values(published_at=_utc(at))
            )


class Tx:
    """One transaction's reads and writes; the inspection service composes them."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- tasks ---------------------------------------------------------------------

    def insert_task(self, **values: Any) -> int | None:  # noqa: ANN401
        """A new task's id, or None when a task with its key exists already."""
        return self._insert_ignore(tasks, values, ("key",))

    def task(self, task_id: int) -> Task | None:
        found = self.tasks_where(sa.select(tasks).where(tasks.c.id == task_id))
        return found[0] if found else None

    def task_row(self, task_id: int) -> Any | None:  # noqa: ANN401 - a SQLAlchemy Row
        return self.conn.execute(sa.select(tasks).where(tasks.c.id == task_id)).first()

    def update_task(self, task_id: int, **values: Any) -> None:  # noqa: ANN401
        self.conn.execute(tasks.update().where(tasks.c.id == task_id).values(**values))

    def tasks_where(self, query: sa.Select[Any]) -> list[Task]:
        rows = list(self.conn.execute(query.order_by(tasks.c.window_start, tasks.c.id)))
        ids = [row.id for row in rows]
        given = self._answers(ids)
        return [_to_task(row, given.get(row.id, ())) for row in rows]

    def rows_to_remind(self, now: datetime) -> list[Any]:
        return list(
            self.conn.execute(
                sa.select(tasks).where(
                    tasks.c.status == TaskStatus.OPEN.value,
                    tasks.c.reminded.is_(False),
                    tasks.c.remind_at <= _utc(now),
                    tasks.c.window_end > _utc(now),
                )
            )
        )

    def rows_to_close(self, now: datetime) -> list[Any]:
        return list(
            self.conn.execute(
                sa.select(tasks)
                .where(tasks.c.status == TaskStatus.OPEN.value, tasks.c.window_end <= _utc(now))
                .order_by(tasks.c.window_end, tasks.c.id)
            )
        )

    def open_rule_task(self, request_key: str) -> int | None:
        row = self.conn.execute(
            sa.select(tasks.c.id).where(
                tasks.c.request_key == request_key, tasks.c.status == TaskStatus.OPEN.value
            )
        ).first()
        return None if row is None else int(row.id)

    def cursor(self, template: str, site: str) -> datetime | None:
        row = self.conn.execute(
            sa.select(cursors.c.until).where(cursors.c.template == template, cursors.c.site == site)
        ).first()
        return None if row is None else aware(row.until)

    def set_cursor(self, template: str, site: str, until: datetime) -> None:
        updated = self.conn.execute(
            cursors.update()
            .where(cursors.c.template == template, cursors.c.site == site)
            .values(until=_utc(until))
        )
        if updated.rowcount == 0:
            self.conn.execute(
                cursors.insert().values(template=template, site=site, until=_utc(until))
            )

    # -- answers and photos --------------------------------------------------------

    def answer(self, task_id: int, item_key: str) -> Answer | None:
        given = self._answers([task_id]).get(task_id, ())
        return next((a for a in given if a.item_key == item_key), None)

    def put_answer(self, task_id: int, item_key: str, **values: Any) -> None:  # noqa: ANN401
        values = {k: _utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
        updated = self.conn.execute(
            answers.update()
            .where(answers.c.task_id == task_id, answers.c.item_key == item_key)
            .values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(answers.insert().values(task_id=task_id, item_key=item_key, **values))

    def insert_photo(self, data: bytes, **values: Any) -> int:  # noqa: ANN401
        values = {k: _utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
        result = self.conn.execute(photos.insert().values(data=data, **values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def photo_ids(self, *, task_id: int, item_key: str) -> tuple[int, ...]:
        rows = self.conn.execute(
            sa.select(photos.c.id)
            .where(photos.c.task_id == task_id, photos.c.item_key == item_key)
            .order_by(photos.c.id)
        )
        return tuple(row.id for row in rows)

    def hazard_photo_ids(self, hazard_id: int) -> tuple[int, ...]:
        rows = self.conn.execute(
            sa.select(photos.c.id).where(photos.c.hazard_id == hazard_id).order_by(photos.c.id)
        )
        return tuple(row.id for row in rows)

    def client_request(self, client_id: str) -> Any | None:  # noqa: ANN401 - a Row
        return self.conn.execute(
            sa.select(client_requests).where(client_requests.c.client_id == client_id)
        ).first()

    def record_client_request(self, client_id: str, kind: str, at: datetime, **refs: Any) -> None:  # noqa: ANN401
        self.conn.execute(
            client_requests.insert().values(
                client_id=client_id, kind=kind, received_at=_utc(at), **refs
            )
        )

    # -- hazards -------------------------------------------------------------------

    def insert_hazard(self, **values: Any) -> int | None:  # noqa: ANN401
        """A new hazard's id, or None when its (task, item) has one already."""
        return self._insert_ignore(hazards, values, ("task_id", "item_key"))

    def hazard(self, hazard_id: int) -> Hazard | None:
        found = self.hazards_where(sa.select(hazards).where(hazards.c.id == hazard_id))
        return found[0] if found else None

    def hazard_for_item(self, task_id: int, item_key: str) -> Hazard | None:
        found = self.hazards_where(
            sa.select(hazards).where(hazards.c.task_id == task_id, hazards.c.item_key == item_key)
        )
        return found[0] if found else None

    def hazard_overdue_raised(self, hazard_id: int) -> bool:
        row = self.conn.execute(
            sa.select(hazards.c.overdue_raised).where(hazards.c.id == hazard_id)
        ).first()
        return bool(row and row.overdue_raised)

    def update_hazard(self, hazard_id: int, **values: Any) -> None:  # noqa: ANN401
        values = {k: _utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
        self.conn.execute(hazards.update().where(hazards.c.id == hazard_id).values(**values))

    def delete_hazard(self, hazard_id: int) -> None:
        self.conn.execute(hazard_log.delete().where(hazard_log.c.hazard_id == hazard_id))
        self.conn.execute(hazards.delete().where(hazards.c.id == hazard_id))

    def log_hazard(
        self, hazard_id: int, at: datetime, by: str, state: HazardState, note: str = ""
    ) -> None:
        self.conn.execute(
            hazard_log.insert().values(
                hazard_id=hazard_id, at=_utc(at), by=by, state=state.value, note=note
            )
        )

    def hazards_past_deadline(self, now: datetime) -> list[Hazard]:
        return self.hazards_where(
            sa.select(hazards).where(
                hazards.c.state == HazardState.ASSIGNED.value,
                hazards.c.overdue_raised.is_(False),
                hazards.c.deadline.is_not(None),
                hazards.c.deadline <= _utc(now),
            )
        )

    def hazards_where(self, query: sa.Select[Any]) -> list[Hazard]:
        rows = list(self.conn.execute(query))
        ids = [row.id for row in rows]
        logs: dict[int, list[HazardLogEntry]] = defaultdict(list)
        pictures: dict[int, list[int]] = defaultdict(list)
        if ids:
            for entry in self.conn.execute(
                sa.select(hazard_log)
                .where(hazard_log.c.hazard_id.in_(ids))
                .order_by(hazard_log.c.id)
            ):
                logs[entry.hazard_id].append(
                    HazardLogEntry(
                        at=_must(aware(entry.at)),
                        by=entry.by,
                        state=HazardState(entry.state),
                        note=entry.note or "",
                    )
                )
            items = {(row.task_id, row.item_key): row.id for row in rows if row.task_id}
            found = sa.or_(
                photos.c.hazard_id.in_(ids),
                *(sa.and_(photos.c.task_id == t, photos.c.item_key == k) for t, k in items),
            )
            for photo in self.conn.execute(
                sa.select(photos.c.id, photos.c.hazard_id, photos.c.task_id, photos.c.item_key)
                .where(found)
                .order_by(photos.c.id)
            ):
                owner = photo.hazard_id or items.get((photo.task_id, photo.item_key))
                if owner is not None:
                    pictures[owner].append(photo.id)
        return [_to_hazard(row, logs[row.id], pictures[row.id]) for row in rows]

    # -- alarm events, published after commit --------------------------------------

    def enqueue_alarm(self, event: AlarmEvent) -> None:
        self.conn.execute(
            alarm_outbox.insert().values(
                key=event.key,
                transition=event.transition.value,
                rule=event.rule,
                severity=event.severity.value,
                site=event.site,
                room=event.room,
                at=_utc(event.at),
                message_zh=event.message_zh,
                message_en=event.message_en,
                value=None if event.value is None else str(event.value)[:100],
            )
        )

    # -- helpers -------------------------------------------------------------------

    def _answers(self, task_ids: Sequence[int]) -> dict[int, tuple[Answer, ...]]:
        if not task_ids:
            return {}
        pictures: dict[tuple[int, str], list[int]] = defaultdict(list)
        for row in self.conn.execute(
            sa.select(photos.c.id, photos.c.task_id, photos.c.item_key)
            .where(photos.c.task_id.in_(task_ids), photos.c.item_key.is_not(None))
            .order_by(photos.c.id)
        ):
            pictures[(row.task_id, row.item_key)].append(row.id)
        found: dict[int, list[Answer]] = defaultdict(list)
        for row in self.conn.execute(
            sa.select(answers).where(answers.c.task_id.in_(task_ids)).order_by(answers.c.id)
        ):
            found[row.task_id].append(
                Answer(
                    item_key=row.item_key,
                    result=Result(row.result),
                    answered_by=row.answered_by,
                    answered_at=_must(aware(row.answered_at)),
                    value=row.value,
                    note=row.note or "",
                    photo_ids=tuple(pictures.get((row.task_id, row.item_key), ())),
                )
            )
        return {task_id: tuple(given) for task_id, given in found.items()}

    def _insert_ignore(
        self, table: sa.Table, values: dict[str, Any], conflict: Sequence[str]
    ) -> int | None:
        values = {k: _utc(v) if isinstance(v, datetime) else v for k, v in values.items()}
        dialect = self.conn.dialect.name
        if dialect == "postgresql":
            statement: Any = pg_insert(table).values(**values)
        elif dialect == "sqlite":
            statement = sqlite_insert(table).values(**values)
        else:  # pragma: no cover - the state database is SQLite or PostgreSQL
            raise NotImplementedError(f"no insert-or-ignore for {dialect}")
        statement = statement.on_conflict_do_nothing(index_elements=list(conflict))
        row = self.conn.execute(statement.returning(table.c.id)).first()
        return None if row is None else int(row.id)


def items_to_json(items: Sequence[ChecklistItem]) -> str:
    return json.dumps(
        [
            {
                "key": i.key,
                "kind": i.kind.value,
                "label_zh": i.label_zh,
                "label_en": i.label_en,
                "photo": i.photo.value,
                "field": i.field,
                "unit": i.unit,
                "minimum": i.minimum,
                "maximum": i.maximum,
                "hazard_grade": i.hazard_grade.value,
            }
            for i in items
        ],
        ensure_ascii=False,
    )


def items_from_json(text: str) -> tuple[ChecklistItem, ...]:
    return tuple(
        ChecklistItem(
            key=i["key"],
            kind=ItemKind(i["kind"]),
            label_zh=i["label_zh"],
            label_en=i["label_en"],
            photo=PhotoRule(i["photo"]),
            field=i["field"],
            unit=i["unit"],
            minimum=i["minimum"],
            maximum=i["maximum"],
            hazard_grade=HazardGrade(i["hazard_grade"]),
        )
        for i in json.loads(text)
    )


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime: which time zone?")  # every time here is aware
    return value.astimezone(UTC)


def _must(value: datetime | None) -> datetime:
    if value is None:
        raise ValueError("a required time is missing")  # the schema forbids it
    return value


def _to_task(row: Any, given: tuple[Answer, ...]) -> Task:  # noqa: ANN401 - a Row
    return Task(
        id=row.id,
        key=row.key,
        source=TaskSource(row.source),
        site=row.site,
        room=row.room,
        floor=row.floor,
        template=row.template,
        cadence=None if row.cadence is None else Cadence(row.cadence),
        title_zh=row.title_zh,
        title_en=row.title_en,
        role=row.role,
        window_start=_must(aware(row.window_start)),
        window_end=_must(aware(row.window_end)),
        created_at=_must(aware(row.created_at)),
        created_late=bool(row.created_late),
        status=TaskStatus(row.status),
        items=items_from_json(row.items),
        answers=given,
        signed_by=row.signed_by,
        signed_at=aware(row.signed_at),
        checkpoint=row.checkpoint,
        local_date=row.local_date,
        synced_at=aware(row.synced_at),
    )


def _to_hazard(row: Any, log: list[HazardLogEntry], photo_ids: list[int]) -> Hazard:  # noqa: ANN401
    return Hazard(
        id=row.id,
        site=row.site,
        room=row.room,
        task_id=row.task_id,
        item_key=row.item_key,
        title_zh=row.title_zh,
        title_en=row.title_en,
        grade=HazardGrade(row.grade),
        state=HazardState(row.state),
        found_by=row.found_by,
        found_at=_must(aware(row.found_at)),
        owner=row.owner,
        deadline=aware(row.deadline),
        note=row.note or "",
        photo_ids=tuple(photo_ids),
        log=tuple(log),
    )


def _to_photo(row: Any) -> Photo:  # noqa: ANN401
    return Photo(
        id=row.id,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        taken_by=row.taken_by,
        taken_at=_must(aware(row.taken_at)),
        task_id=row.task_id,
        item_key=row.item_key,
        hazard_id=row.hazard_id,
    )


def _to_event(row: Any) -> AlarmEvent:  # noqa: ANN401
    return AlarmEvent(
        key=row.key,
        transition=Transition(row.transition),
        rule=row.rule,
        category=Category.INSPECTION,
        severity=Severity(row.severity),
        site=row.site,
        room=row.room,
        sensor=None,
        at=_must(aware(row.at)),
        message_zh=row.message_zh,
        message_en=row.message_en,
        value=row.value,
    )
