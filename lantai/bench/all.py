"""``lantai bench all``: every benchmark in one go, with the machine it ran on.

Runs ingest (against the bare-paho limit measured in the same run), alarm latency under
load, the rules (state memory per 10,000 sensors), a two-minute soak and the silent-sensor
detection, one after another (never at once: each measures the machine alone), each in a
process of its own, and returns one object. ``write_readme`` puts the headline table
between the README's ``<!-- bench-all:start -->`` and ``<!-- bench-all:end -->`` markers.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

START = "<!-- bench-all:start -->"
END = "<!-- bench-all:end -->"
SOAK_LITE_MINUTES = 2.0
QUICK_SOAK_MINUTES = 0.5


class MarkersMissingError(ValueError):
    """The README lacks the markers the table goes between."""


def run_all(*, quick: bool = False) -> dict[str, Any]:
    """Every benchmark, in turn; ``quick`` shortens each to check that the whole runs."""
    soak_minutes = QUICK_SOAK_MINUTES if quick else SOAK_LITE_MINUTES
    # At 1,000 sensors, paired with the pipeline without rules in every round: the rules
    # issue's measure (its "within 10 % of the backbone figure").
    ingest = ["--sensors", "1000", "--compare"]
    ingest += ["--rounds", "1", "--count", "20000"] if quick else ["--rounds", "5"]
    soak = _bench("soak", "--minutes", str(soak_minutes))["summary"]
    soak.pop("alarm_latency_by_period")  # the soak's own command shows the series
    return {
        "bench": "all",
        "quick": quick,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "ingest": _bench("ingest", *ingest),
        "alarm": _bench("alarm", *(["--samples", "20"] if quick else [])),
        "rules": _bench("rules", *(["--minutes", "60"] if quick else [])),
        "soak": soak,
        "silence": _bench("silence"),
    }


def _bench(name: str, *args: str) -> dict[str, Any]:
    """One benchmark in a fresh process, as `lantai bench NAME --json` runs alone: the
    RSS figures are then its own, not what an earlier benchmark left in the heap."""
    command = [sys.executable, "-m", "lantai", "bench", name, "--json", *args]
    print(f"lantai bench {name} {' '.join(args)}".rstrip(), file=sys.stderr, flush=True)
    out = subprocess.run(command, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"lantai bench {name} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    # Its last line is the result (the soak prints its samples first).
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "os": _os_name(),
        "python": platform.python_version(),
        "mosquitto": _mosquitto_version(),
    }


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or None
    found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return found.group(1).strip() if found else None


def _os_name() -> str:
    try:
        text = Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return platform.system()
    found = re.search(r'^PRETTY_NAME="?([^"\n]+)"?$', text, re.MULTILINE)
    return found.group(1) if found else platform.system()


def _mosquitto_version() -> str | None:
    binary = shutil.which("mosquitto") or (
        "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
    )
    if binary is None:
        return None
    # `mosquitto -h` prints its version first and exits non-zero; that is expected.
    out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=10, check=False)
    found = re.search(r"mosquitto version (\S+)", out.stdout + out.stderr)
    return found.group(1) if found else None


def table(result: dict[str, Any]) -> str:
    """The README's headline table (Markdown) from ``run_all``'s result."""
    m, ingest, alarm = result["machine"], result["ingest"], result["alarm"]
    rules, soak, silence = result["rules"], result["soak"], result["silence"]
    rss = soak["rss_mb"]
    rules_rss = soak["rules_rss_mb"] or {}
    runs = "1 round, --quick" if result["quick"] else f"median of {ingest['rounds']} rounds"
    rows = [
        (
            f"ingest, {ingest['sensors']:,} sensors, QoS 1, full default rules ({runs})",
            (
                f"{ingest['readings_per_s']:,} readings/s against bare paho "
                f"{ingest['bare_paho_per_s']:,}/s in the same run: **ratio {ingest['ratio']}**; "
                f"without rules, same rounds: ratio {ingest['no_rules']['ratio']}; with ÷ "
                f"without, round by round: median {ingest['with_over_without']}; "
                f"{ingest['messages_per_part']} messages a part; lost {ingest['lost']}"
            ),
        ),
        (
            (
                f"alarm latency, smoke → SMS request, under {alarm['background_per_s']:,.0f} "
                "readings/s"
            ),
            (
                f"p50 {alarm['p50_ms']} ms, p99 {alarm['p99_ms']} ms (to the alarm's record: "
                f"p50 {alarm['recorded_p50_ms']} ms, p99 {alarm['recorded_p99_ms']} ms; "
                f"{alarm['samples']} samples)"
            ),
        ),
        (
            (
                f"rules, {rules['climate_sensors']:,} climate sensors and "
                f"{rules['sensors'] - rules['climate_sensors']:,} smoke detectors, a simulated "
                f"{rules['simulated_minutes']:,} min, full default rule set"
            ),
            (
                f"RSS {rules['rss_mb']} MB ({rules['rss_growth_mb']} MB of rule state); "
                f"{rules['readings_per_s']:,} readings/s, {rules['evaluations_per_s']:,} "
                "evaluations/s"
            ),
        ),
        (
            f"soak-lite, example site at {soak['speed']:g}x, {soak['minutes']:g} min",
            (
                f"service RSS {rss['first']} → {rss['last']} MB (max {rss['max']}), rules' "
                f"process {rules_rss.get('first')} → {rules_rss.get('last')} MB; fds "
                f"{soak['fds']['first']} → {soak['fds']['last']}; alarm record p50 "
                f"{(soak['alarm_latency_ms'] or {}).get('p50')} ms, p99 "
                f"{(soak['alarm_latency_ms'] or {}).get('p99')} ms"
            ),
        ),
        (
            (
                f"silent sensor (interval {silence['interval_s']:g} s, silent after "
                f"{silence['silent_after_s']:g} s, sweep {silence['sweep_interval_s']:g} s)"
            ),
            (
                f"detected after {silence['detected_median_s']} s median, "
                f"{silence['detected_max_s']} s worst, against a deadline of "
                f"{silence['deadline_s']:g} s (worst − deadline: "
                f"{silence['detected_minus_deadline_max_s']} s)"
            ),
        ),
    ]
    lines = [
        (
            f"Measured by `lantai bench all` on {result['at'][:10]}: {m['cpu']}, {m['cores']} "
            f"cores, {m['ram_gib']} GiB, {m['os']} (kernel {m['kernel']}), Python "
            f"{m['python']}, Mosquitto {m['mosquitto']}."
        ),
        "",
        "| benchmark | figure |",
        "|---|---|",
        *(f"| {name} | {figure} |" for name, figure in rows),
    ]
    return "\n".join(lines)


def check_markers(readme: Path) -> tuple[str, int, int]:
    """The README's text and where its markers are (MarkersMissingError if absent): the
    CLI asks before the benchmarks run, not a quarter of an hour later."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(START), text.find(END)
    if start < 0 or end < 0 or end < start:
        raise MarkersMissingError(
            f"{readme}: the table goes between the lines {START} and {END}; "
            "add both (in that order) where it belongs, then run again"
        )
    return text, start, end


def write_readme(readme: Path, result: dict[str, Any]) -> None:
    """Replace what lies between the markers with the table (MarkersMissingError if absent)."""
    text, start, end = check_markers(readme)
    head, tail = text[: start + len(START)], text[end:]
    readme.write_text(f"{head}\n{table(result)}\n{tail}", encoding="utf-8")
