"""GET /metrics: Lantai's own numbers in Prometheus' text format (version 0.0.4).

The service collects the samples (lantai/metrics.py); this module only renders them.
prometheus-client does the exposition (escaping, number formatting, ``_total``), fed by a
collector built per request from the samples and registered in a registry of its own, so
there is no global registry and nothing is kept between scrapes.

A scrape needs ``read``, as an API token (``Authorization: Bearer``, what Prometheus'
``authorization`` scrape setting sends) or a desk session. A caller granted some sites
only sees those sites' labelled series; the site-less ones (ingest, store, outbox) are
the whole service's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

from fastapi import APIRouter, Depends, Response
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from collectors.influx_schema import (
    METRIC_PREFIX,
    SYSTEM_METRICS,
    SystemLabel,
    SystemMetric,
    SystemSample,
)
from console.auth import Gate, Permission, Principal

METRICS_PATH: Final = "/metrics"
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4

# The HELP line of each family; a test checks that every SystemMetric has one.
HELP: Final[Mapping[str, str]] = {
    SystemMetric.INGEST_RECEIVED: "MQTT messages received since start.",
    SystemMetric.INGEST_STORED: "Readings written durably to the store since start.",
    SystemMetric.INGEST_QUARANTINED: "Messages quarantined, by reason, over the store's life.",
    SystemMetric.INGEST_BACKLOG: "Messages received and not yet decoded.",
    SystemMetric.INGEST_LAG_SECONDS: "Seconds since the store last took a batch.",
    SystemMetric.STORE_WRITE_RETRIES: "Store writes retried since start.",
    SystemMetric.MQTT_CONNECTED: "1 while connected to the MQTT broker, else 0.",
    SystemMetric.RULE_EVALUATIONS: "Rule evaluations since start.",
    SystemMetric.ALARMS_OPEN: "Open alarms (active, or cleared and not acknowledged).",
    SystemMetric.NOTIFICATIONS: "Notification delivery attempts since start, by outcome.",
    SystemMetric.OUTBOX_PENDING: "Notifications queued and not yet sent.",
    SystemMetric.SPOOL_DEPTH: "Points stored locally and not yet written to InfluxDB.",
    SystemMetric.SPOOL_DROPPED: "Points never written to InfluxDB because the spool was full.",
    SystemMetric.INFLUX_WRITES: "InfluxDB write requests since start, by outcome.",
    SystemMetric.INSPECTION_TASKS: "Inspection tasks of the site's local day, by status.",
    SystemMetric.HAZARDS_OPEN: "Hazards found and not yet accepted.",
}
_ORDER: Final = {name: i for i, name in enumerate(SYSTEM_METRICS)}


class _SampleCollector:
    """A prometheus-client collector over one scrape's samples."""

    def __init__(self, samples: Sequence[SystemSample]) -> None:
        self._samples = samples

    def collect(self) -> Iterator[Metric]:
        families: dict[str, list[SystemSample]] = {}
        for s in self._samples:
            families.setdefault(s.metric, []).append(s)
        for name in sorted(families, key=lambda n: (_ORDER.get(n, len(_ORDER)), n)):
            yield _family(name, families[name])


def _family(name: str, samples: Sequence[SystemSample]) -> Metric:
    """One family; every sample of it must carry the same label names."""
    labels = [key for key, _ in samples[0].labels]
    help_text = HELP.get(name, name)
    family: CounterMetricFamily | GaugeMetricFamily
    if name.endswith("_total"):
        # prometheus-client adds the _total back to the sample name.
        family = CounterMetricFamily(
            METRIC_PREFIX + name.removesuffix("_total"), help_text, labels=labels
        )
    else:
        family = GaugeMetricFamily(METRIC_PREFIX + name, help_text, labels=labels)
    for s in samples:
        keys = [key for key, _ in s.labels]
        if keys != labels:
            msg = f"{name}: labels {keys} differ from the family's {labels}"
            raise ValueError(msg)
        family.add_metric([value for _, value in s.labels], s.value)
    return family


def render(samples: Sequence[SystemSample]) -> bytes:
    """``samples`` in the Prometheus text format 0.0.4."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SampleCollector(samples))
    return generate_latest(registry)


def visible(samples: Sequence[SystemSample], who: Principal) -> list[SystemSample]:
    """The samples ``who`` may see: those of their sites, and the site-less ones."""
    return [
        s
        for s in samples
        if all(key != SystemLabel.SITE or who.sees(value) for key, value in s.labels)
    ]


def build_metrics_router(metrics: Callable[[], Sequence[SystemSample]], gate: Gate) -> APIRouter:
    """GET /metrics behind ``read``; not in the OpenAPI document (it is not JSON)."""
    router = APIRouter()
    reader = Depends(gate.require(Permission.READ))

    # A plain def: collecting runs a few blocking queries, in FastAPI's thread pool.
    @router.get(METRICS_PATH, include_in_schema=False)
    def prometheus_metrics(who: Principal = reader) -> Response:
        return Response(render(visible(metrics(), who)), media_type=CONTENT_TYPE)

    return router
