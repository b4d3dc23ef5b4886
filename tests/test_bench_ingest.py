"""``lantai bench ingest --compare`` runs end to end. The figures it prints are not asserted
(benchmarks print, tests check); only that every drain got the whole stream and that the
paired figures are there and agree with one another."""

from __future__ import annotations

import pytest

from lantai.bench.ingest import run_ingest_bench

pytestmark = pytest.mark.integration


def test_the_paired_ingest_bench_drains_every_reading_three_ways() -> None:
    result = run_ingest_bench(count=2000, sensors=100, rounds=2, compare=True)
    # Two rounds, each published once and drained by the pipeline with and without rules.
    assert result["published"] == 2 * 2000
    assert result["lost"] == 0
    assert result["rules"] is True
    assert len(result["ratio_per_round"]) == 2
    plain = result["no_rules"]
    assert len(plain["ratio_per_round"]) == 2
    assert len(result["with_over_without_per_round"]) == 2
    # The paired figure is with ÷ without, round by round (the bare drain cancels out).
    for pair, with_rules, without in zip(
        result["with_over_without_per_round"],
        result["ratio_per_round"],
        plain["ratio_per_round"],
        strict=True,
    ):
        assert pair == pytest.approx(with_rules / without, abs=0.002)
    assert result["messages_per_part"] >= 1
    assert result["rules_rss_mb"] is not None


def test_without_compare_there_is_no_paired_figure() -> None:
    result = run_ingest_bench(count=500, sensors=20, rounds=1, rules=False, compare=True)
    # Without rules there is nothing to pair: compare has no drain to add.
    assert result["lost"] == 0
    assert "no_rules" not in result
    assert result["rules_rss_mb"] is None
