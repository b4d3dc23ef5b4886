"""Render the boards to JSON, write them, and check committed files against the code.

The JSON is deterministic (sorted keys, two-space indent, UTF-8 kept as is, a trailing
newline), so ``lantai dashboards check`` can compare bytes and a reviewer sees a board's
change as a readable diff of dashboards/boards/*.json.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dashboards import desk, environment, flux, inspections, system_health
from dashboards.model import Dashboard

# Committed output, provisioned into Grafana (compose mounts it read-only).
BOARDS_DIR: Final = Path(__file__).resolve().parent / "boards"

BUILDERS: Final[tuple[Callable[[str], Dashboard], ...]] = (
    desk.build,
    environment.build,
    inspections.build,
    system_health.build,
)


def boards(bucket: str = flux.DEFAULT_BUCKET) -> list[Dashboard]:
    return [build(bucket) for build in BUILDERS]


def render(board: Dashboard) -> str:
    return json.dumps(board.to_json(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def file_name(board: Dashboard) -> str:
    return f"{board.uid}.json"


def rendered(bucket: str = flux.DEFAULT_BUCKET) -> dict[str, str]:
    """File name → JSON text for every board."""
    return {file_name(board): render(board) for board in boards(bucket)}


def write(out_dir: Path, bucket: str = flux.DEFAULT_BUCKET) -> list[Path]:
    """Write every board into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered(bucket).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@dataclass(frozen=True, slots=True)
class Difference:
    """One file that is not what the code builds."""

    path: Path
    problem: str  # "missing", "differs" or "not built by the code"


def check(out_dir: Path, bucket: str = flux.DEFAULT_BUCKET) -> list[Difference]:
    """Compare ``out_dir`` with what the code builds; empty when they match byte for byte."""
    expected = rendered(bucket)
    found: list[Difference] = []
    for name, text in expected.items():
        path = out_dir / name
        if not path.is_file():
            found.append(Difference(path, "missing"))
        elif path.read_bytes() != text.encode("utf-8"):
            found.append(Difference(path, "differs"))
    found.extend(
        Difference(path, "not built by the code")
        for path in sorted(out_dir.glob("*.json"))
        if path.name not in expected
    )
    return found
