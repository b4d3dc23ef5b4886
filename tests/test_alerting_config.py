"""The alerting file (``alerts.config.load_alerting``): the example loads, and every refused
file names file, line, field and reason.

After Alertmanager's config tests: one small file per case under
``tests/testdata/alerting/``, each differing from ``minimal.yaml`` in one place, and the
exact problem lines written out here by hand, not derived from the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from alerts.config import AlertingConfig, load_alerting
from alerts.notifiers import Channel
from alerts.routing import Routing
from sensors.events import Severity
from sensors.facility import Facility
from sensors.yamlconfig import ConfigError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "alerts" / "example-alerting.yaml"
CASES = Path(__file__).resolve().parent / "testdata" / "alerting"
ALL_CHANNELS = frozenset({"sms", "voice", "email"})


def refused(
    name: str,
    facility: Facility,
    *,
    channels: frozenset[str] | None = None,
    webhooks: frozenset[str] | None = None,
) -> tuple[Path, list[str]]:
    path = CASES / name
    with pytest.raises(ConfigError) as error:
        load_alerting(path, facility, channels=channels, webhooks=webhooks)
    lines = [str(p) for p in error.value.problems]
    assert str(error.value) == "\n".join(lines)
    return path, lines


# --- files that load -------------------------------------------------------------------------


def test_the_example_loads_against_the_example_facility(facility: Facility) -> None:
    config = load_alerting(EXAMPLE, facility, channels=ALL_CHANNELS, webhooks=frozenset())
    assert [p.id for p in config.people] == ["wang", "li", "zhao", "chen", "he", "morgan"]
    assert [r.id for r in config.rotas] == ["yunxi-guards"]
    assert [p.id for p in config.policies] == ["critical", "high", "routine"]
    assert [p.id for p in config.people if p.can_shelve] == ["chen", "he"]
    assert (config.group_window, config.max_shelve) == (timedelta(minutes=5), timedelta(hours=24))
    assert (config.flood.enter_above, config.flood.leave_below) == (10, 5)
    assert config.delivery.fallback == [Channel.SMS, Channel.VOICE, Channel.EMAIL]


def test_the_example_routes_every_severity_of_its_site(facility: Facility) -> None:
    routing = Routing(load_alerting(EXAMPLE, facility), facility)
    routes = {s: routing.policy_for("yunxi", s) for s in Severity}
    assert {s: p.id if p else None for s, p in routes.items()} == {
        Severity.CRITICAL: "critical",
        Severity.HIGH: "high",
        Severity.MEDIUM: "routine",
        Severity.LOW: "routine",
    }
    critical = routes[Severity.CRITICAL]
    assert critical is not None
    assert [(t.after, t.remind_every) for t in critical.timing] == [
        (timedelta(0), timedelta(minutes=5)),
        (timedelta(minutes=2), None),
        (timedelta(minutes=5), None),
        (timedelta(minutes=10), None),
    ]


@pytest.mark.parametrize(
    ("when", "on_duty"),
    [
        ((2026, 1, 5, 12), ("wang",)),  # Monday noon
        ((2026, 1, 5, 23), ("li",)),  # Monday night
        ((2026, 1, 10, 23), ("zhao",)),  # Saturday night
        ((2026, 10, 1, 12), ("zhao",)),  # National Day
        ((2026, 10, 1, 22), ("li",)),  # National Day's night shift
    ],
)
def test_the_example_rota_covers_the_week_and_national_day(
    facility: Facility, when: tuple[int, int, int, int], on_duty: tuple[str, ...]
) -> None:
    routing = Routing(load_alerting(EXAMPLE, facility), facility)
    local = datetime(*when, tzinfo=facility.sites["yunxi"].timezone)
    assert routing.rotas["yunxi-guards"].on_duty(local.astimezone(UTC)) == on_duty


def test_the_minimal_case_file_loads(facility: Facility) -> None:
    config = load_alerting(CASES / "minimal.yaml", facility, channels=ALL_CHANNELS)
    assert isinstance(config, AlertingConfig)
    assert [p.id for p in config.people] == ["wang", "li", "chen"]


# --- refused files: one problem each, exact ---------------------------------------------------


def test_an_unknown_key(facility: Facility) -> None:
    path, problems = refused("unknown_key.yaml", facility)
    assert problems == [
        f"{path}:8: people.1.phne: Extra inputs are not permitted (got '+8613800000002')"
    ]


def test_a_person_listed_twice(facility: Facility) -> None:
    path, problems = refused("duplicate_person.yaml", facility)
    assert problems == [f"{path}:6: people.1.id: 'wang' is listed twice"]


def test_an_unknown_person_in_a_shift(facility: Facility) -> None:
    path, problems = refused("unknown_person_in_shift.yaml", facility)
    assert problems == [f"{path}:18: rotas.0.shifts.1.people: unknown person 'liu'"]


def test_an_unknown_person_in_a_holiday_shift(facility: Facility) -> None:
    path, problems = refused("unknown_person_in_holiday.yaml", facility)
    assert problems == [f"{path}:22: rotas.0.holidays.0.shifts.0.people: unknown person 'zhao'"]


def test_an_unknown_site(facility: Facility) -> None:
    path, problems = refused("unknown_site.yaml", facility)
    assert problems == [
        f"{path}:15: rotas.0.site: unknown site 'beihai'",
        f"{path}:21: policies.0.sites: unknown site 'beihai'",
    ]


def test_an_unknown_rota_in_a_step(facility: Facility) -> None:
    path, problems = refused("unknown_rota_in_step.yaml", facility)
    assert problems == [f"{path}:24: policies.0.steps.0.notify.0.rota: unknown rota 'gaurds'"]


def test_an_unknown_person_in_a_step(facility: Facility) -> None:
    path, problems = refused("unknown_person_in_step.yaml", facility)
    assert problems == [f"{path}:27: policies.0.steps.1.notify.0.person: unknown person 'zhou'"]


def test_a_person_without_a_phone_for_an_sms_step(facility: Facility) -> None:
    path, problems = refused("person_without_phone_for_sms.yaml", facility)
    assert problems == [
        f"{path}:30: policies.0.steps.1.notify.0.person: he has no phone for the sms channel"
    ]


def test_a_rota_with_a_nightly_gap_names_each_weekday_span(facility: Facility) -> None:
    path, problems = refused("rota_nightly_gap.yaml", facility)
    assert problems == [
        f"{path}:16: rotas.0.shifts: nobody is on duty {day} 20:00–{day} 21:00 every week"
        for day in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    ]


def test_a_weekend_gap_is_reported_as_the_spans_nobody_covers(facility: Facility) -> None:
    path, problems = refused("rota_weekend_gap.yaml", facility)
    assert sorted(problems) == [
        f"{path}:16: rotas.0.shifts: nobody is on duty Sat 20:00–Sun 08:00 every week",
        f"{path}:16: rotas.0.shifts: nobody is on duty Sun 20:00–Mon 08:00 every week",
    ]


def test_a_holiday_leaving_a_gap_names_its_dates(facility: Facility) -> None:
    # Reported at the rota's shifts, not at the holiday that causes it; the dates say which.
    path, problems = refused("holiday_gap.yaml", facility)
    assert problems == [
        f"{path}:16: rotas.0.shifts: nobody is on duty 2026-10-01 20:00–2026-10-02 08:00"
    ]


def test_two_policies_for_one_site_and_severity(facility: Facility) -> None:
    path, problems = refused("duplicate_policy.yaml", facility)
    assert problems == [
        f"{path}:30: policies.1.severities: yunxi/critical is already handled by policy 'critical'"
    ]


def test_a_site_without_a_critical_policy(facility: Facility) -> None:
    path, problems = refused("missing_critical_policy.yaml", facility)
    assert problems == [f"{path}:19: policies: site 'yunxi' has no policy for critical alarms"]


def test_a_phone_number_without_the_country_code(facility: Facility) -> None:
    path, problems = refused("bad_phone.yaml", facility)
    assert problems == [
        (
            f"{path}:5: people.0.phone: String should match pattern '^\\+[1-9]\\d{{6,14}}$' "
            "(got '13800000001')"
        )
    ]


def test_steps_out_of_order(facility: Facility) -> None:
    path, problems = refused("steps_out_of_order.yaml", facility)
    assert problems == [
        f"{path}:20: policies.0: Value error, steps must be listed in the order of their 'after'"
    ]


def test_a_target_naming_a_rota_and_a_person(facility: Facility) -> None:
    path, problems = refused("target_two_kinds.yaml", facility)
    assert problems == [
        (
            f"{path}:27: policies.0.steps.1.notify.0: Value error, a target names exactly one of "
            "rota, person or webhook"
        )
    ]


def test_an_unknown_channel(facility: Facility) -> None:
    path, problems = refused("unknown_channel.yaml", facility)
    assert problems == [
        (
            f"{path}:26: policies.0.steps.1: Value error, unknown channel 'pager'; "
            "use console, sms, voice, email"
        )
    ]


def test_a_channel_the_settings_do_not_configure(facility: Facility) -> None:
    path, problems = refused("channel_not_configured.yaml", facility, channels=frozenset({"sms"}))
    assert problems == [
        f"{path}:28: policies.0.steps.1.channels: channel 'voice' is not configured in the settings"
    ]


def test_channels_are_not_checked_when_the_settings_are_not_given(facility: Facility) -> None:
    config = load_alerting(CASES / "channel_not_configured.yaml", facility)
    assert config.policies[0].steps[1].channels == ["sms", "voice"]


def test_a_webhook_the_settings_do_not_configure(facility: Facility) -> None:
    path, problems = refused("webhook_not_configured.yaml", facility, webhooks=frozenset({"teams"}))
    assert problems == [
        f"{path}:27: policies.0.steps.1.notify.1.webhook: webhook 'ops-bus' is not in the settings"
    ]


def test_a_configured_webhook_loads(facility: Facility) -> None:
    config = load_alerting(
        CASES / "webhook_not_configured.yaml", facility, webhooks=frozenset({"ops-bus"})
    )
    assert config.policies[0].steps[1].notify[1].webhook == "ops-bus"


def test_the_example_holiday_is_checked_with_the_day_after(facility: Facility) -> None:
    """National Day in the example keeps its night shift: the 2nd of October is covered."""
    routing = Routing(load_alerting(EXAMPLE, facility), facility)
    rota = routing.rotas["yunxi-guards"]
    zone = facility.sites["yunxi"].timezone
    start = datetime.combine(date(2026, 10, 1), datetime.min.time(), zone)
    assert rota.gaps(start, start + timedelta(days=2)) == []
