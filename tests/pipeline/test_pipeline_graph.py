"""The code location loads, and its graph matches the checked-in snapshot so graph changes show in review.

Regenerate after an intended change: ``UPDATE_SNAPSHOTS=1 uv run pytest tests/pipeline/test_pipeline_graph.py``
and commit ``tests/pipeline/snapshots/asset_graph.json`` with the change.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"


def _partitions(partitions_def: Any) -> str | None:
    if partitions_def is None:
        return None
    if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
        return (
            f"{partitions_def.cron_schedule} {partitions_def.timezone} from {partitions_def.start.isoformat()}"
            f" end_offset={partitions_def.end_offset}"
        )
    return type(partitions_def).__name__


def _target(graph: Any, target: Any) -> Any:
    if getattr(target, "job_name", None):
        return {"job": target.job_name}
    selection = getattr(target, "asset_selection", None)
    if selection is not None:
        return {"assets": sorted(k.to_user_string() for k in selection.resolve(graph))}
    return None


def graph_snapshot(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        policy = node.backfill_policy
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "partitions": _partitions(node.partitions_def),
            "backfill_policy": None if policy is None else policy.policy_type.value,
            "executable": node.is_executable,
            "checks": sorted(c.name for c in node.check_keys),
        }
    sensors = {}
    for sensor in sorted(defs.sensors or [], key=lambda s: s.name):
        targets = [_target(graph, t) for t in sensor.targets] if sensor.targets else []
        if sensor.asset_selection is not None:
            targets.append(
                {"assets": sorted(k.to_user_string() for k in sensor.asset_selection.resolve(graph))}
            )
        sensors[sensor.name] = {
            "default_status": sensor.default_status.value,
            "minimum_interval_seconds": sensor.minimum_interval_seconds,
            "targets": targets,
        }
    schedules = {
        s.name: {
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "default_status": s.default_status.value,
            "job": s.job_name,
        }
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    }
    jobs = sorted(getattr(j, "name", str(j)) for j in defs.jobs or [])
    return {"assets": assets, "sensors": sensors, "schedules": schedules, "jobs": jobs}


def test_the_asset_graph_matches_the_snapshot() -> None:
    from benchmark_pipeline.definitions import defs

    current = json.dumps(graph_snapshot(defs), indent=2, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(current)
    expected = SNAPSHOT.read_text()
    if current != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True), current.splitlines(keepends=True), "snapshot", "current"
            )
        )
        raise AssertionError(
            f"the asset graph differs from {SNAPSHOT.relative_to(Path.cwd()) if SNAPSHOT.is_relative_to(Path.cwd()) else SNAPSHOT}; "
            f"if the change is intended, rerun with UPDATE_SNAPSHOTS=1 and commit the file:\n{diff}"
        )


def test_the_spend_log_asset_is_hourly_with_single_run_backfills() -> None:
    from benchmark_pipeline.definitions import defs

    node = defs.resolve_asset_graph().get(dg.AssetKey("raw_litellm_spend_logs"))
    assert node.group_name == "raw"
    assert node.backfill_policy == dg.BackfillPolicy.single_run()
    assert _partitions(node.partitions_def) == "0 * * * * UTC from 2025-01-01T00:00:00+00:00 end_offset=1"
    assert sorted(c.name for c in node.check_keys) == ["live_path_fresh", "reconciles_with_source"]
