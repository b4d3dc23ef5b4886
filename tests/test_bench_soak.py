"""The soak's machinery: a 20-second soak-lite through the CLI, the summary's arithmetic,
the silent-sensor bench's floor, and the README table's markers. No speed is asserted."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from lantai.bench.all import END, START, MarkersMissingError, machine, write_readme
from lantai.bench.silence import run_silence_bench
from lantai.bench.soak import PROBES_PER_SAMPLE, SoakSample, summarize
from lantai.cli import main


@pytest.mark.integration
def test_soak_lite_reports_a_series_and_a_sane_summary(capsys: pytest.CaptureFixture[str]) -> None:
    """20 s at 2-s samples: one JSON line per sample, then the summary."""
    assert main(["bench", "soak", "--minutes", str(20 / 60), "--sample-s", "2", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    series = [line["sample"] for line in lines[:-1]]
    summary = lines[-1]["summary"]
    assert 8 <= len(series) <= 11
    assert summary["samples"] == len(series)
    times = [s["t_s"] for s in series]
    assert times == sorted(times)
    assert times[-1] == pytest.approx(20, abs=3)
    for s in series:
        assert 20 < s["rss_mb"] < 2048
        assert s["rules_rss_mb"] is not None  # the rules run in their own process
        assert 10 < s["rules_rss_mb"] < 2048
        assert s["fds"] > 3
        assert s["readings_db_mb"] > 0
        assert s["state_db_mb"] > 0
        assert len(s["latency_ms"]) == PROBES_PER_SAMPLE
        assert all(x > 0 for x in s["latency_ms"])
    stored = [s["stored"] for s in series]
    assert stored == sorted(stored)
    assert stored[-1] > stored[0]  # the simulator's readings were stored all along
    assert summary["readings_stored"] == stored[-1]
    assert summary["verdict"] == "too short"
    latency = summary["alarm_latency_ms"]
    assert latency["n"] == PROBES_PER_SAMPLE * len(series)
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert summary["rss_mb"]["max"] == max(s["rss_mb"] for s in series)
    assert summary["fds"]["last"] == series[-1]["fds"]
    # The first incident is injected half an injection interval (30 s) in: not yet here.
    assert summary["scenarios_injected"] == 0


def _series(rss: list[float], step_s: float = 60.0) -> list[SoakSample]:
    return [
        SoakSample(
            t_s=(i + 1) * step_s,
            rss_mb=value,
            rules_rss_mb=50.0,
            fds=30,
            rules_fds=12,
            readings_db_mb=1.0 + i,
            state_db_mb=2.0,
            stored=100 * i,
            quarantined=0,
            alarm_changes=i,
            latency_ms=(float(i + 1),),
            injected=None,
        )
        for i, value in enumerate(rss)
    ]


def test_summary_fits_the_slope_over_the_second_half_only() -> None:
    """A warm-up climb in the first half does not count; a steady climb after it does."""
    warm_then_flat = [100.0 + min(i, 10) * 2 for i in range(30)]  # +20 MB, then flat
    flat = summarize(_series(warm_then_flat), minutes=30)
    assert flat["rss_slope_mb_per_h"] == 0
    assert flat["verdict"] == "flat"
    assert flat["rss_mb"] == {"first": 100.0, "last": 120.0, "max": 120.0, "min": 100.0}

    leaking = summarize(_series([100.0 + i * 0.5 for i in range(30)]), minutes=30)
    assert leaking["rss_slope_mb_per_h"] == pytest.approx(30.0)  # 0.5 MB a minute
    assert leaking["verdict"] == "growing"
    # The readings database grows 1 MB a minute: 60 MB an hour.
    assert leaking["readings_db_mb_per_h"] == pytest.approx(60.0)


def test_summary_splits_latency_into_periods() -> None:
    summary = summarize(_series([100.0] * 12), minutes=12, periods=3)
    periods = summary["alarm_latency_by_period"]
    assert [p["n"] for p in periods] == [4, 4, 4]
    assert [p["max"] for p in periods] == [4.0, 8.0, 12.0]
    assert summary["alarm_latency_ms"]["n"] == 12
    assert summary["verdict"] == "flat"


def test_p99_of_a_few_probes_is_their_highest_never_below_the_median() -> None:
    """Nearest rank: with 2 probes in a period the p99 is the slower one."""
    samples = _series([100.0] * 4)
    samples = [
        SoakSample(**{**asdict(s), "latency_ms": (5.0, 30.0 + i)}) for i, s in enumerate(samples)
    ]
    summary = summarize(samples, minutes=4, periods=4)
    for period in summary["alarm_latency_by_period"]:
        assert period["n"] == 2
        assert period["p50"] <= period["p99"] == period["max"]
    assert summary["alarm_latency_ms"]["p99"] == 33.0


def test_summary_refuses_a_single_sample() -> None:
    with pytest.raises(ValueError, match="at least two samples"):
        summarize(_series([100.0]), minutes=1)


@pytest.mark.integration
def test_silent_sensors_are_never_reported_before_their_deadline() -> None:
    """Two sensors stop; each silence alarm comes after 3 x interval, not before."""
    result = run_silence_bench(sensors=2)
    assert result["sensors_stopped"] == 2
    assert result["silent_after_s"] == 3 * result["interval_s"]
    assert result["deadline_s"] == result["silent_after_s"] + result["sweep_interval_s"]
    # The rules stamp "now" when the reading arrives, a few ms after its publish.
    assert min(result["detected_s"]) >= result["silent_after_s"] - 0.05


def _result() -> dict[str, Any]:
    return {
        "quick": True,
        "at": "2026-11-22T00:00:00+00:00",
        "machine": machine(),
        "ingest": {
            "sensors": 1000,
            "rounds": 1,
            "readings_per_s": 12345,
            "bare_paho_per_s": 20000,
            "ratio": 0.617,
            "messages_per_part": 240,
            "no_rules": {"readings_per_s": 14000, "ratio": 0.7, "ratio_per_round": [0.7]},
            "with_over_without": 0.882,
            "lost": 0,
        },
        "alarm": {
            "background_per_s": 2000.0,
            "p50_ms": 20.1,
            "p99_ms": 45.2,
            "recorded_p50_ms": 5.1,
            "recorded_p99_ms": 9.9,
            "samples": 20,
        },
        "rules": {
            "sensors": 11000,
            "climate_sensors": 10000,
            "simulated_minutes": 1440,
            "rss_mb": 150.0,
            "rss_growth_mb": 60.0,
            "readings_per_s": 50000,
            "evaluations_per_s": 400000,
        },
        "soak": {
            "speed": 10.0,
            "minutes": 2.0,
            "rss_mb": {"first": 119.0, "last": 120.0, "max": 120.5},
            "rules_rss_mb": {"first": 54.0, "last": 54.5},
            "fds": {"first": 30, "last": 30},
            "alarm_latency_ms": {"p50": 7.0, "p99": 30.0},
        },
        "silence": {
            "interval_s": 2.0,
            "silent_after_s": 6.0,
            "sweep_interval_s": 5.0,
            "detected_median_s": 8.0,
            "detected_max_s": 9.0,
            "deadline_s": 11.0,
            "detected_minus_deadline_max_s": -2.0,
        },
    }


def test_readme_table_replaces_only_what_lies_between_the_markers(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Lantai\n\nbefore\n{START}\nold table\n{END}\nafter\n", encoding="utf-8")
    write_readme(readme, _result())
    text = readme.read_text(encoding="utf-8")
    assert text.startswith(f"# Lantai\n\nbefore\n{START}\n")
    assert text.endswith(f"{END}\nafter\n")
    assert "old table" not in text
    assert "12,345 readings/s against bare paho 20,000/s" in text
    assert "**ratio 0.617**" in text
    assert "without rules, same rounds: ratio 0.7; with ÷ without" in text
    assert "round by round: median 0.882; 240 messages a part" in text
    assert "p50 20.1 ms, p99 45.2 ms" in text
    assert "against a deadline of 11 s" in text
    assert "10,000 climate sensors and 1,000 smoke detectors, a simulated 1,440 min" in text
    write_readme(readme, _result())  # a second run replaces its own table
    assert text == readme.read_text(encoding="utf-8")


def test_readme_without_markers_is_refused_untouched(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Lantai\n\nno markers here\n", encoding="utf-8")
    with pytest.raises(MarkersMissingError, match="bench-all:start"):
        write_readme(readme, _result())
    assert readme.read_text(encoding="utf-8") == "# Lantai\n\nno markers here\n"


def test_bench_all_refuses_a_readme_without_markers_before_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# Lantai\n", encoding="utf-8")
    assert main(["bench", "all", "--quick", "--write-readme", str(readme)]) == 2
    captured = capsys.readouterr()
    assert "bench-all:start" in captured.err
    assert "lantai bench" not in captured.err  # no benchmark was started
    assert captured.out == ""


def test_machine_names_what_the_figures_ran_on() -> None:
    found = machine()
    assert isinstance(found["cores"], int)
    assert found["cores"] >= 1
    assert found["ram_gib"] > 0
    assert found["python"].count(".") == 2
    assert found["mosquitto"] is not None  # the suite needs a mosquitto binary anyway
