"""The alarm service: records what the rules report and sees that a person hears of it.

It implements ``sensors.events.AlarmSink``. Each event passes the stages of delivery in
order (style-anchors.md §5.6), all inside one database transaction:

    record (ISA-18.2 lifecycle) → silence (shelved, maintenance window) →
    inhibit (chattering, flood) → dedup (incident grouping) → escalate → outbox

and the outbox's worker then notifies and retries (``alerts.outbox``). Acknowledging,
shelving and the timers (``tick``) go through the same lock and the same transaction
type, so nothing interleaves and a crash leaves every change whole or absent.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TypeVar

import sqlalchemy as sa

from alerts import outbox as box
from alerts.escalation import Escalation, Firing, due, escalate_now, next_due
from alerts.flood import FloodDetector
from alerts.lifecycle import Action, step
from alerts.listeners import ChangeListener
from alerts.messages import Brief, render
from alerts.models import Alarm, AlarmChange, AlarmState, Change, MaintenanceWindow, Via
from alerts.notifiers import Channel, MessageKind, Notifier
from alerts.paging import Paging
from alerts.routing import Policy, Recipient, Routing
from alerts.store import AlarmStore, Incident, OutboxRow, Tx
from alerts.tables import inbound
from sensors.clock import Clock
from sensors.duration import format_duration
from sensors.events import AlarmEvent, Category, Severity, Transition
from sensors.facility import Facility

log = logging.getLogger(__name__)

T = TypeVar("T")
_RAISES = (Change.RAISED.value, Change.RERAISED.value)
NOTIFY_FAILING_RULE = "notification_failing"
# An alarm message's dedup key begins incident/round/step/reminder (see _fire).
_STEP_KEY_PARTS = 4
_CHANNEL_ZH = {
    Channel.SMS: "短信",
    Channel.VOICE: "电话",
    Channel.EMAIL: "邮件",
    Channel.WEBHOOK: "接口",
}


class Refused(Exception):  # noqa: N818 - reads as "the action was refused"
    """An operator action that cannot be done; ``reason`` is for the HTTP status."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason  # not_found | forbidden | invalid | conflict
        self.message = message


@dataclass(slots=True)
class AlarmStats:
    events: int = 0
    changes: int = 0
    listener_failures: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """What to answer an SMS reply or a keypress with."""

    ok: bool
    text: str
    language: str


class AlarmService:
    def __init__(
        self,
        store: AlarmStore,
        facility: Facility,
        clock: Clock,
        *,
        routing: Routing | None = None,
        notifiers: Mapping[Channel, Notifier] | None = None,
        listeners: Sequence[ChangeListener] = (),
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._facility = facility
        self._clock = clock
        self.routing = routing or Routing.empty(facility)
        self._config = self.routing.config
        self._listeners = list(listeners)
        # Rules publish from the ingest thread and the timers' thread; the console acts
        # from its threads and the outbox records from its own. One writer at a time.
        self._lock = threading.RLock()
        self._flood = FloodDetector(self._config.flood)
        self._failing: set[tuple[str, Channel]] = set()
        self.outbox = box.Outbox(
            store, notifiers or {}, clock, self._config.delivery, self, self._lock, rng=rng
        )
        self.stats = AlarmStats()

    # -- life --------------------------------------------------------------------------

    def start(self, *, deliver: bool = True) -> None:
        """Create tables, restore flood and channel state; ``deliver`` starts the worker
        (tests on a fake clock call ``outbox.deliver_due()`` themselves)."""
        self._store.start()
        now = self._clock.now()
        with self._lock, self._store.begin() as tx:
            for site in self._facility.sites:
                raised = tx.log_times(_RAISES, now - self._config.flood.window, site)
                flooded = len(raised) >= self._config.flood.leave_below and (
                    tx.latest_incident(site, None, flood=True) is not None
                )
                self._flood.seed(site, raised, flooded=flooded)
        for alarm in self._store.list(states=(AlarmState.UNACKED, AlarmState.ACKED)):
            if alarm.rule == NOTIFY_FAILING_RULE and alarm.key.count(":") == 2:  # noqa: PLR2004
                self._failing.add((alarm.site, Channel(alarm.key.rsplit(":", 1)[1])))
        if deliver:
            self.outbox.start()
        else:
            self.outbox.recover()

    def stop(self) -> None:
        self.outbox.stop()

    # -- the rules' side (AlarmSink) ---------------------------------------------------

    def publish(self, events: Sequence[AlarmEvent]) -> None:
        for event in events:
            changes = self._locked(partial(self._record, event=event))
            self.stats.events += 1
            self._announce(changes)

    def _record(self, tx: Tx, *, event: AlarmEvent) -> list[AlarmChange]:
        now = self._clock.now()
        current = tx.open_alarm(event.key)
        action = Action.RAISE if event.transition is Transition.RAISE else Action.CLEAR
        result = step(current.state if current else None, action)
        if result is None:
            return []
        state, change = result
        at = event.at.astimezone(UTC)  # stored as UTC whatever zone the event came in
        value = None if event.value is None else str(event.value)[:100]
        texts = {"message_zh": event.message_zh, "message_en": event.message_en}
        if current is None:
            alarm_id = tx.insert_alarm(
                key=event.key,
                rule=event.rule,
                category=event.category.value,
                severity=event.severity.value,
                state=state.value,
                site=event.site,
                room=event.room,
                sensor=event.sensor,
                raised_at=at,
                last_at=at,
                cleared_at=None,
                times_raised=1,
                last_value=value,
                chattering=False,
                **texts,
            )
        else:
            alarm_id = current.id
            values: dict[str, object] = {"state": state.value, "last_at": at}
            if action is Action.RAISE:
                values |= {"times_raised": current.count + 1, "last_value": value, **texts}
                if change is Change.RERAISED:
                    values["cleared_at"] = None
            else:
                values["cleared_at"] = at
            tx.update_alarm(alarm_id, **values)
        tx.log(
            site=event.site,
            at=at,
            action=change.value,
            by=f"rule:{event.rule}",
            via=Via.RULE,
            alarm_id=alarm_id,
            incident_id=current.incident_id if current else None,
            key=event.key,
            comment=None if value is None else f"value {value}",
        )
        alarm = _must(tx.alarm(alarm_id))
        if change in (Change.RAISED, Change.RERAISED):
            alarm = self._on_raise(tx, alarm, change, now)
        elif change in (Change.CLEARED, Change.CLOSED) and alarm.incident_id is not None:
            self._quieten(tx, alarm.incident_id, now)
        return [AlarmChange(change, alarm)]

    def _on_raise(self, tx: Tx, alarm: Alarm, change: Change, now: datetime) -> Alarm:
        """Silence, inhibit, group and escalate a newly raised alarm."""
        self._mark(tx, alarm, change, now)
        incident, rose = self._group(tx, alarm, now)
        alarm = _must(tx.alarm(alarm.id))
        if not self._pageable(alarm, now):
            return alarm
        if incident.paging == Paging.RUNNING:
            if rose:  # a fire joins the smoke: a new round under the fire's policy
                self._start_round(tx, incident, now, "severity rose")
        elif alarm.chattering and incident.round > 0:
            self._note(tx, alarm, now, "not_notified", "chattering: told once already")
        else:
            self._start_round(tx, incident, now, "new alarm")
        return alarm

    def _mark(self, tx: Tx, alarm: Alarm, change: Change, now: datetime) -> None:
        """Chattering (§5.2: raised 3 times within a minute) and maintenance windows."""
        chatter = self._config.chatter
        if not alarm.chattering:
            cycles = tx.count_log(_RAISES, alarm.last_at - chatter.window, key=alarm.key)
            if cycles >= chatter.cycles:
                tx.update_alarm(alarm.id, chattering=True)
                self._note(tx, alarm, now, "chattering", f"{cycles} raises within {chatter.window}")
        if change is Change.RAISED:
            window = tx.window_covering(alarm.site, alarm.room, alarm.sensor, now)
            if window is not None:
                tx.update_alarm(alarm.id, suppressed_by=window.id)
                self._note(tx, alarm, now, "suppressed", _window_text(window))

    def _group(self, tx: Tx, alarm: Alarm, now: datetime) -> tuple[Incident, bool]:
        """The alarm's incident, and whether the alarm raised the incident's severity."""
        flooded = self._flood.observe(alarm.site, now)
        if alarm.incident_id is None:
            incident = self._incident_for(tx, alarm, now, flooded=flooded)
            tx.update_alarm(alarm.id, incident_id=incident.id)
        else:
            incident = _must(tx.incident(alarm.incident_id))
        rose = alarm.severity.rank < incident.severity.rank
        if rose or incident.last_raised_at < now:
            severity = alarm.severity if rose else incident.severity
            tx.update_incident(incident.id, severity=severity.value, last_raised_at=now)
            incident = replace(incident, severity=severity, last_raised_at=now)
        return incident, rose

    def _incident_for(self, tx: Tx, alarm: Alarm, now: datetime, *, flooded: bool) -> Incident:
        if flooded:
            latest = tx.latest_incident(alarm.site, None, flood=True)
            if latest is not None and latest.last_raised_at > now - self._config.flood.window:
                return latest
            incident = self._new_incident(tx, alarm, now, flood=True)
            # The flood's first alarms opened incidents that have told nobody yet: fold
            # them into the summary rather than send each (archive-standards.md §5.2).
            for waiting in tx.unnotified_incidents(alarm.site):
                tx.move_alarms(waiting.id, incident.id)
                tx.update_incident(waiting.id, paging=Paging.MERGED.value, next_due_at=None)
                if waiting.severity.rank < incident.severity.rank:
                    tx.update_incident(incident.id, severity=waiting.severity.value)
                    incident = replace(incident, severity=waiting.severity)
            _system_note(
                tx,
                alarm.site,
                incident.id,
                now,
                "flood",
                "alarm flood: new alarms are told as one summary",
            )
            return incident
        latest = tx.latest_incident(alarm.site, alarm.room, flood=False)
        if latest is not None and latest.last_raised_at >= now - self._config.group_window:
            return latest
        return self._new_incident(tx, alarm, now, flood=False)

    def _new_incident(self, tx: Tx, alarm: Alarm, now: datetime, *, flood: bool) -> Incident:
        incident_id = tx.insert_incident(
            site=alarm.site,
            room=None if flood else alarm.room,
            flood=flood,
            severity=alarm.severity.value,
            opened_at=now,
            last_raised_at=now,
            paging=Paging.IDLE.value,
            round=0,
            esc_advance_s=0.0,
            esc_next_step=0,
            esc_reminders="",
        )
        return _must(tx.incident(incident_id))

    def _pageable(self, alarm: Alarm, now: datetime) -> bool:
        """Somebody must be called: active, unacknowledged, not shelved or suppressed."""
        return (
            alarm.state is AlarmState.UNACKED
            and not alarm.shelved(now)
            and alarm.suppressed_by is None
        )

    # -- escalation --------------------------------------------------------------------

    def _start_round(self, tx: Tx, incident: Incident, now: datetime, why: str) -> None:
        box.cancel(tx, incident.id)  # the old round's queued messages give way
        policy = self.routing.policy_for(incident.site, incident.severity)
        round_ = incident.round + 1
        if policy is None:
            tx.update_incident(incident.id, paging=Paging.CONSOLE.value, round=round_)
            _system_note(
                tx,
                incident.site,
                incident.id,
                now,
                "console_only",
                f"no escalation policy for {incident.severity} alarms",
            )
            return
        esc = Escalation.begin(policy.id, round_, now)
        _system_note(
            tx,
            incident.site,
            incident.id,
            now,
            "escalation_started",
            f"policy {policy.id}, round {round_} ({why})",
        )
        self._advance(tx, replace(incident, round=round_), policy, esc, now)

    def _advance(
        self, tx: Tx, incident: Incident, policy: Policy, esc: Escalation, now: datetime
    ) -> None:
        """Send what is due and persist where the escalation stands."""
        esc, firings = due(policy.timing, esc, now)
        if firings:
            self._fire(tx, incident, policy, esc, firings, now)
        tx.update_incident(
            incident.id,
            paging=Paging.RUNNING.value,
            policy=policy.id,
            round=esc.round,
            esc_started_at=esc.started_at,
            esc_advance_s=esc.advance.total_seconds(),
            esc_next_step=esc.next_step,
            esc_reminders=",".join(str(n) for n in esc.reminders),
            next_due_at=next_due(policy.timing, esc),
        )

    def _fire(
        self,
        tx: Tx,
        incident: Incident,
        policy: Policy,
        esc: Escalation,
        firings: list[Firing],
        now: datetime,
    ) -> None:
        brief = self._brief(tx, incident)
        for firing in firings:
            recipients = self.routing.recipients(policy.steps[firing.step], now)
            label = f"step {firing.step + 1}" + (
                f" reminder {firing.reminder}" if firing.reminder else ""
            )
            if not recipients:
                # Load-time checks make this rare (a holiday override, a rota edited
                # live); the next step is not delayed by it (goalert#4548).
                _system_note(
                    tx, incident.site, incident.id, now, "step_skipped", f"{label}: nobody to reach"
                )
                continue
            for recipient in recipients:
                key = (
                    f"{incident.id}/{esc.round}/{firing.step}/{firing.reminder}/"
                    f"{recipient.channel}/{recipient.address}"
                )
                self._queue(tx, brief, recipient, MessageKind.ALARM, key, now)
            _system_note(
                tx,
                incident.site,
                incident.id,
                now,
                "notified",
                f"{label}: " + ", ".join(f"{r.channel} {r.who}" for r in recipients),
            )

    def _queue(
        self,
        tx: Tx,
        brief: Brief,
        recipient: Recipient,
        kind: MessageKind,
        key: str,
        now: datetime,
        fallback_of: int | None = None,
    ) -> int | None:
        text = render(
            brief,
            kind,
            recipient.channel,
            recipient.language,
            self._facility,
            sms_reply=recipient.sms_reply,
        )
        return box.enqueue(
            tx,
            dedup_key=key,
            incident_id=brief.incident_id,
            site=brief.site,
            kind=kind,
            channel=recipient.channel,
            who=recipient.who,
            address=recipient.address,
            language=recipient.language,
            text=text,
            now=now,
            fallback_of=fallback_of,
        )

    def _brief(
        self, tx: Tx, incident: Incident, acked_by: str | None = None, via: Via | None = None
    ) -> Brief:
        alarms = tx.incident_alarms(incident.id)
        open_ = [a for a in alarms if a.state.active] or alarms
        headline = open_[0]
        return Brief(
            incident_id=incident.id,
            site=incident.site,
            room=incident.room,
            severity=incident.severity,
            headline=headline,
            alarms=len(alarms),
            rooms=len({a.room for a in alarms}),
            flood=incident.flood,
            at=headline.raised_at,
            acked_by=acked_by,
            acked_via=via,
        )

    def _quieten(self, tx: Tx, incident_id: int, now: datetime) -> None:
        """Stop paging when no alarm of the incident needs anybody any more."""
        incident = _must(tx.incident(incident_id))
        if incident.paging != Paging.RUNNING:
            return
        alarms = tx.incident_alarms(incident_id)
        if any(self._pageable(a, now) for a in alarms):
            return
        box.cancel(tx, incident_id)
        resolved = not any(a.state.active for a in alarms)
        paging = Paging.RESOLVED if resolved else Paging.PAUSED
        tx.update_incident(incident_id, paging=paging.value, next_due_at=None)
        _system_note(tx, incident.site, incident_id, now, f"paging_{paging.value}")
        if resolved:
            self._tell_chain(tx, incident, MessageKind.CLEARED, now, skip=None)

    def _tell_chain(
        self,
        tx: Tx,
        incident: Incident,
        kind: MessageKind,
        now: datetime,
        *,
        skip: str | None,
        via: Via | None = None,
    ) -> None:
        """Tell everybody who was called about this incident what became of it."""
        told = box.recipients_told(tx, incident.id)
        if not told:
            return
        acked_by = None
        if skip is not None:
            person = self.routing.people.get(skip)
            acked_by = person.name if person is not None else skip
        brief = self._brief(tx, incident, acked_by, via)
        done: set[str] = set()
        for row in told:
            if row.who in done or row.who == skip:
                continue
            done.add(row.who)
            recipient = self._standdown_address(row)
            if recipient is not None:
                key = f"{incident.id}/{incident.round}/{kind}/{recipient.who}"
                self._queue(tx, brief, recipient, kind, key, now)

    def _standdown_address(self, row: OutboxRow) -> Recipient | None:
        # A stand-down is read, not heard: SMS (or email) rather than another call.
        if row.who.startswith("webhook:"):
            return Recipient(row.who, row.address, Channel.WEBHOOK, row.address, "en")
        person = self.routing.people.get(row.who)
        if person is None:
            return None
        for channel in (Channel.SMS, Channel.EMAIL):
            if channel in self.outbox.channels:
                for recipient in self.routing.contact(person, channel):
                    return recipient
        return None

    # -- operators' actions -----------------------------------------------------------

    def ack(
        self, alarm_id: int, by: str, via: Via, comment: str | None = None
    ) -> list[AlarmChange]:
        """Acknowledge an alarm and the rest of its incident: every pending call of it
        stops at once and everybody already called is told who took it."""
        changes = self._locked(lambda tx: self._ack(tx, alarm_id, by, via, comment))
        self._announce(changes)
        return changes

    def _ack(
        self, tx: Tx, alarm_id: int, by: str, via: Via, comment: str | None
    ) -> list[AlarmChange]:
        now = self._clock.now()
        alarm = tx.alarm(alarm_id)
        if alarm is None:
            raise Refused("not_found", f"no alarm {alarm_id}")
        if alarm.state in (AlarmState.ACKED, AlarmState.CLOSED):
            return []  # already acknowledged: a retried request changes nothing
        group = tx.incident_alarms(alarm.incident_id) if alarm.incident_id else [alarm]
        changes: list[AlarmChange] = []
        for member in group:
            result = step(member.state, Action.ACK)
            if result is None:
                continue
            state, change = result
            tx.update_alarm(member.id, state=state.value, acked_at=now, acked_by=by)
            note = comment if member.id == alarm_id else f"with #{alarm_id}: {comment or ''}"
            tx.log(
                site=member.site,
                at=now,
                action=change.value if change is Change.CLOSED else Change.ACKED.value,
                by=by,
                via=via,
                alarm_id=member.id,
                incident_id=member.incident_id,
                key=member.key,
                comment=note,
            )
            changes.append(AlarmChange(change, _must(tx.alarm(member.id))))
        if alarm.incident_id is not None:
            incident = _must(tx.incident(alarm.incident_id))
            box.cancel(tx, incident.id)
            tx.update_incident(
                incident.id,
                paging=Paging.ACKED.value,
                next_due_at=None,
                acked_at=now,
                acked_by=by,
            )
            self._tell_chain(tx, incident, MessageKind.ACKED, now, skip=by, via=via)
        return changes

    def shelve(
        self, alarm_id: int, by: str, reason: str, until: datetime, via: Via = Via.CONSOLE
    ) -> AlarmChange:
        """Take an alarm off the callers' list until ``until`` (time-limited, ISA-18.2)."""
        until = until.astimezone(UTC)  # SQLite keeps wall-clock digits: store UTC only
        person = self.routing.people.get(by)
        if person is None or not person.can_shelve:
            raise Refused("forbidden", f"{by!r} may not shelve alarms")
        if not reason.strip():
            raise Refused("invalid", "shelving needs a reason")

        def act(tx: Tx) -> AlarmChange:
            now = self._clock.now()
            alarm = tx.alarm(alarm_id)
            if alarm is None:
                raise Refused("not_found", f"no alarm {alarm_id}")
            if not alarm.state.open:
                raise Refused("conflict", f"alarm {alarm_id} is closed")
            if until <= now or until > now + self._config.max_shelve:
                limit = format_duration(self._config.max_shelve)
                raise Refused("invalid", f"shelve until a time within {limit} from now")
            tx.update_alarm(alarm_id, shelved_until=until, shelved_by=by, shelve_reason=reason)
            tx.log(
                site=alarm.site,
                at=now,
                action=Change.SHELVED.value,
                by=by,
                via=via,
                alarm_id=alarm_id,
                incident_id=alarm.incident_id,
                key=alarm.key,
                comment=f"until {until.isoformat()}: {reason}",
            )
            if alarm.incident_id is not None:
                self._quieten(tx, alarm.incident_id, now)
            return AlarmChange(Change.SHELVED, _must(tx.alarm(alarm_id)))

        change = self._locked(act)
        self._announce([change])
        return change

    def unshelve(self, alarm_id: int, by: str, via: Via = Via.CONSOLE) -> AlarmChange:
        def act(tx: Tx) -> AlarmChange:
            alarm = tx.alarm(alarm_id)
            if alarm is None:
                raise Refused("not_found", f"no alarm {alarm_id}")
            if alarm.shelved_until is None:
                raise Refused("conflict", f"alarm {alarm_id} is not shelved")
            return self._unshelve(tx, alarm, by, via, self._clock.now())

        change = self._locked(act)
        self._announce([change])
        return change

    def _unshelve(self, tx: Tx, alarm: Alarm, by: str, via: Via, now: datetime) -> AlarmChange:
        tx.update_alarm(alarm.id, shelved_until=None, shelved_by=None, shelve_reason=None)
        tx.log(
            site=alarm.site,
            at=now,
            action=Change.UNSHELVED.value,
            by=by,
            via=via,
            alarm_id=alarm.id,
            incident_id=alarm.incident_id,
            key=alarm.key,
        )
        fresh = _must(tx.alarm(alarm.id))
        self._resume(tx, fresh, now, "unshelved")
        return AlarmChange(Change.UNSHELVED, fresh)

    def _resume(self, tx: Tx, alarm: Alarm, now: datetime, why: str) -> None:
        """An alarm needs somebody again: page unless its incident already does."""
        if alarm.incident_id is None or not self._pageable(alarm, now):
            return
        incident = _must(tx.incident(alarm.incident_id))
        if incident.paging != Paging.RUNNING:
            self._start_round(tx, incident, now, why)

    # -- maintenance windows ------------------------------------------------------------

    def open_window(
        self,
        *,
        site: str,
        room: str | None,
        sensor: str | None,
        starts_at: datetime,
        ends_at: datetime | None,
        reason: str,
        by: str,
        out_of_service: bool = False,
    ) -> MaintenanceWindow:
        """Record a maintenance window (or take equipment out of service, no end)."""
        self._check_subject(site, room, sensor)
        starts_at = starts_at.astimezone(UTC)
        ends_at = None if ends_at is None else ends_at.astimezone(UTC)
        if ends_at is None and not out_of_service:
            raise Refused("invalid", "a maintenance window needs an end")
        if ends_at is not None and ends_at <= starts_at:
            raise Refused("invalid", "a maintenance window must end after it starts")
        if not reason.strip():
            raise Refused("invalid", "a maintenance window needs a reason")

        def act(tx: Tx) -> MaintenanceWindow:
            window_id = tx.insert_window(
                site=site,
                room=room,
                sensor=sensor,
                starts_at=starts_at,
                ends_at=ends_at,
                reason=reason,
                created_by=by,
                created_at=self._clock.now(),
                out_of_service=out_of_service,
                ended=False,
            )
            return _must(tx.window(window_id))

        return self._locked(act)

    def close_window(self, window_id: int, by: str) -> MaintenanceWindow:
        """End a window now; its alarms that still need somebody are paged at once."""

        def act(tx: Tx) -> MaintenanceWindow:
            now = self._clock.now()
            window = tx.window(window_id)
            if window is None:
                raise Refused("not_found", f"no maintenance window {window_id}")
            end = now if window.ends_at is None or window.ends_at > now else window.ends_at
            tx.update_window(window_id, ends_at=end)
            log.info("maintenance window %d ended by %s", window_id, by)
            self._end_window(tx, _must(tx.window(window_id)), now, by)
            return _must(tx.window(window_id))

        return self._locked(act)

    def _end_window(
        self, tx: Tx, window: MaintenanceWindow, now: datetime, by: str = "system"
    ) -> None:
        tx.update_window(window.id, ended=True)
        for alarm in tx.suppressed_by(window.id):
            tx.update_alarm(alarm.id, suppressed_by=None)
            ended = f"window {window.id} ended" + ("" if by == "system" else f" by {by}")
            self._note(tx, alarm, now, "unsuppressed", ended, by=by)
            self._resume(tx, _must(tx.alarm(alarm.id)), now, "maintenance window ended")

    def _check_subject(self, site: str, room: str | None, sensor: str | None) -> None:
        if site not in self._facility.sites:
            raise Refused("invalid", f"unknown site {site!r}")
        if room is not None and self._facility.room(site, room) is None:
            raise Refused("invalid", f"unknown room {room!r} in {site}")
        if sensor is not None:
            found = self._facility.sensor(site, sensor)
            if found is None or (room is not None and found.room != room):
                raise Refused("invalid", f"unknown sensor {sensor!r} in {site}/{room or '*'}")

    # -- the timers (APScheduler only triggers this) ----------------------------------

    def tick(self) -> int:
        """Expire shelves and windows, send due steps and reminders; returns incidents
        advanced. Idempotent: running it twice at one moment sends nothing twice."""
        now = self._clock.now()

        def act(tx: Tx) -> tuple[int, list[AlarmChange]]:
            changes = [
                self._unshelve(tx, alarm, "system", Via.SYSTEM, now)
                for alarm in tx.shelved_until_past(now)
            ]
            for window in tx.windows_ending(now):
                self._end_window(tx, window, now)
            advanced = 0
            for incident in tx.incidents_due(now):
                policy = self.routing.policies.get(incident.policy or "")
                if policy is None:  # the policy was removed from the config since
                    tx.update_incident(incident.id, paging=Paging.CONSOLE.value, next_due_at=None)
                    continue
                self._advance(tx, incident, policy, _escalation(incident), now)
                advanced += 1
            return advanced, changes

        advanced, changes = self._locked(act)
        self._announce(changes)
        return advanced

    # -- the phone's side (Twilio webhooks) ---------------------------------------------

    def ack_by_phone(self, phone: str, code: str | None, request_id: str) -> Reply:
        """An SMS reply: acknowledge the incident it names, or the newest one the
        sender was told about and nobody has acknowledged."""
        person = self.routing.person_by_phone(phone)
        language = person.language if person is not None else "zh-CN"
        zh = language == "zh-CN"

        def act(tx: Tx) -> tuple[Reply, list[AlarmChange]]:
            if person is None:
                text = "此号码未登记，无法确认。" if zh else "This number is not registered."
                return Reply(ok=False, text=text, language=language), []
            incident = self._incident_for_reply(tx, phone, code)
            if incident is None:
                text = (
                    f"没有找到待确认的报警{'#' + code if code else ''}。"
                    if zh
                    else f"No alarm {'#' + code + ' ' if code else ''}waiting for you."
                )
                return Reply(ok=False, text=text, language=language), []
            return self._ack_incident(tx, incident, person.id, Via.SMS, language)

        reply, changes = self._idempotent(request_id, act)
        self._announce(changes)
        return reply

    def keypress(self, outbox_id: int, digit: str, request_id: str) -> Reply:
        """A key pressed during an alarm call: 1 acknowledges, 2 escalates now."""

        def act(tx: Tx) -> tuple[Reply, list[AlarmChange]]:
            row = box.get(tx, outbox_id)
            if row is None:
                return Reply(ok=False, text="Unknown call.", language="en"), []
            language = row.language
            zh = language == "zh-CN"
            incident = _must(tx.incident(row.incident_id))
            if digit == "1":
                return self._ack_incident(tx, incident, row.who, Via.VOICE, language)
            if digit == "2":
                return self._escalate_now(tx, incident, row.who, language), []
            text = "无效按键。" if zh else "That key does nothing."
            return Reply(ok=False, text=text, language=language), []

        reply, changes = self._idempotent(request_id, act)
        self._announce(changes)
        return reply

    def _incident_for_reply(self, tx: Tx, phone: str, code: str | None) -> Incident | None:
        if code is not None:
            incident = tx.incident(int(code)) if code.isdigit() else None
            told = incident is not None and any(
                r.address == phone for r in box.recipients_told(tx, incident.id)
            )
            return incident if told else None
        for incident_id in box.incidents_told(tx, phone):
            incident = tx.incident(incident_id)
            if incident is not None and incident.paging in (Paging.RUNNING, Paging.PAUSED):
                return incident
        return None

    def _ack_incident(
        self, tx: Tx, incident: Incident, who: str, via: Via, language: str
    ) -> tuple[Reply, list[AlarmChange]]:
        zh = language == "zh-CN"
        waiting = [a for a in tx.incident_alarms(incident.id) if a.state.open]
        unacked = [a for a in waiting if a.state in (AlarmState.UNACKED, AlarmState.RTN_UNACKED)]
        if not unacked:
            text = (
                f"#{incident.id} 已由{incident.acked_by or '他人'}确认。"
                if zh
                else f"#{incident.id} was already acknowledged by {incident.acked_by or 'someone'}."
            )
            return Reply(ok=True, text=text, language=language), []
        changes = self._ack(tx, unacked[0].id, who, via, None)
        text = (
            f"已确认 #{incident.id}，共{len(changes)}条报警。谢谢。"
            if zh
            else f"Acknowledged #{incident.id} ({len(changes)} alarm(s)). Thank you."
        )
        return Reply(ok=True, text=text, language=language), changes

    def _escalate_now(self, tx: Tx, incident: Incident, who: str, language: str) -> Reply:
        now = self._clock.now()
        zh = language == "zh-CN"
        policy = self.routing.policies.get(incident.policy or "")
        if incident.paging != Paging.RUNNING or policy is None:
            text = "此报警无需上报。" if zh else "Nothing left to escalate."
            return Reply(ok=False, text=text, language=language)
        esc = escalate_now(policy.timing, _escalation(incident), now)
        tx.log(
            site=incident.site,
            at=now,
            action="escalated",
            by=who,
            via=Via.VOICE,
            incident_id=incident.id,
            comment="escalated now by keypress",
        )
        self._advance(tx, incident, policy, esc, now)
        text = "已立即上报下一级。" if zh else "Escalated to the next level now."
        return Reply(ok=True, text=text, language=language)

    def provider_status(self, provider_id: str, status: str, error: str | None) -> bool:
        return self.outbox.provider_status(provider_id, status, error)

    def _idempotent(
        self, request_id: str, act: Callable[[Tx], tuple[Reply, list[AlarmChange]]]
    ) -> tuple[Reply, list[AlarmChange]]:
        """Twilio retries webhooks: the same request id gets the first answer again."""

        def run(tx: Tx) -> tuple[Reply, list[AlarmChange]]:
            seen = tx.conn.execute(
                sa.select(inbound.c.reply).where(inbound.c.request_id == request_id)
            ).first()
            if seen is not None:
                ok, language, text = seen.reply.split("|", 2)
                return Reply(ok=ok == "1", text=text, language=language), []
            reply, changes = act(tx)
            tx.conn.execute(
                inbound.insert().values(
                    request_id=request_id[:120],
                    at=self._clock.now(),
                    reply=f"{int(reply.ok)}|{reply.language}|{reply.text}",
                )
            )
            return reply, changes

        return self._locked(run)

    # -- the outbox's hooks ------------------------------------------------------------

    def fallback(self, tx: Tx, row: OutboxRow, now: datetime) -> None:
        """A message was given up on: try the person's next channel (SMS → voice → email)."""
        if row.kind != MessageKind.ALARM.value:
            return
        incident = tx.incident(row.incident_id)
        if incident is None or incident.paging != Paging.RUNNING:
            return  # acknowledged or over meanwhile: nobody needs waking any more
        person = self.routing.people.get(row.who)
        order = self._config.delivery.fallback
        current = Channel(row.channel)
        later = order[order.index(current) + 1 :] if current in order else []
        for channel in later:
            if person is None or channel not in self.outbox.channels:
                continue
            for recipient in self.routing.contact(person, channel):
                # The step may reach this person on that channel already (a step of SMS
                # and call): that message carries this one, so nobody gets it twice.
                parts = row.dedup_key.split("/")
                step_key = "/".join(parts[:_STEP_KEY_PARTS])
                if len(parts) > _STEP_KEY_PARTS and box.step_covers(
                    tx, step_key, channel, recipient.address
                ):
                    _system_note(
                        tx,
                        incident.site,
                        incident.id,
                        now,
                        "fallback",
                        f"{row.channel} to {row.who} failed; the {channel} already queued "
                        "for this step carries it",
                    )
                    return
                key = f"{row.dedup_key}/fallback:{channel}"
                brief = self._brief(tx, incident)
                if self._queue(tx, brief, recipient, MessageKind.ALARM, key, now, row.id):
                    _system_note(
                        tx,
                        incident.site,
                        incident.id,
                        now,
                        "fallback",
                        f"{row.channel} to {row.who} failed; trying {channel}",
                    )
                return
        _system_note(
            tx,
            incident.site,
            incident.id,
            now,
            "undeliverable",
            f"{row.channel} to {row.who} failed and no other channel is left",
        )

    def channel_health(self, channel: Channel, site: str, *, ok: bool, error: str | None) -> None:
        """Raise "notification failing" when a channel gives up; clear it when it works."""
        key = (site, channel)
        if ok == (key not in self._failing):
            return
        now = self._clock.now()
        if ok:
            self._failing.discard(key)
            zh, en = f"{_CHANNEL_ZH[channel]}通知已恢复", f"{channel} notifications work again"
        else:
            self._failing.add(key)
            zh = f"通知失败：{_CHANNEL_ZH[channel]}无法发送（{error}），已改用下一渠道"
            en = f"Notifications failing: {channel} cannot send ({error}); using the next channel"
        self.publish(
            [
                AlarmEvent(
                    key=f"{NOTIFY_FAILING_RULE}:{site}:{channel}",
                    transition=Transition.CLEAR if ok else Transition.RAISE,
                    rule=NOTIFY_FAILING_RULE,
                    category=Category.SYSTEM,
                    severity=Severity.HIGH,
                    site=site,
                    room=None,
                    sensor=None,
                    at=now,
                    message_zh=zh,
                    message_en=en,
                )
            ]
        )

    # -- plumbing ----------------------------------------------------------------------

    def _locked(self, act: Callable[[Tx], T]) -> T:
        with self._lock, self._store.begin() as tx:
            return act(tx)

    def _announce(self, changes: Sequence[AlarmChange]) -> None:
        if not changes:
            return
        self.stats.changes += len(changes)
        self.outbox.wake()
        for change in changes:
            for listener in self._listeners:
                try:
                    listener.notify(change)
                except Exception:
                    # One broken listener must not silence the others or the outbox.
                    failures = self.stats.listener_failures
                    failures[listener.name] = failures.get(listener.name, 0) + 1
                    log.exception(
                        "listener %s failed for alarm #%d", listener.name, change.alarm.id
                    )

    def _note(
        self, tx: Tx, alarm: Alarm, now: datetime, action: str, comment: str, by: str = "system"
    ) -> None:
        tx.log(
            site=alarm.site,
            at=now,
            action=action,
            by=by,
            via=Via.SYSTEM if by == "system" else Via.API,
            alarm_id=alarm.id,
            incident_id=alarm.incident_id,
            key=alarm.key,
            comment=comment,
        )


def _system_note(
    tx: Tx, site: str, incident_id: int, now: datetime, action: str, comment: str | None = None
) -> None:
    """An incident's audit line written by Lantai itself (escalation, flood, fallback)."""
    tx.log(
        site=site,
        at=now,
        action=action,
        by="system",
        via=Via.SYSTEM,
        incident_id=incident_id,
        comment=comment,
    )


def _escalation(incident: Incident) -> Escalation:
    return Escalation(
        policy=incident.policy or "",
        round=incident.round,
        started_at=incident.esc_started_at or incident.opened_at,
        advance=timedelta(seconds=incident.esc_advance_s),
        next_step=incident.esc_next_step,
        reminders=incident.esc_reminders,
    )


def _window_text(window: MaintenanceWindow) -> str:
    kind = "out of service" if window.out_of_service else "maintenance window"
    return f"{kind} {window.id} by {window.created_by}: {window.reason}"


def _must(value: T | None) -> T:
    if value is None:
        raise RuntimeError("a row read back inside its own transaction is missing")
    return value
