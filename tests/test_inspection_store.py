"""The inspection store on SQLite and PostgreSQL (skipped only when no server answers):
unique keys that make creating, answering and filing idempotent, UTC times back from a
server whose session zone is Shanghai, photos as bytes, and the alarm outbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from inspections.models import (
    ChecklistItem,
    HazardGrade,
    HazardState,
    ItemKind,
    Result,
    TaskSource,
    TaskStatus,
)
from inspections.store import InspectionStore, items_from_json, items_to_json
from inspections.tables import client_requests
from sensors.events import AlarmEvent, Category, Severity, Transition
from tests.test_alerts import pg_schema  # noqa: F401 - the fixture, for PostgreSQL runs
from tests.test_inspection_common import JPEG, local, state_engine

ITEMS = (
    ChecklistItem("doors", ItemKind.CHECK, "门窗上锁", "Doors locked"),
    ChecklistItem(
        "humidity",
        ItemKind.READING,
        "相对湿度",
        "Relative humidity",
        field="humidity",
        unit="%RH",
        minimum=45.0,
        maximum=55.0,
        hazard_grade=HazardGrade.DANGER,
    ),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InspectionStore]:
    with state_engine(request.param, tmp_path, request) as engine:
        found = InspectionStore(engine)
        found.start()
        yield found


def _task(key: str = "patrol:yunxi:B2-04:2026-01-05T08:30", **changes: object) -> dict[str, object]:
    values: dict[str, object] = {
        "key": key,
        "source": TaskSource.SCHEDULE.value,
        "site": "yunxi",
        "room": "B2-04",
        "floor": "F2",
        "template": "patrol",
        "cadence": "daily",
        "title_zh": "日巡查",
        "title_en": "Daily patrol",
        "role": "guard",
        "window_start": local(5, 8, 30),
        "window_end": local(5, 10),
        "local_date": date(2026, 1, 5),
        "created_at": local(5, 0),
        "created_late": False,
        "status": TaskStatus.OPEN.value,
        "items": items_to_json(ITEMS),
        "remind_at": local(5, 9, 30),
        "overdue_severity": Severity.MEDIUM.value,
    }
    return values | changes


def test_a_task_key_is_created_once(store: InspectionStore) -> None:
    with store.begin() as tx:
        first = tx.insert_task(**_task())
        again = tx.insert_task(**_task(title_en="Another"))
    assert first is not None
    assert again is None
    task = store.task(first)
    assert task is not None
    assert task.title_en == "Daily patrol"
    assert task.items == ITEMS
    # Times come back aware and in UTC, whatever the session's zone.
    assert task.window_start == local(5, 8, 30)
    assert task.window_start.tzinfo is UTC
    assert task.local_date == date(2026, 1, 5)


def test_checklist_items_survive_json() -> None:
    assert items_from_json(items_to_json(ITEMS)) == ITEMS


def test_answers_photos_and_the_request_ledger(store: InspectionStore) -> None:
    with store.begin() as tx:
        task_id = tx.insert_task(**_task())
        assert task_id is not None
        tx.put_answer(
            task_id,
            "humidity",
            result="fail",
            value=58.5,
            note="除湿机停机",
            answered_by="wang",
            answered_at=local(5, 9),
            received_at=local(5, 9, 1),
        )
        tx.put_answer(  # a second answer to the same item replaces the first
            task_id,
            "humidity",
            result="fail",
            value=58.0,
            note="复测",
            answered_by="wang",
            answered_at=local(5, 9, 5),
            received_at=local(5, 9, 6),
        )
        photo_id = tx.insert_photo(
            JPEG,
            task_id=task_id,
            item_key="humidity",
            content_type="image/jpeg",
            size=len(JPEG),
            sha256="0" * 64,
            taken_by="wang",
            taken_at=local(5, 9, 2),
            received_at=local(5, 9, 3),
        )
        tx.record_client_request("phone-1", "answer", local(5, 9), task_id=task_id)
    task = store.task(task_id)
    assert task is not None
    [answer] = task.answers
    assert (answer.result, answer.value, answer.note) == (Result.FAIL, 58.0, "复测")
    assert answer.answered_at == local(5, 9, 5)
    assert answer.photo_ids == (photo_id,)
    found = store.photo(photo_id)
    assert found is not None
    photo, data = found
    assert data == JPEG
    assert (photo.content_type, photo.task_id, photo.taken_at) == (
        "image/jpeg",
        task_id,
        local(5, 9, 2),
    )
    with pytest.raises(sa.exc.IntegrityError), store.begin() as tx:
        tx.record_client_request("phone-1", "answer", local(5, 9), task_id=task_id)
    with store.read() as tx:
        count = tx.conn.execute(sa.select(sa.func.count()).select_from(client_requests))
        assert count.scalar_one() == 1


def test_one_hazard_per_failed_item_with_its_log(store: InspectionStore) -> None:
    with store.begin() as tx:
        task_id = tx.insert_task(**_task())
        hazard = {
            "site": "yunxi",
            "room": "B2-04",
            "task_id": task_id,
            "item_key": "humidity",
            "title_zh": "湿度超限",
            "title_en": "Humidity out of limits",
            "grade": HazardGrade.DANGER.value,
            "state": HazardState.FOUND.value,
            "found_by": "wang",
            "found_at": local(5, 9),
        }
        first = tx.insert_hazard(**hazard)
        assert first is not None
        assert tx.insert_hazard(**hazard) is None
        # Hazards not from a task never collide (NULLs are distinct in a unique index).
        loose = hazard | {"task_id": None, "item_key": None}
        assert tx.insert_hazard(**loose) is not None
        assert tx.insert_hazard(**loose) is not None
        tx.log_hazard(first, local(5, 9), "wang", HazardState.FOUND, "除湿机停机")
        tx.update_hazard(first, state=HazardState.ASSIGNED.value, owner="he", deadline=local(7, 17))
        tx.log_hazard(first, local(5, 11), "chen", HazardState.ASSIGNED, "")
    found = store.hazard(first)
    assert found is not None
    assert (found.state, found.owner, found.deadline) == (
        HazardState.ASSIGNED,
        "he",
        local(7, 17),
    )
    assert [(e.state, e.by, e.at) for e in found.log] == [
        (HazardState.FOUND, "wang", local(5, 9)),
        (HazardState.ASSIGNED, "chen", local(5, 11)),
    ]
    assert len(store.hazards(site="yunxi")) == 3
    assert [h.id for h in store.hazards(states=[HazardState.ASSIGNED])] == [first]
    with store.read() as tx:
        assert [h.id for h in tx.hazards_past_deadline(local(7, 17))] == [first]
        assert tx.hazards_past_deadline(local(7, 16)) == []


def test_cursors_and_the_alarm_outbox(store: InspectionStore) -> None:
    with store.begin() as tx:
        assert tx.cursor("patrol", "yunxi") is None
        tx.set_cursor("patrol", "yunxi", local(5, 0))
        tx.set_cursor("patrol", "yunxi", local(6, 0))
        assert tx.cursor("patrol", "yunxi") == local(6, 0)
        event = AlarmEvent(
            key="inspection-overdue:1",
            transition=Transition.RAISE,
            rule="inspection_overdue",
            category=Category.INSPECTION,
            severity=Severity.MEDIUM,
            site="yunxi",
            room="B2-04",
            sensor=None,
            at=local(5, 10),
            message_zh="巡查逾期",
            message_en="Inspection overdue",
            value="1",
        )
        tx.enqueue_alarm(event)
    [(outbox_id, pending)] = store.pending_alarms()
    assert pending == event
    store.mark_published(outbox_id, local(5, 10) + timedelta(seconds=1))
    assert store.pending_alarms() == []


def test_reads_by_day_window_and_room(store: InspectionStore) -> None:
    with store.begin() as tx:
        morning = tx.insert_task(**_task())
        evening = tx.insert_task(
            **_task(
                "patrol:yunxi:B2-04:2026-01-05T16:30",
                window_start=local(5, 16, 30),
                window_end=local(5, 17, 30),
                role="guard",
            )
        )
        tx.insert_task(
            **_task(
                "weekly:yunxi:main/F3:2026-01-07T09:00",
                room=None,
                floor="F3",
                role="stack_manager",
                window_start=local(7, 9),
                window_end=local(7, 17),
                local_date=date(2026, 1, 7),
            )
        )
        assert morning is not None
        tx.update_task(morning, signed_by="wang", signed_at=local(5, 9, 40), status="done")
    monday = store.tasks_for_day("yunxi", date(2026, 1, 5))
    assert [t.id for t in monday] == [morning, evening]
    assert store.tasks_for_day("yunxi", date(2026, 1, 7), role="guard") == []
    assert len(store.tasks_between("yunxi", local(5, 0), local(12, 0))) == 3
    assert [t.id for t in store.open_tasks("yunxi", "guard")] == [evening]
    last = store.last_signed("yunxi", "B2-04", local(5, 16, 30))
    assert last is not None
    assert last.id == morning
    assert store.last_signed("yunxi", "B2-04", local(5, 9, 40)) is None
