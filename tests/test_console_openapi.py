"""The committed OpenAPI snapshot (console/openapi.json) matches what the app generates."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from console.openapi import REGENERATE, SNAPSHOT, openapi_document, openapi_text
from sensors.clock import FakeClock
from sensors.facility import Facility
from tests.console_server import console_stores


def test_committed_openapi_document_is_current() -> None:
    committed = SNAPSHOT.read_text(encoding="utf-8")
    generated = openapi_text()
    if committed != generated:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True),
                generated.splitlines(keepends=True),
                "console/openapi.json (committed)",
                "generated",
                n=2,
            )
        )
        print(diff[:5000])
        raise AssertionError(
            f"console/openapi.json is out of date; regenerate it with: {REGENERATE}"
        )


def test_document_does_not_depend_on_the_facility_or_the_machine(
    tmp_path: Path, facility: Facility, clock: FakeClock
) -> None:
    # The service's kind of context (the real facility and stores) gives the same document.
    with console_stores(tmp_path, facility, clock) as console:
        assert openapi_document(console.context()) == openapi_document()
    text = openapi_text()
    assert text.endswith("}\n")
    assert json.loads(text)["info"]["title"] == "Lantai console"
    for machine_specific in (str(tmp_path), "/home/", "/work/", "site-packages"):
        assert machine_specific not in text


def test_document_describes_the_alarm_states_and_the_desks_actions() -> None:
    document = openapi_document()
    schemas = document["components"]["schemas"]
    assert schemas["AlarmState"]["enum"] == ["unacked", "acked", "rtn_unacked", "closed"]
    assert schemas["AlarmFilter"]["enum"] == ["open", "active", "all"]
    assert set(schemas["Change"]["enum"]) == {
        "raised",
        "repeated",
        "reraised",
        "cleared",
        "acked",
        "closed",
        "shelved",
        "unshelved",
    }
    paths = document["paths"]
    ack = paths["/api/alarms/{alarm_id}/ack"]["post"]
    # Who acknowledges is the login, not a header or a field: the body's ``by`` is kept
    # for older pages, marked deprecated.
    assert {(p["in"], p["name"]) for p in ack["parameters"]} == {("path", "alarm_id")}
    assert {"200", "401", "403", "404", "503"} <= set(ack["responses"])
    assert {"session": []} in ack["security"]
    assert {"apiToken": []} in ack["security"]
    assert schemas["AckIn"]["properties"]["by"]["deprecated"] is True
    detail = paths["/api/alarms/{alarm_id}"]["get"]["responses"]["200"]
    assert detail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AlarmDetailOut"
    }
    assert "201" in paths["/api/maintenance-windows"]["post"]["responses"]
    assert {"get", "post"} <= set(paths["/api/maintenance-windows"])
    assert "delete" in paths["/api/maintenance-windows/{window_id}"]
    assert "get" in paths["/api/rotas"]
    assert "security" not in paths["/api/health"]["get"]  # open to load balancers
    detail_schema = schemas["AlarmDetailOut"]["properties"]
    assert {"sop", "readings_around"} <= set(detail_schema)
    for new in (
        "/api/rooms/{site}/{room}/history",
        "/api/sensors/health",
        "/api/sops",
        "/api/sops/{category}",
        "/api/demo/inject",
    ):
        assert new in paths, new
    assert "put" in paths["/api/sops/{category}"]
