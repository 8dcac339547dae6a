"""``benchmark pipeline run``: an in-process run over a window, recorded in the host's Dagster instance."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from benchmark_pipeline.instance import MANAGED_MARKER, ensure_dagster_home
from benchmark_pipeline.run import WindowError, partition_range
from tests.cli import run_cli
from tests.pipeline import spendlog_rows as R


@pytest.fixture
def pipeline_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, warehouse_url: str, litellm_url: str
) -> Path:
    home = tmp_path / "dagster"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BENCHMARK_HOME", str(tmp_path / "bench"))
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", warehouse_url)
    monkeypatch.setenv("LITELLM_DATABASE_URL", litellm_url)
    for name in ("DATABASE_URL", "LITELLM_MASTER_KEY", "BENCHMARK_LITELLM_SOURCE", "DAGSTER_PG_HOST"):
        monkeypatch.delenv(name, raising=False)
    return home


def test_pipeline_run_lands_the_window_and_records_the_run(
    capsys: pytest.CaptureFixture[str], pipeline_env: Path, litellm_url: str, warehouse_url: str
) -> None:
    R.insert_rows(litellm_url, R.standard_set(R.T0) + R.malformed_set(R.T0))

    result = run_cli(
        capsys,
        "pipeline",
        "run",
        "--from",
        "2026-11-20T10:15",
        "--to",
        "2026-11-20T11:00",
        "--asset",
        "raw_litellm_spend_logs",
    )

    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["success"] is True
    assert summary["partitions"] == {"first": "2026-11-20-10:00", "last": "2026-11-20-10:00"}
    assert summary["assets"] == ["raw_litellm_spend_logs"]
    meta = summary["materializations"]["raw_litellm_spend_logs"]
    assert (meta["rows_inserted"], meta["rows_rejected"]) == (5, 6)
    assert summary["checks"]["raw_litellm_spend_logs:reconciles_with_source"]["passed"] is True
    assert "pipeline run over 2026-11-20-10:00 .. 2026-11-20-10:00" in result.stderr
    assert "raw_litellm_spend_logs:reconciles_with_source passed" in result.stderr
    # the run is in the instance `make dev` shows
    assert (pipeline_env / "dagster.yaml").read_text().startswith(MANAGED_MARKER)
    instance = dg.DagsterInstance.from_config(str(pipeline_env))
    run = instance.get_run_by_id(summary["run_id"])
    assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
    with psycopg.connect(warehouse_url) as conn:
        assert conn.execute("select count(*) from raw.litellm_spend_logs").fetchone()[0] == 5


def test_a_failed_run_exits_1_with_the_step_error(
    capsys: pytest.CaptureFixture[str], pipeline_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LITELLM_DATABASE_URL")
    result = run_cli(
        capsys,
        "pipeline",
        "run",
        "--from",
        "2026-11-20T10:00",
        "--to",
        "2026-11-20T11:00",
        "--asset",
        "raw_litellm_spend_logs",
    )
    assert result.code == 1
    assert json.loads(result.stdout)["success"] is False
    assert "error: pipeline run " in result.stderr
    assert "raw_litellm_spend_logs: no LiteLLM spend-log source is configured" in result.stderr.replace(
        "\n", " "
    )


def test_a_bad_time_is_one_line_naming_the_option(
    capsys: pytest.CaptureFixture[str], pipeline_env: Path
) -> None:
    result = run_cli(capsys, "pipeline", "run", "--from", "yesterday")
    assert result.code == 2
    assert "error: --from 'yesterday' is not an ISO-8601 date or time" in result.stderr


def test_partition_range_covers_every_hour_the_window_touches() -> None:
    start = datetime(2026, 11, 20, 10, 15, tzinfo=UTC)
    assert partition_range(start, datetime(2026, 11, 20, 12, 0, tzinfo=UTC)) == (
        "2026-11-20-10:00",
        "2026-11-20-11:00",
    )
    assert partition_range(start, datetime(2026, 11, 20, 12, 0, 1, tzinfo=UTC)) == (
        "2026-11-20-10:00",
        "2026-11-20-12:00",
    )
    with pytest.raises(WindowError, match="the window is empty"):
        partition_range(start, start)
    with pytest.raises(WindowError, match="lies outside the hourly partitions"):
        partition_range(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC))


def test_dagster_home_gets_the_sqlite_yaml_or_the_postgres_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DAGSTER_PG_HOST", raising=False)
    home = ensure_dagster_home(tmp_path / "a")
    text = (home / "dagster.yaml").read_text()
    assert text.startswith(MANAGED_MARKER) and "storage:" not in text  # SQLite under the home

    monkeypatch.setenv("DAGSTER_PG_HOST", "db.internal")
    text = (ensure_dagster_home(tmp_path / "a") / "dagster.yaml").read_text()
    assert "postgres_db:" in text and "scheme: postgresql+psycopg2" in text
    assert "password: {env: DAGSTER_PG_PASSWORD}" in text  # the password stays in the environment

    hand_written = tmp_path / "b"
    hand_written.mkdir()
    (hand_written / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ensure_dagster_home(hand_written)
    assert (hand_written / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_default_run_goes_through_dbt_and_statistics_without_prometheus(
    capsys: pytest.CaptureFixture[str],
    pipeline_env: Path,
    litellm_url: str,
    registry_warehouse_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No Prometheus (the embedded default): its landing is skipped with a warning, the marts still build,
    and stdout stays pure JSON (dbt's log lines go to the run's log file)."""
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", registry_warehouse_url)
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:9")
    R.insert_rows(litellm_url, R.standard_set(R.T0))

    result = run_cli(capsys, "pipeline", "run", "--from", "2026-11-20T10:00", "--to", "2026-11-20T11:00")

    assert result.code == 0, result.stderr
    summary = json.loads(result.stdout)  # nothing but the summary on stdout
    assert (
        "Prometheus at http://127.0.0.1:9 does not answer: raw_prometheus_series is skipped" in result.stderr
    )
    assert "raw_prometheus_series" not in summary["assets"]
    assert {"raw_litellm_spend_logs", "fct_requests", "fct_sessions", "fct_variant_comparison"} <= set(
        summary["assets"]
    )
    assert "START" in Path(summary["output_log"]).read_text()  # dbt's own output, kept for diagnosis
    with psycopg.connect(registry_warehouse_url) as conn:
        landed = conn.execute("select count(*) from raw.litellm_spend_logs").fetchone()[0]
        facts = conn.execute("select count(*) from marts.fct_requests").fetchone()[0]
    assert facts == landed == len(R.standard_set(R.T0))
