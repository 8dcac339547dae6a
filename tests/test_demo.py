"""`benchmark demo --seed 1`: the whole product on simulated traffic shows the statistics working."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import dict_row

from session_cli.main import main

EXPERIMENT = "fireworks-kimi-k2-5-harness-comparison"
BASELINE, FASTER = "kimi-k2-5-claude-code", "kimi-k2-5-opencode"


def run_demo(warehouse: str, litellm: str, home: Path) -> dict:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BENCHMARK_DATABASE_URL", warehouse)
        mp.setenv("LITELLM_DATABASE_URL", litellm)
        mp.setenv("BENCHMARK_HOME", str(home))
        mp.delenv("DATABASE_URL", raising=False)
        mp.delenv("DAGSTER_HOME", raising=False)
        mp.delenv("BENCHMARK_KEY_BACKEND", raising=False)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["demo", "--seed", "1", "--json"])
    assert code == 0, err.getvalue()[-3000:]
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def demo(make_database, tmp_path_factory):
    warehouse, litellm = make_database("demo"), make_database("demo_litellm")
    home = tmp_path_factory.mktemp("demo-home")
    return warehouse, run_demo(warehouse, litellm, home), (litellm, home)


def rows(url: str, sql: str) -> list[dict]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql).fetchall()


def test_demo_finds_the_faster_variant_and_no_difference_elsewhere(demo):
    url, doc, _ = demo
    verdicts = {
        r["metric"]: r["verdict"]
        for r in rows(
            url, f"select metric, verdict from marts.fct_variant_comparison where experiment = '{EXPERIMENT}'"
        )
    }
    assert verdicts == {
        "ttft_p50_ms": "better",
        "latency_p95_ms": "no detectable difference",
        "output_tokens_per_s_p50": "no detectable difference",
        "error_rate": "no detectable difference",
        "cost_usd": "no detectable difference",
        "total_tokens": "no detectable difference",
        "active_duration_s": "no detectable difference",
    }
    [ttft] = [c for c in doc["report"]["comparisons"] if c["metric"] == "ttft_p50_ms"]
    assert ttft["variant"] == FASTER and ttft["baseline_variant"] == BASELINE
    assert ttft["median_variant"] < ttft["median_baseline"] and ttft["ci_high"] < 0


def test_demo_session_counts_in_the_marts(demo):
    url, doc, _ = demo
    sessions = rows(
        url,
        "select variant, count(*) filter (where is_included) as included, "
        "array_agg(exclusion_reason order by exclusion_reason) filter (where not is_included) as excluded "
        "from marts.fct_sessions group by variant order by variant",
    )
    assert sessions == [
        {"variant": BASELINE, "included": 8, "excluded": ["aborted"]},
        {"variant": FASTER, "included": 8, "excluded": ["invalid"]},
    ]
    summary = rows(
        url,
        "select variant, n_sessions, n_excluded from marts.fct_variant_summary "
        f"where experiment = '{EXPERIMENT}' order by variant",
    )
    assert summary == [
        {"variant": BASELINE, "n_sessions": 8, "n_excluded": 1},
        {"variant": FASTER, "n_sessions": 8, "n_excluded": 1},
    ]
    assert {(c["n_variant"], c["n_baseline"]) for c in doc["report"]["comparisons"]} == {(8, 8)}


def test_every_simulated_request_lands_attributed(demo):
    url, doc, _ = demo
    [counts] = rows(
        url,
        "select count(*) as requests, count(*) filter (where session_id is null) as unattributed, "
        "count(*) filter (where status = 'failure') as failures, count(distinct session_id) as sessions "
        "from marts.fct_requests",
    )
    assert counts["requests"] == doc["requests"] == 499  # deterministic for seed 1
    assert counts["unattributed"] == 0 and counts["sessions"] == doc["sessions"] == 18
    assert counts["failures"] > 0


def test_demo_says_it_is_simulated(demo):
    _, doc, _ = demo
    assert doc["report"]["is_demo"] is True
    assert doc["report"]["demo_notice"].startswith("SIMULATED DEMO DATA")


def test_a_second_demo_reuses_the_data(demo):
    """Runs last in this module: the same seed again adds 18 sessions with fresh ids, nothing collides."""
    url, first, (litellm, home) = demo
    second = run_demo(url, litellm, home)
    assert second["requests"] == first["requests"]  # same seed, same numbers
    [counts] = rows(
        url, "select count(*) as requests, count(distinct session_id) as sessions from marts.fct_requests"
    )
    assert counts == {"requests": 2 * first["requests"], "sessions": 36}
    included = {
        c["metric"]: (c["n_variant"], c["n_baseline"], c["verdict"]) for c in second["report"]["comparisons"]
    }
    assert included["ttft_p50_ms"] == (16, 16, "better")
