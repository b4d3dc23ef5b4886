"""The one time-series schema matches what Lantai actually produces.

The sink writes and the boards query the names in collectors/influx_schema.py; these tests
tie those names to their producers, so a renamed payload field or room metric fails here
rather than leaving a Grafana panel empty.
"""

from __future__ import annotations

from datetime import timedelta

from collectors import influx_schema as schema
from sensors.clock import FakeClock
from sensors.facility import Facility
from sensors.payload import MEASUREMENTS, ReadingPayload
from tests.test_rule_preservation import START, Stack, stack  # noqa: F401 - fixture


def test_every_payload_measurement_is_a_reading_field() -> None:
    assert tuple(schema.READING_FIELDS) == MEASUREMENTS
    typed = schema.READING_STRING_FIELDS | schema.READING_BOOL_FIELDS
    assert typed <= set(MEASUREMENTS)


def test_the_field_types_follow_the_payload_model() -> None:
    fields = ReadingPayload.model_fields
    for name in MEASUREMENTS:
        annotation = str(fields[name].annotation)
        if name in schema.READING_BOOL_FIELDS:
            assert "bool" in annotation, name
        elif name in schema.READING_STRING_FIELDS:
            assert "str" in annotation or "Literal['" in annotation, name
        else:
            assert "float" in annotation or "int" in annotation, (name, annotation)


def test_the_room_metrics_the_rules_emit_are_the_schema_fields(
    stack: Stack,  # noqa: F811 - the fixture imported above
    clock: FakeClock,
    facility: Facility,
) -> None:
    del clock, facility
    # Eight days, so TWPI (which needs seven) is among the emitted figures.
    stack.hold(18.0, 50.0, timedelta(days=8), timedelta(hours=1))
    emitted = {name for sample in stack.samples for name, _ in sample.values}
    assert emitted == set(schema.ROOM_METRIC_FIELDS)
    assert START < stack.samples[0].at <= START + timedelta(hours=1)


def test_system_metric_names_are_unique_and_prometheus_safe() -> None:
    names = schema.SYSTEM_METRICS
    assert len(names) == len(set(names)) >= 10
    for name in names:
        assert name.replace("_", "").isalnum(), name
        assert name == name.lower(), name
