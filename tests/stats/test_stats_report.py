"""``benchmark report experiment``: reads the marts built in conftest (real asset, real Postgres)."""

from __future__ import annotations

import json
from collections.abc import Callable

import psycopg
import pytest
from typer.testing import CliRunner

from benchmark_pipeline.defs.stats.comparison import COMPARED_METRICS
from session_cli import console
from session_cli.commands import report
from session_cli.errors import NotFoundError
from session_cli.main import app
from tests.stats.stats_marts import FCT_SESSIONS_DDL


@pytest.fixture
def use_db(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    monkeypatch.setattr(console.out, "width", 220)  # wide enough for the comparison table

    def use(url: str) -> None:
        monkeypatch.setenv("BENCHMARK_DATABASE_URL", url)

    return use


def invoke(*args: str):
    return CliRunner().invoke(app, ["report", *args])


def test_metric_order_matches_the_statistics_asset() -> None:
    assert tuple(m.name for m in COMPARED_METRICS) == report.METRIC_ORDER


def test_json_report(marts_db: str, use_db) -> None:
    use_db(marts_db)
    result = invoke("experiment", "exp-a", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["baseline_variant"] == "base"
    assert [
        (v["variant"], v["is_baseline"], v["n_sessions"], v["n_excluded"], v["n_active"], v["n_invalid"])
        for v in doc["variants"]
    ] == [
        ("base", True, 5, 1, 0, 0),
        ("fast", False, 5, 2, 1, 1),
        ("tiny", False, 2, 0, 0, 0),
    ]
    assert (doc["sessions_total"], doc["demo_sessions"], doc["is_demo"]) == (15, 15, True)
    assert doc["demo_notice"].startswith("SIMULATED DEMO DATA: all 15 sessions")
    # metrics in the asset's order within each variant
    fast = [c for c in doc["comparisons"] if c["variant"] == "fast"]
    assert [c["metric"] for c in fast] == list(report.METRIC_ORDER)
    ttft = fast[0]
    assert (ttft["median_variant"], ttft["median_baseline"], ttft["ci_low"], ttft["ci_high"]) == (
        690.0,
        880.0,
        -320.0,
        -70.0,
    )
    assert ttft["verdict"] == "better"
    assert doc["computed_at"].startswith("20")


def test_rich_report_states_demo_medians_ci_and_verdicts(marts_db: str, use_db) -> None:
    use_db(marts_db)
    result = invoke("experiment", "exp-a")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "Experiment exp-a" in text and "baseline: base" in text
    assert "SIMULATED DEMO DATA" in text
    assert "fast vs baseline base" in text and "tiny vs baseline base" in text
    ttft_line = next(line for line in text.splitlines() if "TTFT p50 (ms)" in line)
    # baseline median, variant median, diff [CI], Holm p, verdict, needed/side (ratio and Cliff's delta: --json)
    for part in ("880", "690", "-190", "[-320, -70]", "0.048", "better", "12"):
        assert part in ttft_line, (part, ttft_line)
    assert "insufficient data" in text
    assert "no detectable difference" in text
    assert "10,000 resamples, seed 20261124" in text


def test_mixed_and_real_data_notices() -> None:
    assert report.demo_notice({"demo_sessions": 0, "sessions_total": 3}) is None
    mixed = report.demo_notice({"demo_sessions": 1, "sessions_total": 3})
    assert mixed is not None and mixed.startswith("MIXED DATA: 1 of 3 sessions")


def test_mixed_experiment_from_the_marts(marts_db: str, use_db) -> None:
    use_db(marts_db)
    result = invoke("experiment", "exp-d", "--json")
    doc = json.loads(result.stdout)
    assert (doc["demo_sessions"], doc["sessions_total"], doc["is_demo"]) == (1, 3, False)
    assert doc["baseline_variant"] == "ghost"
    assert {c["verdict"] for c in doc["comparisons"]} == {"insufficient data"}


def test_value_formatting() -> None:
    assert report.fmt_value("error_rate", 0.125) == "12.5%"
    assert report.fmt_value("error_rate", -0.05, signed=True) == "-5.0%"
    assert report.fmt_value("cost_usd", 0.01234) == "$0.0123"
    assert report.fmt_value("cost_usd", -0.5, signed=True) == "-$0.5000"
    assert report.fmt_value("cost_usd", 0.5, signed=True) == "+$0.5000"
    assert report.fmt_value("latency_p95_ms", 12345.6) == "12,346"
    assert report.fmt_value("ttft_p50_ms", 20.0, signed=True) == "+20.0"
    assert report.fmt_value("ttft_p50_ms", -70.0, signed=True, scale=880.0) == "-70"
    assert report.fmt_value("active_duration_s", 0.25) == "0.250"
    assert report.fmt_value("ttft_p50_ms", None) == "-"


def test_unknown_experiment_names_the_known_ones(marts_db: str, use_db) -> None:
    use_db(marts_db)
    result = invoke("experiment", "nope")
    assert isinstance(result.exception, NotFoundError)
    assert result.exception.message == "experiment 'nope' has no sessions in marts.fct_sessions"
    assert "exp-a, exp-b, exp-c, exp-d" in (result.exception.hint or "")


def test_missing_and_empty_marts(make_database: Callable[[str], str], use_db) -> None:
    url = make_database("report_empty")
    use_db(url)
    result = invoke("experiment", "exp-a")
    assert isinstance(result.exception, report.MartsMissingError)
    assert result.exception.message == "marts.fct_sessions does not exist in this database"
    assert "benchmark pipeline run" in (result.exception.hint or "")

    with psycopg.connect(url) as conn:
        conn.execute(FCT_SESSIONS_DDL)
    result = invoke("experiment", "exp-a")
    assert isinstance(result.exception, report.MartsMissingError)
    assert result.exception.message == "marts.fct_sessions is empty: no sessions to report"


def test_sessions_without_comparison_table(make_database: Callable[[str], str], use_db) -> None:
    from tests.stats.stats_marts import build_session_marts

    url = make_database("report_nocmp")
    build_session_marts(url)
    use_db(url)
    result = invoke("experiment", "exp-a")
    assert result.exit_code == 0, result.output
    assert "No comparison rows for this experiment" in result.stdout
    assert "benchmark pipeline run" in result.stdout


def test_missing_marts_render_one_line_and_a_hint(
    make_database: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli import run_cli

    monkeypatch.setenv("BENCHMARK_DATABASE_URL", make_database("report_cli"))
    result = run_cli(capsys, "report", "experiment", "exp-a")
    assert result.code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: marts.fct_sessions does not exist in this database"
    assert lines[1].startswith("hint: build the marts with `benchmark pipeline run`")
