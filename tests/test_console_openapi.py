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
