"""The rule file: YAML next to the facility file, strict, checked against the facility.

```yaml
calendars:
  default: {timezone: Asia/Shanghai, weekly: {mon: ["08:30-17:30"], …}, holidays: [2026-10-01]}
rules:
  - {id: humidity_limits, type: threshold, scope: {room: B2-02}, field: humidity,
     raise_above: 55, clear_below: 53, for: 10m}
  - {id: two_person, type: two_person, scope: {floor: F2}, within: 90s}
  - {id: door_held_open, type: door_held_open, scope: {sensor: b201-door}, enabled: false}
```

An entry whose id is a default rule's (rules/defaults.py) overrides that default where
its scope matches; the most specific scope wins (sensor > room > floor > site > all), and
at the same specificity the file beats the defaults and a later entry an earlier one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Self, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from rules.calendar import CalendarConfig
from rules.defaults import DEFAULT_TYPES
from rules.kinds import Level, RuleConfig
from rules.registry import CONFIGS
from sensors.facility import Facility
from sensors.yamlconfig import Loc, load_yaml_model

# One entry of `rules:`, told apart by its `type`. Built from the registry, so a new rule
# family needs no edit here; mypy cannot follow a union built at run time.
RuleEntry = Annotated[Union[CONFIGS], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007


class RuleFile(BaseModel):
    """The whole rule file; empty means "the defaults only"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    rules: list[RuleEntry] = Field(default_factory=list)

    _facility: Facility | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_facility(self, info: ValidationInfo) -> Self:
        # The facility comes in as validation context, for cross_check below.
        if info.context is not None:
            self._facility = info.context.get("facility")
        return self

    @property
    def entries(self) -> list[RuleConfig]:
        return list(self.rules)

    def cross_check(self) -> list[tuple[Loc, str]]:
        """References into the facility and the calendars, and overrides that keep their type."""
        problems: list[tuple[Loc, str]] = []
        seen: dict[tuple[str, Any], int] = {}
        for index, entry in enumerate(self.entries):
            at: Loc = ("rules", index)
            default_type = DEFAULT_TYPES.get(entry.id)
            rule_type = entry.type  # type: ignore[attr-defined]
            if default_type is not None and default_type != rule_type:
                problems.append(
                    (
                        (*at, "type"),
                        (
                            f"{entry.id!r} is a default rule of type {default_type!r}; to add a "
                            f"{rule_type!r} rule, give it another id"
                        ),
                    )
                )
            if entry.level is Level.ROOM and entry.scope.sensor is not None:
                problems.append(
                    ((*at, "scope", "sensor"), f"{rule_type!r} rules apply to whole rooms")
                )
            problems += _surface_problems(self._facility, entry, at)
            calendar = getattr(entry, "calendar", None)
            if calendar is not None and calendar != "default" and calendar not in self.calendars:
                problems.append(((*at, "calendar"), f"no calendar named {calendar!r}"))
            key = (entry.id, entry.scope)
            if key in seen:
                problems.append(
                    ((*at, "id"), f"rule {entry.id!r} already has this scope (entry {seen[key]})")
                )
            seen[key] = index
            if self._facility is not None:
                problems += _scope_problems(self._facility, entry, at)
        return problems


def _surface_problems(
    facility: Facility | None, entry: RuleConfig, at: Loc
) -> list[tuple[Loc, str]]:
    """Condensation surfaces must be temperature probes of the room the rule is scoped to."""
    surfaces = getattr(entry, "surfaces", None)
    if surfaces is None or facility is None:
        return []
    room = entry.scope.room
    if room is None:
        return [((*at, "surfaces"), "naming surfaces needs a scope with a room")]
    problems: list[tuple[Loc, str]] = []
    sites = [entry.scope.site] if entry.scope.site else list(facility.sites)
    for name in surfaces:
        found = [facility.sensor(site, name) for site in sites]
        if not any(s is not None and s.room == room for s in found):
            problems.append(((*at, "surfaces"), f"no sensor {name!r} in room {room!r}"))
    return problems


def _scope_problems(facility: Facility, entry: RuleConfig, at: Loc) -> list[tuple[Loc, str]]:
    scope = entry.scope
    where: Loc = (*at, "scope")
    sites = [scope.site] if scope.site is not None else list(facility.sites)
    if scope.site is not None and scope.site not in facility.sites:
        return [((*where, "site"), f"no site {scope.site!r} in the facility")]
    problems: list[tuple[Loc, str]] = []
    if scope.floor is not None and not any(
        floor == scope.floor for s in sites for _, floor, _ in facility.sites[s].floors
    ):
        problems.append(((*where, "floor"), f"no floor {scope.floor!r}"))
    if scope.room is not None:
        rooms = [facility.room(s, scope.room) for s in sites]
        found = [r for r in rooms if r is not None]
        if not found:
            problems.append(((*where, "room"), f"no room {scope.room!r}"))
        elif scope.floor is not None and all(r.floor != scope.floor for r in found):
            problems.append(((*where, "room"), f"room {scope.room!r} is not on {scope.floor!r}"))
    if scope.sensor is not None:
        sensors = [facility.sensor(s, scope.sensor) for s in sites]
        found_sensors = [x for x in sensors if x is not None]
        if not found_sensors:
            problems.append(((*where, "sensor"), f"no sensor {scope.sensor!r}"))
        elif not any(x.kind in entry.applies_to for x in found_sensors):
            kinds = ", ".join(sorted(k.value for k in entry.applies_to))
            problems.append(
                ((*where, "sensor"), f"{scope.sensor!r} is not a sensor this rule reads ({kinds})")
            )
    return problems


def load_rules(path: Path, facility: Facility) -> RuleFile:
    """Load and check a rule file against the facility (raises ConfigError)."""
    return load_yaml_model(path, RuleFile, context={"facility": facility})
