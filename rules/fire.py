"""Fire: one alarm the moment any smoke detector of a room trips, and a confirmed fire.

The first smoke report raises a critical FIRE alarm at once: no delay, because a fire panel
must annunciate within 10 s (archive-standards.md §5.3, NFPA 72 §10.11.1). A fire is
*confirmed* when two independent devices agree: GB 50116-2013 §4.1.6 makes linked fire
equipment wait for the AND of two independent alarm-initiating devices, and GB 50370-2005
§5.0.5 lets gas extinguishing release only after two independent fire signals (§5.3).
Lantai does not release gas (the fire panel does); ``fire_confirmed`` tells the people
watching that the panel's condition for release is met.

The rule is ROOM level: one state per room, fed by its smoke, heat and climate sensors.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from pydantic import Field

from rules.base import Subject, Verdict, clear_event, raise_event
from rules.kinds import NO_OUTPUTS, Level, Outputs, RuleConfig, RuleKind, Target
from sensors.duration import PositiveDuration
from sensors.events import Category, Severity
from sensors.facility import SensorKind
from sensors.reading import Reading

CONFIRMED_RULE_ID = "fire_confirmed"
_ZERO = timedelta(0)


class FireConfig(RuleConfig):
    type: Literal["fire"]
    # Two smoke onsets this close together are one plume reaching two detectors; smoke
    # detectors share nuisance sources (dust from moved boxes, steam, humidifier fog) that
    # drift from one to the next over minutes, so later onsets do not pair (engineering
    # default). A heat rise shares none of them: it pairs with any detector still in alarm.
    confirm_window: PositiveDuration = timedelta(minutes=2)
    # Engineering defaults, not from a standard: 8 °C within the window is about half the
    # usual rate-of-rise detector setting (8.3 °C/min), so a heat or climate sensor near
    # the fire sees it before a heat detector would trip; 57 °C is the common fixed
    # temperature rating of heat detectors (135 °F).
    heat_rise: float = Field(default=8.0, gt=0, le=100)
    heat_absolute: float = Field(default=57.0, gt=0, le=150)

    applies_to: ClassVar[frozenset[SensorKind]] = frozenset(
        {SensorKind.SMOKE, SensorKind.HEAT, SensorKind.CLIMATE}
    )
    level: ClassVar[Level] = Level.ROOM

    def compile(self, target: Target) -> FireRule:
        del target  # the same rule for every room; the state tells the detectors apart
        severity = self.severity or Severity.CRITICAL
        return FireRule(
            confirm_window=self.confirm_window,
            heat_rise=self.heat_rise,
            heat_absolute=self.heat_absolute,
            verdict=Verdict(self.id, Category.FIRE, severity),
            confirmed=Verdict(CONFIRMED_RULE_ID, Category.FIRE, severity),
        )


@dataclass(frozen=True, slots=True)
class FireRule:
    confirm_window: timedelta
    heat_rise: float
    heat_absolute: float
    verdict: Verdict
    confirmed: Verdict  # the second alarm, keyed with rule id "fire_confirmed"


@dataclass(frozen=True, slots=True)
class FireState:
    """One room's fire picture.

    ``detectors`` lists the smoke detectors that tripped in the current episode (sensor,
    in alarm now, onset), so one that went quiet still counts as the first of two devices.
    ``baselines`` holds each temperature sensor's reference (sensor, since, °C), renewed
    when older than the window; ``heat`` is the last heat evidence (sensor, when).
    """

    detectors: tuple[tuple[str, bool, datetime], ...] = ()
    baselines: tuple[tuple[str, datetime, float], ...] = ()
    heat: tuple[str, datetime] | None = None
    raised: bool = False
    confirmed: bool = False


FIRE_INITIAL = FireState()


def evaluate_fire(
    rule: FireRule, state: FireState, reading: Reading, subject: Subject, now: datetime
) -> tuple[FireState, Outputs]:
    p = reading.payload
    smoke, temperature = p.smoke, p.temperature
    if smoke is None and temperature is None:
        return state, NO_OUTPUTS
    sensor = reading.sensor
    heat_seen = False
    if temperature is not None:
        state, heat_seen = _track_heat(rule, state, sensor, temperature, now)
    outputs: Outputs = NO_OUTPUTS
    if smoke is True:
        state, outputs = _smoke_on(rule, state, subject, sensor, now)
    elif smoke is False:
        state, outputs = _smoke_off(rule, state, subject, sensor, now)
    if heat_seen and state.raised and not state.confirmed:
        # Heat while a different detector is still in smoke alarm: two independent devices
        # (§5.3); a panel latches the smoke signal, so no window applies here.
        others = [d for d, on, _ in state.detectors if on and d != sensor]
        if others:
            state, confirmed = _confirm(
                rule, state, subject, now, (others[0], sensor), "smoke_heat"
            )
            outputs += confirmed
    return state, outputs


def _room(subject: Subject) -> Subject:
    """The room as the subject: one fire per room, whichever sensor's reading told."""
    return Subject(subject.site, subject.room) if subject.sensor else subject


def _track_heat(
    rule: FireRule, state: FireState, sensor: str, temperature: float, now: datetime
) -> tuple[FireState, bool]:
    """Compare with the sensor's baseline and note heat evidence; the common path only reads.

    The baseline is renewed when older than the window rather than kept as a rolling
    minimum, so a normal room changes this state once per window per sensor, not per reading.
    """
    fresh = rise = False  # fresh: the baseline is recent enough to measure a rise from
    for name, since, base_t in state.baselines:
        if name == sensor:
            age = now - since
            if age < _ZERO:  # an older reading replayed late: no rise, no new baseline
                return state, False
            fresh = age <= rule.confirm_window
            rise = fresh and temperature - base_t >= rule.heat_rise
            break
    heat_seen = rise or temperature >= rule.heat_absolute
    if fresh and not heat_seen:
        return state, False
    baselines = state.baselines
    if not fresh:
        kept = tuple(b for b in baselines if b[0] != sensor)
        baselines = (*kept, (sensor, now, temperature))
    heat = (sensor, now) if heat_seen else state.heat
    # Direct construction: this runs whenever a baseline is renewed (once per window per
    # temperature sensor), and replace() costs twice a constructor call.
    return FireState(state.detectors, baselines, heat, state.raised, state.confirmed), heat_seen


def _smoke_on(
    rule: FireRule, state: FireState, subject: Subject, sensor: str, now: datetime
) -> tuple[FireState, Outputs]:
    for name, on, _ in state.detectors:
        if name == sensor and on:
            return state, NO_OUTPUTS  # a heartbeat of a detector already in alarm
    room = _room(subject)
    # A detector tripping again in the same episode starts a new onset.
    detectors = (*(d for d in state.detectors if d[0] != sensor), (sensor, True, now))
    outputs: Outputs = NO_OUTPUTS
    if not state.raised:
        # Keyed per room, but naming the detector that tripped first: where to run to.
        first = Subject(room.site, room.room, sensor)
        outputs = (
            raise_event(
                rule.verdict,
                first,
                now,
                f"{room.room} 火警：烟感探测器 {sensor} 报警",
                f"Fire alarm in {room.room}: smoke detector {sensor}",
                sensor,
                key=room.key(rule.verdict.rule_id),
            ),
        )
    state = replace(state, detectors=detectors, raised=True)
    if state.confirmed:
        return state, outputs
    # Two different detectors whose onsets fall within the window (GB 50116 §4.1.6).
    for name, _, onset in detectors:
        if name != sensor and abs(now - onset) <= rule.confirm_window:
            state, confirmed = _confirm(rule, state, room, now, (name, sensor), "two_detectors")
            return state, outputs + confirmed
    # Smoke after a heat rise elsewhere in the room within the window: smoke plus heat.
    heat = state.heat
    if heat is not None and heat[0] != sensor and abs(now - heat[1]) <= rule.confirm_window:
        state, confirmed = _confirm(rule, state, room, now, (sensor, heat[0]), "smoke_heat")
        return state, outputs + confirmed
    return state, outputs


def _smoke_off(
    rule: FireRule, state: FireState, subject: Subject, sensor: str, now: datetime
) -> tuple[FireState, Outputs]:
    if not any(name == sensor and on for name, on, _ in state.detectors):
        return state, NO_OUTPUTS
    detectors = tuple((n, on and n != sensor, t) for n, on, t in state.detectors)
    if any(on for _, on, _ in detectors):
        return replace(state, detectors=detectors), NO_OUTPUTS
    # Every detector that tripped is back to normal (RTN): the episode ends, and a
    # confirmed fire ends with it. Baselines and heat evidence are kept.
    room = _room(subject)
    outputs: Outputs = (clear_event(rule.verdict, room, now, sensor),)
    if state.confirmed:
        key = room.key(CONFIRMED_RULE_ID)
        outputs = (clear_event(rule.confirmed, room, now, sensor, key=key), *outputs)
    return FireState(baselines=state.baselines, heat=state.heat), outputs


def _confirm(
    rule: FireRule,
    state: FireState,
    subject: Subject,
    now: datetime,
    devices: tuple[str, str],
    how: Literal["two_detectors", "smoke_heat"],
) -> tuple[FireState, Outputs]:
    room = _room(subject)
    names_zh, names_en = "、".join(devices), ", ".join(devices)
    if how == "two_detectors":
        zh = f"{room.room} 火警确认：两个独立探测器报警（{names_zh}）"
        en = f"Fire confirmed in {room.room}: two independent detectors ({names_en})"
    else:
        zh = f"{room.room} 火警确认：烟感报警且温度骤升（{names_zh}）"
        en = f"Fire confirmed in {room.room}: smoke and a heat rise ({names_en})"
    event = raise_event(
        rule.confirmed, room, now, zh, en, names_en, key=room.key(CONFIRMED_RULE_ID)
    )
    return replace(state, confirmed=True), (event,)


FIRE_KIND = RuleKind(
    type="fire",
    config=FireConfig,
    state=FireState,
    initial=FIRE_INITIAL,
    evaluate=evaluate_fire,
)
KINDS = (FIRE_KIND,)
