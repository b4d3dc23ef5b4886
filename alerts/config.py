"""The alerting file: people, on-call rotas, escalation policies and delivery knobs.

Validated strictly at load, like the facility and the rules, and refused with file, line
and field when a policy step could reach nobody: an unknown person or rota, a person
without the phone number or address a channel needs, a rota with an hour nobody covers
(reported with its time range), or a site without a policy for critical alarms.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

from pydantic import Field, PrivateAttr, ValidationInfo, model_validator

from alerts.notifiers import Channel, Language
from alerts.rota import Rota, RotaConfig
from sensors.duration import Duration, PositiveDuration
from sensors.events import Severity
from sensors.facility import Facility
from sensors.room_classes import StrictModel
from sensors.yamlconfig import Loc, load_yaml_model

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Channels a step may name. "console" sends nothing: the desk sees every alarm anyway;
# naming it keeps a policy readable as the whole plan.
STEP_CHANNELS = ("console", "sms", "voice", "email")


class PersonConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    name: str = Field(min_length=1)
    phone: str | None = Field(default=None, pattern=_E164.pattern)
    email: str | None = Field(default=None, pattern=_EMAIL.pattern)
    language: Language = "zh-CN"
    # Some countries' numbers cannot reply to a Twilio SMS (GoAlert: +91; peers.md pain
    # point 7). Then the SMS asks for the keypress or the console instead of a reply.
    sms_reply: bool = True
    # May shelve alarms (take them off the desk's list for a while, with a reason).
    can_shelve: bool = False


class TargetConfig(StrictModel):
    """Exactly one of: everybody on duty in a rota, one person, one webhook."""

    rota: str | None = None
    person: str | None = None
    webhook: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [n for n in ("rota", "person", "webhook") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("a target names exactly one of rota, person or webhook")
        return self


class StepConfig(StrictModel):
    # From the start of the escalation, not from the step before: a step that reaches
    # nobody never delays the next one (goalert#4548).
    after: Duration = timedelta(0)
    notify: list[TargetConfig] = Field(min_length=1)
    channels: list[str] = Field(default_factory=lambda: ["sms"], min_length=1)
    remind_every: PositiveDuration | None = None

    @model_validator(mode="after")
    def _known_channels(self) -> Self:
        for channel in self.channels:
            if channel not in STEP_CHANNELS:
                raise ValueError(f"unknown channel {channel!r}; use {', '.join(STEP_CHANNELS)}")
        return self


class PolicyConfig(StrictModel):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    sites: list[str] | None = None  # None: every site
    severities: list[Severity] = Field(min_length=1)
    steps: list[StepConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _steps_in_order(self) -> Self:
        afters = [s.after for s in self.steps]
        if afters != sorted(afters):
            raise ValueError("steps must be listed in the order of their 'after'")
        return self


class FloodConfig(StrictModel):
    """ISA-18.2 flood (archive-standards.md §5.2): more than 10 alarms in 10 minutes
    starts it, fewer than 5 in 10 minutes ends it."""

    window: PositiveDuration = timedelta(minutes=10)
    enter_above: int = Field(default=10, ge=1)
    leave_below: int = Field(default=5, ge=1)


class ChatterConfig(StrictModel):
    """A chattering alarm occurs and clears 3 or more times in a minute (§5.2)."""

    cycles: int = Field(default=3, ge=2)
    window: PositiveDuration = timedelta(minutes=1)


class DeliveryConfig(StrictModel):
    """The outbox's retry: per message and channel, before falling back to the next."""

    attempts: int = Field(default=3, ge=1, le=20)
    backoff: PositiveDuration = timedelta(seconds=10)
    max_backoff: PositiveDuration = timedelta(minutes=5)
    fallback: list[Channel] = Field(
        default_factory=lambda: [Channel.SMS, Channel.VOICE, Channel.EMAIL]
    )


class AlertingConfig(StrictModel):
    people: list[PersonConfig] = Field(default_factory=list)
    rotas: list[RotaConfig] = Field(default_factory=list)
    policies: list[PolicyConfig] = Field(default_factory=list)
    # Alarms of one room raised within this window are one incident: one notification.
    group_window: Duration = timedelta(minutes=5)
    flood: FloodConfig = Field(default_factory=FloodConfig)
    chatter: ChatterConfig = Field(default_factory=ChatterConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    # Shelving is time-limited (ISA-18.2); longer is refused.
    max_shelve: PositiveDuration = timedelta(hours=24)

    _facility: Facility | None = PrivateAttr(default=None)
    _channels: frozenset[str] | None = PrivateAttr(default=None)
    _webhooks: frozenset[str] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _remember_context(self, info: ValidationInfo) -> Self:
        # What the settings configure comes in as context, for cross_check below.
        if info.context is not None:
            self._facility = info.context.get("facility")
            self._channels = info.context.get("channels")
            self._webhooks = info.context.get("webhooks")
        return self

    def cross_check(self) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        people = _unique(self.people, "people", problems)
        rotas = _unique(self.rotas, "rotas", problems)
        _unique(self.policies, "policies", problems)
        for r, rota in enumerate(self.rotas):
            problems += self._check_rota(r, rota, people)
        for p, policy in enumerate(self.policies):
            problems += self._check_policy(p, policy, people, rotas)
        problems += self._check_coverage()
        return problems

    def _check_rota(
        self, index: int, rota: RotaConfig, people: dict[str, PersonConfig]
    ) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = []
        if self._facility is not None and rota.site not in self._facility.sites:
            found.append((("rotas", index, "site"), f"unknown site {rota.site!r}"))
        for s, shift in enumerate(rota.shifts):
            found += [
                (("rotas", index, "shifts", s, "people"), f"unknown person {who!r}")
                for who in shift.people
                if who not in people
            ]
        for h, holiday in enumerate(rota.holidays):
            for s, shift in enumerate(holiday.shifts):
                found += [
                    (
                        ("rotas", index, "holidays", h, "shifts", s, "people"),
                        f"unknown person {who!r}",
                    )
                    for who in shift.people
                    if who not in people
                ]
        if not found and self._facility is not None:
            found += _rota_gaps(index, rota, self._facility)
        return found

    def _check_policy(
        self,
        index: int,
        policy: PolicyConfig,
        people: dict[str, PersonConfig],
        rotas: dict[str, RotaConfig],
    ) -> list[tuple[Loc, str]]:
        found: list[tuple[Loc, str]] = []
        at: Loc = ("policies", index)
        if self._facility is not None:
            found += [
                ((*at, "sites"), f"unknown site {site!r}")
                for site in policy.sites or ()
                if site not in self._facility.sites
            ]
        for s, step in enumerate(policy.steps):
            step_at: Loc = (*at, "steps", s)
            if self._channels is not None:
                found += [
                    ((*step_at, "channels"), f"channel {c!r} is not configured in the settings")
                    for c in step.channels
                    if c != "console" and c not in self._channels
                ]
            for t, target in enumerate(step.notify):
                found += self._check_target((*step_at, "notify", t), step, target, people, rotas)
        return found

    def _check_target(
        self,
        at: Loc,
        step: StepConfig,
        target: TargetConfig,
        people: dict[str, PersonConfig],
        rotas: dict[str, RotaConfig],
    ) -> list[tuple[Loc, str]]:
        if target.webhook is not None:
            if self._webhooks is not None and target.webhook not in self._webhooks:
                return [((*at, "webhook"), f"webhook {target.webhook!r} is not in the settings")]
            return []
        if target.rota is not None:
            rota = rotas.get(target.rota)
            if rota is None:
                return [((*at, "rota"), f"unknown rota {target.rota!r}")]
            members = {who for shift in rota.shifts for who in shift.people}
            members |= {who for h in rota.holidays for s in h.shifts for who in s.people}
            field = "rota"
        else:
            members = {target.person or ""}
            field = "person"
        found: list[tuple[Loc, str]] = []
        for who in sorted(members):
            person = people.get(who)
            if person is None:
                if field == "person":
                    found.append(((*at, field), f"unknown person {who!r}"))
                continue
            for channel in step.channels:
                need = _CONTACT.get(channel)
                if need is not None and getattr(person, need) is None:
                    found.append(((*at, field), f"{who} has no {need} for the {channel} channel"))
        return found

    def _check_coverage(self) -> list[tuple[Loc, str]]:
        """Every site needs a policy for critical alarms, and no two policies may claim
        the same site and severity (which one would win is not obvious to a reader)."""
        if self._facility is None or not self.policies:
            return []
        found: list[tuple[Loc, str]] = []
        claimed: dict[tuple[str, Severity], int] = {}
        for p, policy in enumerate(self.policies):
            for site in policy.sites or self._facility.sites:
                for severity in policy.severities:
                    other = claimed.setdefault((site, severity), p)
                    if other != p:
                        found.append(
                            (
                                ("policies", p, "severities"),
                                (
                                    f"{site}/{severity} is already handled by policy "
                                    f"{self.policies[other].id!r}"
                                ),
                            )
                        )
        found += [
            (("policies",), f"site {site!r} has no policy for critical alarms")
            for site in self._facility.sites
            if (site, Severity.CRITICAL) not in claimed
        ]
        return found


_CONTACT = {"sms": "phone", "voice": "phone", "email": "email"}


def _unique(items: list[Any], name: str, problems: list[tuple[Loc, str]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for index, item in enumerate(items):
        if item.id in seen:
            problems.append(((name, index, "id"), f"{item.id!r} is listed twice"))
        seen[item.id] = item
    return seen


def _rota_gaps(index: int, rota: RotaConfig, facility: Facility) -> list[tuple[Loc, str]]:
    compiled = Rota.compile(rota, facility.sites[rota.site].timezone)
    found: list[tuple[Loc, str]] = []
    for start, end in compiled.check_dates():
        gaps = compiled.gaps(start, end)
        if start.year == 2001 and len(gaps) > 1 and gaps[0][0] == start and gaps[-1][1] == end:  # noqa: PLR2004
            # The sample week is a cycle: a gap over Sunday midnight is one gap, not two.
            gaps = [*gaps[1:-1], (gaps[-1][0], gaps[0][1])]
        found += [
            (("rotas", index, "shifts"), f"nobody is on duty {_span(a, b, start.year)}")
            for a, b in gaps
        ]
    return found


def _span(start: datetime, end: datetime, example_year: int) -> str:
    # The ordinary week is checked on a sample week: name weekdays, not its dates.
    if example_year == 2001:  # noqa: PLR2004 - see Rota.check_dates
        return f"{start:%a %H:%M}–{end:%a %H:%M} every week"
    return f"{start:%Y-%m-%d %H:%M}–{end:%Y-%m-%d %H:%M}"


def load_alerting(
    path: Path,
    facility: Facility,
    *,
    channels: frozenset[str] | None = None,
    webhooks: frozenset[str] | None = None,
) -> AlertingConfig:
    """Load and check the alerting file (raises ConfigError naming file, line, field).

    ``channels`` and ``webhooks`` are what the settings configure; None skips that check.
    """
    context = {"facility": facility, "channels": channels, "webhooks": webhooks}
    return load_yaml_model(path, AlertingConfig, context=context)
