"""The Dagster asset end to end: a partition-range run, its metadata, and its reconciliation check."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import psycopg
import pytest

from benchmark_pipeline.defs.litellm.assets import (
    FRESHNESS_CHECK,
    RECONCILIATION_CHECK,
    live_path_fresh,
    raw_litellm_spend_logs,
)
from benchmark_pipeline.defs.litellm.landing import WATERMARK_NAME
from benchmark_pipeline.defs.litellm.sensors import range_tags
from benchmark_pipeline.resources import LiteLLMSourceResource, WarehouseResource
from tests.pipeline import spendlog_rows as R
from tests.pipeline.resources import litellm_resources as resources

HOUR = timedelta(hours=1)


def materialize(
    warehouse_url: str, litellm_url: str, first: str, last: str, instance: dg.DagsterInstance, **tags: str
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [raw_litellm_spend_logs],
        resources=resources(warehouse_url, litellm_url),
        tags={**range_tags(first, last), **tags},
        instance=instance,
        raise_on_error=False,
    )


def test_a_range_run_lands_every_hour_and_reconciles(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(litellm_url, R.standard_set(R.T0) + R.malformed_set(R.T0 + HOUR))

    result = materialize(warehouse_url, litellm_url, "2026-11-20-10:00", "2026-11-20-11:00", instance)

    assert result.success
    mats = result.asset_materializations_for_node("raw_litellm_spend_logs")
    assert sorted(m.partition for m in mats) == ["2026-11-20-10:00", "2026-11-20-11:00"]
    meta = {k: v.value for k, v in mats[0].metadata.items()}
    assert (meta["rows_fetched"], meta["rows_inserted"], meta["rows_rejected"], meta["partitions"]) == (
        11,
        5,
        6,
        2,
    )
    assert meta["source"] == "litellm_db"
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == RECONCILIATION_CHECK and check.passed
    assert check.description == (
        "2 hourly partitions: 11 source rows, 5 landed + 6 rejected: every source row is landed or rejected"
    )
    # one run, two partitions: the single-run backfill policy
    assert (
        instance.get_run_by_id(result.run_id).tags["dagster/asset_partition_range_end"] == "2026-11-20-11:00"
    )


def test_rows_purged_from_litellm_make_the_check_warn_not_fail(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(litellm_url, R.standard_set(R.T0))
    assert materialize(warehouse_url, litellm_url, "2026-11-20-10:00", "2026-11-20-10:00", instance).success
    with psycopg.connect(litellm_url, autocommit=True) as conn:  # LiteLLM's retention job
        conn.execute("""delete from "LiteLLM_SpendLogs" where request_id = 'req-success'""")

    result = materialize(warehouse_url, litellm_url, "2026-11-20-10:00", "2026-11-20-10:00", instance)

    assert result.success  # the raw table keeps its history: an upsert never deletes
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "holds more rows than LiteLLM in 1 partitions (2026-11-20-10:00 (+1))" in check.description


def test_reconcile_flags_missing_rows_as_errors() -> None:
    from benchmark_pipeline.defs.litellm.landing import WarehouseCounts
    from benchmark_pipeline.defs.litellm.reconcile import reconcile

    h10, h11 = R.T0, R.T0 + HOUR
    result = reconcile({h10: 7, h11: 3}, {h10: WarehouseCounts(5, 2), h11: WarehouseCounts(1, 0)})
    assert not result.passed
    assert [(m.partition, m.missing) for m in result.missing] == [("2026-11-20-11:00", 2)]
    assert result.describe() == (
        "2 hourly partitions: 10 source rows, 6 landed + 2 rejected; "
        "rows missing in 1 partitions: 2026-11-20-11:00 (2 missing)"
    )


def test_the_freshness_check_compares_the_watermark_with_litellm(
    litellm_url: str, warehouse_url: str, instance: dg.DagsterInstance
) -> None:
    R.insert_rows(litellm_url, [R.success_row("a", R.T0, created_at=R.T0 + timedelta(seconds=10))])
    assert materialize(warehouse_url, litellm_url, "2026-11-20-10:00", "2026-11-20-10:00", instance).success
    with psycopg.connect(warehouse_url) as conn:
        watermark = conn.execute(
            "select watermark from raw.ingestion_watermarks where source_name = %s", (WATERMARK_NAME,)
        ).fetchone()[0]
    assert watermark == R.T0 + timedelta(seconds=10)

    fresh = _run_freshness(warehouse_url, litellm_url, instance)
    assert fresh.passed and fresh.description.endswith("0 s behind (limit 900 s)")

    # a row written 20 minutes later that nothing landed yet: 1200 s behind
    R.insert_rows(
        litellm_url, [R.success_row("b", R.T0, created_at=R.T0 + timedelta(minutes=20, seconds=10))]
    )
    stale = _run_freshness(warehouse_url, litellm_url, instance)
    assert not stale.passed
    assert stale.description.endswith("1200 s behind (limit 900 s)")


def _run_freshness(
    warehouse_url: str, litellm_url: str, instance: dg.DagsterInstance
) -> dg.AssetCheckEvaluation:
    result = dg.materialize(
        [raw_litellm_spend_logs, live_path_fresh],
        selection=dg.AssetSelection.checks(live_path_fresh),
        resources=resources(warehouse_url, litellm_url),
        instance=instance,
    )
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == FRESHNESS_CHECK]
    return evaluation


def test_a_run_without_any_source_fails_with_the_setting_to_fix(
    warehouse_url: str, instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LITELLM_DATABASE_URL", "LITELLM_MASTER_KEY", "BENCHMARK_LITELLM_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    result = dg.materialize(
        [raw_litellm_spend_logs],
        resources={
            "warehouse": WarehouseResource(database_url=warehouse_url),
            "litellm_source": LiteLLMSourceResource(),
        },
        tags=range_tags("2026-11-20-10:00", "2026-11-20-10:00"),
        instance=instance,
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("no LiteLLM spend-log source is configured: set LITELLM_DATABASE_URL")
