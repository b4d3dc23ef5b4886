"""The compiled alerting config: which policy an incident follows and who a step reaches.

Built once from the validated ``AlertingConfig``; at run time nothing is checked again,
so a lookup that fails here is a bug, not a config problem.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.config import AlertingConfig, PersonConfig, StepConfig
from alerts.escalation import StepTiming
from alerts.notifiers import Channel, Language
from alerts.rota import Duty, Rota
from sensors.events import Severity
from sensors.facility import Facility


@dataclass(frozen=True, slots=True)
class Recipient:
    """One address to send to: a person on a channel, or a webhook."""

    who: str  # person id, or "webhook:<id>"
    name: str
    channel: Channel
    address: str
    language: Language
    sms_reply: bool = True


@dataclass(frozen=True, slots=True)
class Policy:
    id: str
    steps: tuple[StepConfig, ...]
    timing: tuple[StepTiming, ...]


class Routing:
    """Policies by (site, severity), rotas by id and people by id and phone number."""

    def __init__(self, config: AlertingConfig, facility: Facility) -> None:
        self.config = config
        self.people: dict[str, PersonConfig] = {p.id: p for p in config.people}
        self._by_phone = {p.phone: p for p in config.people if p.phone is not None}
        self.rotas = {r.id: Rota.compile(r, facility.sites[r.site].timezone) for r in config.rotas}
        self.policies: dict[str, Policy] = {}
        self._routes: dict[tuple[str, Severity], Policy] = {}
        for p in config.policies:
            policy = Policy(
                p.id,
                tuple(p.steps),
                tuple(StepTiming(s.after, s.remind_every) for s in p.steps),
            )
            self.policies[p.id] = policy
            for site in p.sites or facility.sites:
                for severity in p.severities:
                    self._routes[(site, severity)] = policy

    @classmethod
    def empty(cls, facility: Facility) -> Routing:
        """No alerting file: alarms reach the console and the log only."""
        return cls(AlertingConfig(), facility)

    def policy_for(self, site: str, severity: Severity) -> Policy | None:
        return self._routes.get((site, severity))

    def person_by_phone(self, phone: str) -> PersonConfig | None:
        return self._by_phone.get(phone)

    def recipients(self, step: StepConfig, at: datetime) -> list[Recipient]:
        """Everybody a step reaches at ``at``, each address once, in config order."""
        found: dict[tuple[Channel, str], Recipient] = {}
        for target in step.notify:
            if target.webhook is not None:
                key = (Channel.WEBHOOK, target.webhook)
                found.setdefault(
                    key,
                    Recipient(
                        f"webhook:{target.webhook}",
                        target.webhook,
                        Channel.WEBHOOK,
                        target.webhook,
                        "en",
                    ),
                )
                continue
            who = self.rotas[target.rota].on_duty(at) if target.rota else (target.person or "",)
            for person_id in who:
                person = self.people[person_id]
                for channel_name in step.channels:
                    if channel_name == "console":
                        continue
                    channel = Channel(channel_name)
                    for recipient in self.contact(person, channel):
                        found.setdefault((channel, recipient.address), recipient)
        return list(found.values())

    def contact(self, person: PersonConfig, channel: Channel) -> Iterator[Recipient]:
        """The person's address on ``channel``, if they have one."""
        address = person.email if channel is Channel.EMAIL else person.phone
        if channel is not Channel.WEBHOOK and address is not None:
            yield Recipient(
                person.id, person.name, channel, address, person.language, person.sms_reply
            )

    def coverage(self, rota_id: str, start: datetime, days: int = 7) -> list[Duty]:
        """The shifts of a rota over the next ``days`` days, for check-config and the API."""
        return list(self.rotas[rota_id].duties(start, start + timedelta(days=days)))
