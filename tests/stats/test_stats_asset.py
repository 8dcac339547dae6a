"""The ``fct_variant_comparison`` asset against real Postgres marts (conftest.py SESSIONS)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from benchmark_pipeline.defs.stats import defs, fct_variant_comparison
from benchmark_pipeline.defs.stats.build import COLUMNS
from benchmark_pipeline.defs.stats.comparison import COMPARED_METRICS
from benchmark_pipeline.defs.stats.warehouse import StatsInputError, load_baselines, load_sessions
from benchmark_pipeline.resources import WarehouseResource
from tests.stats.stats_marts import build_session_marts, comparison_rows

P5 = 2 / 252  # exact Mann-Whitney p, 5 vs 5, complete separation


def test_definitions_declare_key_group_and_lineage() -> None:
    spec = defs.get_assets_def("fct_variant_comparison").specs_by_key[dg.AssetKey("fct_variant_comparison")]
    assert spec.group_name == "statistics"
    assert {d.asset_key for d in spec.deps} == {dg.AssetKey("fct_sessions"), dg.AssetKey("dim_experiments")}
    assert spec.automation_condition is not None


def test_rows_cover_every_non_baseline_variant_and_metric(marts_db: str) -> None:
    rows = comparison_rows(marts_db)
    pairs = {(e, v) for e, v, _ in rows}
    # exp-b has no baseline (not in dim_experiments), exp-c only baseline sessions: both skipped
    assert pairs == {("exp-a", "fast"), ("exp-a", "tiny"), ("exp-d", "solo")}
    assert len(rows) == 3 * len(COMPARED_METRICS)
    assert {r["baseline_variant"] for r in rows.values()} == {"base", "ghost"}
    assert {(r["bootstrap_resamples"], r["seed"]) for r in rows.values()} == {(10_000, 20261124)}


def test_fast_against_base_known_answers(marts_db: str) -> None:
    rows = comparison_rows(marts_db)
    ttft = rows[("exp-a", "fast", "ttft_p50_ms")]
    # included sessions only: the aborted baseline (99999) and the active/invalid variant rows (1) do not count
    assert (ttft["n_variant"], ttft["n_baseline"]) == (5, 5)
    assert (ttft["n_excluded_variant"], ttft["n_excluded_baseline"]) == (2, 1)
    # medians 690 and 880 (sorted 615 640 690 700 720 / 760 820 880 905 1010)
    assert (ttft["median_variant"], ttft["median_baseline"], ttft["diff_median"]) == (690.0, 880.0, -190.0)
    assert ttft["ratio_median"] == pytest.approx(690 / 880, rel=1e-15)
    assert (ttft["ci_low"], ttft["ci_high"]) == (-320.0, -70.0)  # pinned, as in the pure test
    assert ttft["p_value"] == pytest.approx(P5, rel=1e-12)
    assert ttft["cliffs_delta"] == -1.0
    # Holm family for fast: ttft p5, latency 1, tokens/s p5, error_rate 1, cost 1, total_tokens 1 (m = 6;
    # active_duration_s is unknown for every session, so it has no p-value): 6 * p5 = 0.0476 < 0.05
    assert ttft["p_value_holm"] == pytest.approx(6 * P5, rel=1e-12)
    assert ttft["verdict"] == "better"
    assert ttft["sessions_needed_per_side"] == 12
    assert ttft["better_when"] == "lower"

    otps = rows[("exp-a", "fast", "output_tokens_per_s_p50")]
    assert (otps["median_variant"], otps["median_baseline"], otps["diff_median"]) == (74.0, 54.0, 20.0)
    assert otps["p_value_holm"] == pytest.approx(6 * P5, rel=1e-12)
    assert otps["ci_low"] > 0 and otps["better_when"] == "higher"
    assert otps["verdict"] == "better"

    latency = rows[("exp-a", "fast", "latency_p95_ms")]  # identical samples
    assert (latency["diff_median"], latency["p_value"], latency["p_value_holm"]) == (0.0, 1.0, 1.0)
    assert latency["verdict"] == "no detectable difference"

    errors = rows[("exp-a", "fast", "error_rate")]  # numeric column, all 0
    assert (errors["median_variant"], errors["ci_low"], errors["ci_high"], errors["p_value"]) == (
        0.0,
        0.0,
        0.0,
        1.0,
    )
    assert errors["ratio_median"] is None  # baseline median 0
    assert errors["sessions_needed_per_side"] is None
    assert errors["verdict"] == "no detectable difference"

    cost = rows[("exp-a", "fast", "cost_usd")]  # one variant session with an unknown cost
    assert (cost["n_variant"], cost["n_baseline"]) == (4, 5)
    assert cost["median_variant"] == pytest.approx(0.14)  # (0.13 + 0.15) / 2
    assert cost["median_baseline"] == pytest.approx(0.14)
    assert cost["p_value"] == 1.0  # U = 10 = n1 n2 / 2
    assert cost["verdict"] == "no detectable difference"

    duration = rows[("exp-a", "fast", "active_duration_s")]
    assert (duration["n_variant"], duration["n_baseline"], duration["median_variant"]) == (0, 0, None)
    assert (duration["p_value"], duration["p_value_holm"], duration["ci_low"]) == (None, None, None)
    assert duration["verdict"] == "insufficient data"


def test_two_sessions_is_insufficient_even_when_separated(marts_db: str) -> None:
    rows = comparison_rows(marts_db)
    ttft = rows[("exp-a", "tiny", "ttft_p50_ms")]
    assert (ttft["n_variant"], ttft["n_baseline"], ttft["median_variant"]) == (2, 5, 605.0)
    assert ttft["p_value"] == pytest.approx(2 / 21, rel=1e-12)  # exact: 2 / C(7, 2)
    assert ttft["ci_low"] is not None and ttft["ci_high"] < 0
    assert {r["verdict"] for (e, v, _), r in rows.items() if v == "tiny"} == {"insufficient data"}


def test_baseline_without_sessions(marts_db: str) -> None:
    rows = comparison_rows(marts_db)
    solo = rows[("exp-d", "solo", "error_rate")]
    assert (solo["n_variant"], solo["n_baseline"], solo["n_excluded_baseline"]) == (3, 0, 0)
    assert (solo["median_variant"], solo["median_baseline"], solo["diff_median"]) == (0.25, None, None)
    assert (solo["p_value"], solo["cliffs_delta"], solo["verdict"]) == (None, None, "insufficient data")


def test_rematerializing_replaces_rows_atomically_and_identically(marts_db: str) -> None:
    before = comparison_rows(marts_db)
    with psycopg.connect(marts_db) as conn:  # a stale row that the next run must remove
        conn.execute(
            "insert into marts.fct_variant_comparison select 'old', variant, baseline_variant, metric,"
            " better_when, n_variant, n_baseline, n_excluded_variant, n_excluded_baseline, median_variant,"
            " median_baseline, diff_median, ratio_median, ci_low, ci_high, p_value, p_value_holm, cliffs_delta,"
            " verdict, sessions_needed_per_side, bootstrap_resamples, seed, computed_at"
            " from marts.fct_variant_comparison limit 1"
        )
    result = dg.materialize(
        [fct_variant_comparison], resources={"warehouse": WarehouseResource(database_url=marts_db)}
    )
    assert result.success
    after = comparison_rows(marts_db)
    assert after.keys() == before.keys()

    def strip(rows):
        return {k: {c: v for c, v in r.items() if c != "computed_at"} for k, r in rows.items()}

    assert strip(after) == strip(before)
    assert len({r["computed_at"] for r in after.values()}) == 1
    mat = result.asset_materializations_for_node("fct_variant_comparison")[0]
    assert mat.metadata["dagster/row_count"].value == 21
    assert mat.metadata["experiments_skipped"].value == {
        "exp-b": "no baseline variant (experiment missing from dim_experiments)",
        "exp-c": "no sessions of any variant other than the baseline 'only'",
    }


def test_run_config_changes_seed_and_resamples(make_database: Callable[[str], str]) -> None:
    url = make_database("stats_cfg")
    build_session_marts(url)
    with psycopg.connect(url) as conn:  # an older layout of the table is dropped and recreated
        conn.execute("create table marts.fct_variant_comparison (experiment text, verdict text)")
    result = dg.materialize(
        [fct_variant_comparison],
        resources={"warehouse": WarehouseResource(database_url=url)},
        run_config={"ops": {"fct_variant_comparison": {"config": {"seed": 7, "bootstrap_resamples": 200}}}},
    )
    assert result.success
    rows = comparison_rows(url)
    assert {(r["seed"], r["bootstrap_resamples"]) for r in rows.values()} == {(7, 200)}
    with psycopg.connect(url) as conn:
        cols = [r[0] for r in conn.execute("select * from marts.fct_variant_comparison limit 0").description]
    assert tuple(cols) == COLUMNS


def test_missing_marts_are_named(make_database: Callable[[str], str]) -> None:
    url = make_database("stats_missing")
    with psycopg.connect(url) as conn:
        with pytest.raises(StatsInputError, match=r"marts\.fct_sessions does not exist") as exc:
            load_sessions(conn)
        assert "benchmark pipeline run" in (exc.value.hint or "")
        with pytest.raises(StatsInputError, match="no experiment baselines"):
            load_baselines(conn)
        conn.execute("create schema marts; create table marts.fct_sessions (experiment text, variant text)")
        with pytest.raises(StatsInputError, match=r"lacks column\(s\) is_included, ttft_p50_ms"):
            load_sessions(conn)


def test_baselines_fall_back_to_the_registry(registry_db: str) -> None:
    with psycopg.connect(registry_db) as conn:
        conn.execute(
            "insert into registry.experiments (name, description, baseline_variant, source_path, fingerprint,"
            " spec) values ('stats-fallback', 'd', 'v0', 'x.yaml', 'f', '{}')"
        )
        try:
            assert load_baselines(conn)["stats-fallback"] == "v0"
        finally:
            conn.rollback()


def test_readme_documents_the_table_columns() -> None:
    readme = (Path(__file__).parents[2] / "benchmark_pipeline" / "defs" / "stats" / "README.md").read_text()
    missing = [c for c in COLUMNS if f"`{c}`" not in readme]
    assert not missing, f"README.md lacks columns {missing}"
