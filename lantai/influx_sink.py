"""The InfluxDB sink as both `lantai run` and `lantai collect` build it.

A forwarder tailing a reading store, its spool file beside the store, lines placed in the
facility, and the real influxdb-client behind the writer Protocol.
"""

from __future__ import annotations

from collectors.influx_forwarder import InfluxForwarder, spool_path_for
from collectors.influx_lines import LineEncoder
from collectors.influx_settings import InfluxSettings
from collectors.influx_writer import InfluxClientWriter
from collectors.sqlite_store import SqliteReadingStore
from sensors.clock import Clock
from sensors.facility import Facility


def build_forwarder(
    settings: InfluxSettings, store: SqliteReadingStore, facility: Facility, clock: Clock
) -> InfluxForwarder:
    """The forwarder for ``store``; start it after the store, stop it before."""
    return InfluxForwarder(
        settings,
        store,
        spool_path_for(store.path),
        LineEncoder(facility),
        InfluxClientWriter(settings),
        clock,
    )
