"""What every board shares: the bucket constant, the site and room choosers, alarm markers."""

from __future__ import annotations

from typing import Final

from collectors.influx_schema import READING, Tag
from dashboards import flux
from dashboards.model import Annotation, Color, ConstantVariable, QueryVariable

_SCHEMA_IMPORT: Final = 'import "influxdata/influxdb/schema"\n\n'


def bucket_variable(bucket: str) -> ConstantVariable:
    return ConstantVariable(name=flux.BUCKET_VAR, value=bucket)


def site_variable(*, multi: bool) -> QueryVariable:
    """Sites that sent readings lately; ``multi`` for the desk, single for one room's view."""
    query = (
        _SCHEMA_IMPORT
        + "schema.measurementTagValues(\n"
        + f"  bucket: {flux.var(flux.BUCKET_VAR)},\n"
        + f'  measurement: "{READING}",\n'
        + f'  tag: "{Tag.SITE}"\n'
        + ")"
    )
    return QueryVariable(
        name=flux.SITE_VAR, label="Site 馆", query=query, multi=multi, include_all=multi
    )


def room_variable() -> QueryVariable:
    """Rooms of the selected site (one site), any number of them."""
    query = (
        _SCHEMA_IMPORT
        + "schema.tagValues(\n"
        + f"  bucket: {flux.var(flux.BUCKET_VAR)},\n"
        + f'  tag: "{Tag.ROOM}",\n'
        + f'  predicate: (r) => r._measurement == "{READING}" and {flux.is_site()},\n'
        + f"  start: {flux.TAG_LOOKBACK}\n"
        + ")"
    )
    return QueryVariable(
        name=flux.ROOM_VAR, label="Room 库房", query=query, multi=True, include_all=True
    )


def alarm_annotations(*conditions: str) -> tuple[Annotation, Annotation]:
    """Raised alarms in red, cleared or closed ones in green, from alarm_event."""
    return (
        Annotation(
            name="Alarms raised 报警",
            query=flux.alarm_annotation(flux.CHANGES_RAISED, *conditions),
            color=Color.RED,
        ),
        Annotation(
            name="Alarms cleared 恢复",
            query=flux.alarm_annotation(flux.CHANGES_CLEARED, *conditions),
            color=Color.GREEN,
        ),
    )
