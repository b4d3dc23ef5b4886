"""Wiring of the alarm channels: one line per kind, and the rota report of check-config."""

from __future__ import annotations

from datetime import datetime, timedelta

from alerts.config import load_alerting
from alerts.notifiers import Channel, Notifier
from alerts.notifiers.email import EmailNotifier
from alerts.notifiers.sms import SmsNotifier
from alerts.notifiers.voice import VoiceNotifier
from alerts.notifiers.webhook import WebhookNotifier
from alerts.routing import Routing
from lantai.settings import LantaiSettings
from sensors.events import Severity
from sensors.facility import Facility


def build_notifiers(settings: LantaiSettings) -> dict[Channel, Notifier]:
    """The channels the settings configure (Alertmanager's BuildReceiverIntegrations)."""
    notifiers: dict[Channel, Notifier] = {}
    if settings.twilio is not None:
        notifiers[Channel.SMS] = SmsNotifier(settings.twilio)
        notifiers[Channel.VOICE] = VoiceNotifier(settings.twilio)
    if settings.smtp is not None:
        notifiers[Channel.EMAIL] = EmailNotifier(settings.smtp)
    if settings.webhooks:
        notifiers[Channel.WEBHOOK] = WebhookNotifier(settings.webhooks)
    return notifiers


def configured_channels(settings: LantaiSettings) -> frozenset[str]:
    channels = set()
    if settings.twilio is not None:
        channels |= {Channel.SMS.value, Channel.VOICE.value}
    if settings.smtp is not None:
        channels.add(Channel.EMAIL.value)
    return frozenset(channels)


def load_routing(settings: LantaiSettings, facility: Facility) -> Routing:
    """The compiled alerting file, checked against the channels the settings configure."""
    if settings.alerting is None:
        return Routing.empty(facility)
    config = load_alerting(
        settings.alerting,
        facility,
        channels=configured_channels(settings),
        webhooks=frozenset(w.id for w in settings.webhooks),
    )
    return Routing(config, facility)


def coverage_report(
    routing: Routing, facility: Facility, now: datetime, days: int = 7
) -> list[str]:
    """Who is on duty over the next ``days`` days, and which alarms reach the console only."""
    lines: list[str] = []
    for rota in routing.rotas.values():
        zone = facility.sites[rota.site].timezone
        lines.append(f"rota {rota.id} ({rota.site}, {zone.key}), next {days} days:")
        for duty in rota.duties(now, now + timedelta(days=days)):
            start, end = duty.start.astimezone(zone), duty.end.astimezone(zone)
            label = f" [{duty.name}]" if duty.name else ""
            lines.append(
                f"  {start:%a %m-%d %H:%M} – {end:%a %m-%d %H:%M}{label}: {', '.join(duty.people)}"
            )
        gaps = rota.gaps(now, now + timedelta(days=days))
        lines += [
            f"  GAP {a.astimezone(zone):%a %m-%d %H:%M} – {b.astimezone(zone):%a %m-%d %H:%M}"
            for a, b in gaps
        ]
    for site in facility.sites:
        unrouted = [s.value for s in Severity if routing.policy_for(site, s) is None]
        if unrouted:
            lines.append(f"site {site}: {', '.join(unrouted)} alarms reach the console only")
    return lines
