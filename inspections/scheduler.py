"""APScheduler (3.x) wakes the inspection service at each template's creation times.

One job per template and site, in a persistent SQLAlchemy job store in the state
database, with the template's trigger in the site's time zone (``schedule.wake_trigger``).
A job store keeps a job's function as text (``module:name``) and its arguments pickled,
so a job cannot hold the service: the job's function is the module-level ``wake``, which
only names what woke up, and this scheduler's own executor runs the service's ``tick()``
for it. No module-level registry or singleton is involved.

Why a restart neither duplicates nor skips:

- the jobs survive in the store with their next run time; ``start()`` keeps a job whose
  trigger is unchanged, so a run missed while Lantai was down is still due, and runs at
  once (``misfire_grace_time=None``: never too late; ``coalesce``: several missed runs
  run once);
- what the run does is ``tick()``, which creates every occurrence after the template's
  durable cursor (the missed ones, marked created late) under unique task keys. The
  scheduler only decides *when* to look; the cursor and the keys decide *what* exists.

A second, in-memory interval job ticks every minute for the timers (reminders, windows
closing, hazard deadlines) and as a backstop for the cron jobs.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.engine import Engine

from inspections.schedule import wake_trigger
from inspections.service import InspectionService
from sensors.clock import Clock, SystemClock

log = logging.getLogger(__name__)

JOB_TABLE = "inspection_jobs"
TIMER_JOB = "inspection-timers"
_WAKE_REF = "inspections.scheduler:wake"


def wake(template: str, site: str) -> None:
    """The function a template's job is stored under (APScheduler needs a textual
    reference). ``InspectionScheduler``'s executor runs the service's ``tick()`` in its
    place; called any other way, it does nothing."""
    log.debug("wake-up for %s at %s outside InspectionScheduler: nothing to do", template, site)


def job_id(template: str, site: str) -> str:
    return f"inspection:{template}:{site}"


@dataclass(frozen=True, slots=True)
class Wakeup:
    """One run: which job, the run time it stood for, and when it actually ran."""

    job: str
    scheduled: datetime
    ran_at: datetime


class _TickExecutor(BaseExecutor):  # type: ignore[misc] # APScheduler ships no types
    """Runs ``run(job id, run times)`` on one worker thread instead of the job's function."""

    def __init__(self, run: Callable[[str, list[datetime]], None]) -> None:
        super().__init__()
        self._run = run
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="inspections")

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:  # noqa: ANN401
        def call() -> list[JobExecutionEvent]:
            self._run(job.id, run_times)
            store = job._jobstore_alias  # noqa: SLF001 - what APScheduler's executors use
            return [JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, store, t) for t in run_times]

        def done(future: concurrent.futures.Future[list[JobExecutionEvent]]) -> None:
            error = future.exception()
            if error is not None:
                self._run_job_error(job.id, error, error.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        self._pool.submit(call).add_done_callback(done)

    def shutdown(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)


class InspectionScheduler:
    """Start and stop the wake-ups of one inspection service (``lantai.service`` does)."""

    def __init__(
        self,
        service: InspectionService,
        engine: Engine,
        *,
        timer_seconds: float = 60.0,
        keep_wakeups: int = 50,
        wall_clock: Clock | None = None,
    ) -> None:
        self._service = service
        # APScheduler runs on the wall clock whatever the service's clock is (a test's
        # fake one): the times recorded here are the wall clock's too.
        self._wall = wall_clock or SystemClock()
        self._engine = engine
        self._timer_seconds = timer_seconds
        self._lock = threading.Lock()
        self._wakeups: deque[Wakeup] = deque(maxlen=keep_wakeups)
        self._scheduler: BackgroundScheduler | None = None

    @property
    def wakeups(self) -> list[Wakeup]:
        """The latest runs, oldest first (for health pages and tests)."""
        with self._lock:
            return list(self._wakeups)

    @property
    def running(self) -> bool:
        return self._scheduler is not None and bool(self._scheduler.running)

    def start(self) -> None:
        """Create the tables, bring the stored jobs in line with the templates, and run."""
        self._service.store.start()
        scheduler = BackgroundScheduler(
            jobstores={
                "default": SQLAlchemyJobStore(engine=self._engine, tablename=JOB_TABLE),
                "timers": MemoryJobStore(),
            },
            executors={"default": _TickExecutor(self._run)},
            job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
            timezone=UTC,
        )
        # Paused: reconcile first, so that a job about to be replaced does not run.
        scheduler.start(paused=True)
        self._reconcile(scheduler)
        scheduler.add_job(
            wake,
            "interval",
            args=("timers", ""),
            id=TIMER_JOB,
            jobstore="timers",
            seconds=self._timer_seconds,
            next_run_time=self._wall.now(),  # tick at once: catch up before the first minute
        )
        self._scheduler = scheduler
        scheduler.resume()

    def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        self._scheduler = None

    def stored_jobs(self) -> dict[str, datetime | None]:
        """The persistent jobs and their next run times (UTC)."""
        if self._scheduler is None:
            return {}
        return {
            job.id: None if job.next_run_time is None else job.next_run_time.astimezone(UTC)
            for job in self._scheduler.get_jobs(jobstore="default")
        }

    def _reconcile(self, scheduler: BackgroundScheduler) -> None:
        facility = self._service.facility
        wanted = {
            job_id(template.id, site): (template, site)
            for template in self._service.templates
            for site in facility.sites
            if template.applies_to_site(site)
        }
        stored = {job.id: job for job in scheduler.get_jobs(jobstore="default")}
        for old in set(stored) - set(wanted):
            scheduler.remove_job(old, jobstore="default")
            log.info("removed the job of a template no longer configured: %s", old)
        for name, (template, site) in wanted.items():
            trigger = wake_trigger(template, facility.sites[site].timezone)
            job = stored.get(name)
            if job is not None and repr(job.trigger) == repr(trigger):
                continue  # keep its next run time, even one missed while Lantai was down
            scheduler.add_job(
                _WAKE_REF,
                trigger,
                args=(template.id, site),
                id=name,
                name=f"{template.title_en} ({site})",
                jobstore="default",
                replace_existing=True,
            )

    def _run(self, job: str, run_times: list[datetime]) -> None:
        result = self._service.tick()
        ran_at = self._wall.now()
        with self._lock:
            self._wakeups.append(Wakeup(job, run_times[-1].astimezone(UTC), ran_at))
        if result.created:
            log.info(
                "%s: created %d inspection tasks (%d late)",
                job,
                result.created,
                result.created_late,
            )
