"""GET /metrics: the exposition of Lantai's own numbers, and who may scrape it.

The rendering is tested on samples written out here, against the exact text Prometheus
reads; the route on a real console server with real accounts and API tokens, as a
Prometheus scrape sends them. tests/test_metrics_pipeline.py checks the numbers a real
pipeline produces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from collectors.influx_schema import SYSTEM_METRICS, SystemMetric, SystemSample
from console.auth import Role
from console.metrics_route import CONTENT_TYPE, HELP, METRICS_PATH, render
from lantai.metrics import sample
from lantai.settings import ConsoleSettings
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import SITE, Console, running_console, token_client

EXAMPLE = Path(__file__).resolve().parents[1] / "console" / "example-prometheus.yaml"
OTHER = "beishan"

SAMPLES = (
    sample(SystemMetric.INGEST_RECEIVED, 12),
    sample(SystemMetric.INGEST_QUARANTINED, 2, reason="not_json"),
    sample(SystemMetric.INGEST_QUARANTINED, 0, reason="bad_topic"),
    sample(SystemMetric.MQTT_CONNECTED, 1),
    sample(SystemMetric.ALARMS_OPEN, 1, site=SITE, severity="critical"),
    sample(SystemMetric.ALARMS_OPEN, 3, site=OTHER, severity="critical"),
    sample(SystemMetric.INGEST_LAG_SECONDS, 0.25),
)


def test_the_text_is_prometheus_format_0_0_4() -> None:
    assert render(SAMPLES).decode() == (
        "# HELP lantai_ingest_received_total MQTT messages received since start.\n"
        "# TYPE lantai_ingest_received_total counter\n"
        "lantai_ingest_received_total 12.0\n"
        "# HELP lantai_ingest_quarantined_total Messages quarantined, by reason, over the"
        " store's life.\n"
        "# TYPE lantai_ingest_quarantined_total counter\n"
        'lantai_ingest_quarantined_total{reason="not_json"} 2.0\n'
        'lantai_ingest_quarantined_total{reason="bad_topic"} 0.0\n'
        "# HELP lantai_ingest_lag_seconds Seconds since the store last took a batch.\n"
        "# TYPE lantai_ingest_lag_seconds gauge\n"
        "lantai_ingest_lag_seconds 0.25\n"
        "# HELP lantai_mqtt_connected 1 while connected to the MQTT broker, else 0.\n"
        "# TYPE lantai_mqtt_connected gauge\n"
        "lantai_mqtt_connected 1.0\n"
        "# HELP lantai_alarms_open Open alarms (active, or cleared and not acknowledged).\n"
        "# TYPE lantai_alarms_open gauge\n"
        'lantai_alarms_open{severity="critical",site="yunxi"} 1.0\n'
        'lantai_alarms_open{severity="critical",site="beishan"} 3.0\n'
    )


def test_label_values_are_escaped() -> None:
    text = render([sample(SystemMetric.INGEST_QUARANTINED, 1, reason='a "b"\\\nc')]).decode()
    (family,) = text_string_to_metric_families(text)
    assert family.samples[0].labels == {"reason": 'a "b"\\\nc'}


def test_every_family_has_its_help_text() -> None:
    assert set(HELP) == set(SYSTEM_METRICS)
    assert all(text.endswith(".") for text in HELP.values())


def test_a_family_whose_samples_disagree_on_labels_is_refused() -> None:
    mixed = [
        sample(SystemMetric.ALARMS_OPEN, 1, site=SITE, severity="critical"),
        sample(SystemMetric.ALARMS_OPEN, 1, site=SITE),
    ]
    with pytest.raises(ValueError, match="alarms_open: labels"):
        render(mixed)


def test_the_example_scrape_config_names_the_route_and_a_bearer_token() -> None:
    config = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    (job,) = config["scrape_configs"]
    assert job["metrics_path"] == METRICS_PATH
    assert job["authorization"]["type"] == "Bearer"
    # The secret lives in a file of its own, never in the config.
    assert set(job["authorization"]) == {"type", "credentials_file"}
    ((target,),) = [c["targets"] for c in job["static_configs"]]
    assert target.endswith(f":{ConsoleSettings().port}")


# -- the route, on a real console --------------------------------------------------------


@pytest.fixture
def console(tmp_path: Path, facility: Facility, clock: FakeClock) -> Iterator[Console]:
    with running_console(tmp_path, facility, clock, metrics=lambda: SAMPLES) as running:
        yield running


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get(METRICS_PATH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_a_viewer_token_scrapes_its_sites_series(console: Console) -> None:
    assert CONTENT_TYPE == "text/plain; version=0.0.4; charset=utf-8"
    with token_client(console, "prometheus", Role.VIEWER) as client:
        found = scrape(client)
    assert found == {
        ("lantai_ingest_received_total", ()): 12.0,
        ("lantai_ingest_quarantined_total", (("reason", "not_json"),)): 2.0,
        ("lantai_ingest_quarantined_total", (("reason", "bad_topic"),)): 0.0,
        ("lantai_ingest_lag_seconds", ()): 0.25,
        ("lantai_mqtt_connected", ()): 1.0,
        # beishan's alarms are not this token's to see
        ("lantai_alarms_open", (("severity", "critical"), ("site", SITE))): 1.0,
    }


def test_an_admin_of_every_site_sees_every_site(console: Console) -> None:
    with token_client(console, "fleet", Role.ADMIN, ()) as client:
        found = scrape(client)
    assert found[("lantai_alarms_open", (("severity", "critical"), ("site", OTHER)))] == 3.0


def test_a_stranger_is_asked_for_a_bearer_token(console: Console) -> None:
    response = httpx.get(console.url + METRICS_PATH, timeout=10)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="lantai"'
    assert "lantai_" not in response.text


@pytest.mark.parametrize(
    "authorization", ["Bearer lantai_not-a-token", "Basic cHJvbWV0aGV1czpzZWNyZXQ="]
)
def test_an_unknown_token_or_another_scheme_is_refused(
    console: Console, authorization: str
) -> None:
    response = httpx.get(
        console.url + METRICS_PATH, headers={"Authorization": authorization}, timeout=10
    )
    assert response.status_code == 401


def test_a_revoked_token_is_refused(console: Console) -> None:
    with token_client(console, "old-prometheus", Role.VIEWER) as client:
        assert client.get(METRICS_PATH).status_code == 200
        assert console.auth.tokens.revoke("old-prometheus")
        assert client.get(METRICS_PATH).status_code == 401


def test_a_guard_token_may_not_read(console: Console) -> None:
    with token_client(console, "phone", Role.GUARD) as client:
        assert client.get(METRICS_PATH).status_code == 403


def test_metrics_are_not_in_the_openapi_document(console: Console) -> None:
    document = httpx.get(console.url + "/openapi.json", timeout=10).json()
    assert METRICS_PATH not in document["paths"]


def test_without_a_collector_there_is_no_route(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    with (
        running_console(tmp_path, facility, clock) as console,
        token_client(console, "prometheus", Role.VIEWER) as client,
    ):
        assert client.get(METRICS_PATH).status_code == 404


def test_samples_are_plain_values() -> None:
    made = sample(SystemMetric.ALARMS_OPEN, 2, site=SITE, severity="high")
    assert made == SystemSample("alarms_open", (("site", SITE), ("severity", "high")), 2.0)
