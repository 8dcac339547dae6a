"""Materialize, in-process, every hourly partition overlapping a time window: one run, one range.

Used by ``benchmark pipeline run`` and reusable by the demo and the dbt work::

    from benchmark_pipeline.run import run_window
    result = run_window(start, end)                       # DEFAULT_SELECTION
    result = run_window(start, end, selection=[dg.AssetKey("raw_litellm_spend_logs")])

The run is recorded in the host's Dagster instance (:mod:`benchmark_pipeline.instance`), so it
shows in ``make dev``'s UI. ``on_event`` receives each step, materialization and check event as it
happens (the run executes in a worker thread; events are read back from the instance).
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from benchmark_pipeline.partitions import hourly_partitions
from benchmark_pipeline.utc import aware_utc

# What `benchmark pipeline run` materializes by default: the raw landing of the window, then the dbt
# models (the partitioned facts over the same partitions; seeds, views, rollups and dimensions once)
# and the statistics: one command from LiteLLM's table to the comparison.
DEFAULT_SELECTION: dg.AssetSelection = dg.AssetSelection.groups(
    "raw", "seeds", "staging", "intermediate", "marts", "statistics"
)
PROMETHEUS_ASSET = dg.AssetKey("raw_prometheus_series")
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
LAUNCHED_BY_TAG = "harness_bench/launched_by"
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class RunEvent:
    kind: str  # step_start, step_success, step_failure, materialization, check, run_failure, log
    step: str | None
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    ok: bool | None = None  # checks: passed or not


@dataclass
class RunWindowResult:
    run_id: str
    success: bool
    first_partition: str
    last_partition: str
    assets: list[str]
    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    output_log: str = ""  # what the run's steps printed (dbt's log lines)


class WindowError(ValueError):
    pass


def prometheus_reachable(base_url: str, timeout_s: float = 2.0) -> bool:
    import httpx

    try:
        return httpx.get(f"{base_url.rstrip('/')}/-/ready", timeout=timeout_s).status_code == 200
    except httpx.HTTPError:
        return False


def without_prometheus(selection: dg.AssetSelection, warehouse_url: str) -> dg.AssetSelection:
    """``selection`` minus the Prometheus landing. Its raw table is created (empty if it never ran), so
    the dbt models reading it still build: one missing telemetry source must not block the marts."""
    from benchmark_pipeline.defs.prometheus.landing import ensure_raw_tables

    ensure_raw_tables(warehouse_url)
    return selection - dg.AssetSelection.assets(PROMETHEUS_ASSET)


def partition_range(start: datetime, end: datetime) -> tuple[str, str]:
    """First and last hourly partition keys overlapping [start, end) (UTC), clamped to the ones that exist."""
    start, end = aware_utc(start), aware_utc(end)
    if end <= start:
        raise WindowError(
            f"the window is empty: --to {end.isoformat()} is not after --from {start.isoformat()}"
        )
    first_key = hourly_partitions.get_first_partition_key()
    last_key = hourly_partitions.get_last_partition_key()
    if first_key is None or last_key is None:
        raise WindowError("no hourly partitions exist yet")
    lo = hourly_partitions.time_window_for_partition_key(first_key).start
    hi = hourly_partitions.time_window_for_partition_key(last_key).end
    if end <= lo or start >= hi:
        raise WindowError(
            f"{start.isoformat()}..{end.isoformat()} lies outside the hourly partitions "
            f"({lo.isoformat()}..{hi.isoformat()})"
        )
    start, end = max(start, lo), min(end, hi)
    first = hourly_partitions.get_partition_key_for_timestamp(start.timestamp())
    last = hourly_partitions.get_partition_key_for_timestamp((end - timedelta(microseconds=1)).timestamp())
    return first, last


def run_window(
    start: datetime,
    end: datetime,
    *,
    selection: dg.AssetSelection | Sequence[dg.AssetKey] | None = None,
    definitions: dg.Definitions | None = None,
    instance: dg.DagsterInstance | None = None,
    resources: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
    on_event: Callable[[RunEvent], None] | None = None,
) -> RunWindowResult:
    """One in-process run over the partitions overlapping [start, end); never raises for a failed step
    (the result says what failed)."""
    if definitions is None:
        from benchmark_pipeline.definitions import defs as definitions
    if instance is None:
        from benchmark_pipeline.instance import open_instance

        instance = open_instance()
    first, last = partition_range(start, end)
    chosen = selection if selection is not None else DEFAULT_SELECTION
    graph = definitions.resolve_asset_graph()
    keys = sorted(
        (chosen.resolve(graph) if isinstance(chosen, dg.AssetSelection) else set(chosen)),
        key=lambda k: k.to_user_string(),
    )
    if not keys:
        raise WindowError("the selection matches no asset")
    job = definitions.resolve_implicit_job_def_def_for_assets(keys)
    if job is None:
        raise WindowError("the selected assets cannot run together in one job (different partitions?)")
    run_id = str(uuid.uuid4())
    run_tags = {RANGE_START_TAG: first, RANGE_END_TAG: last, LAUNCHED_BY_TAG: "run_window", **(tags or {})}
    began = time.monotonic()
    outcome: dict[str, Any] = {}

    def execute() -> None:
        try:
            outcome["result"] = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                run_id=run_id,
                tags=run_tags,
                resources=resources,
                raise_on_error=False,
                # the caller shows progress: keep Dagster's own console logger quiet
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
        except BaseException as exc:  # reported below, in the caller's thread
            outcome["error"] = exc

    result = RunWindowResult(run_id, False, first, last, [k.to_user_string() for k in keys])
    result.output_log = str(_output_log(instance, run_id))
    # dagster-dbt re-emits dbt's own log lines on sys.stdout (for Dagster's compute-log capture); in an
    # in-process run they would interleave with the caller's progress and corrupt its JSON on stdout
    with open(result.output_log, "w") as sink, contextlib.redirect_stdout(sink):
        worker = threading.Thread(target=execute, name="pipeline-run", daemon=True)
        worker.start()
        cursor = None
        while True:
            alive = worker.is_alive()
            cursor = _drain(instance, run_id, cursor, result, on_event)
            if not alive:
                break
            time.sleep(POLL_SECONDS)
        worker.join()
    if "error" in outcome:
        raise outcome["error"]
    result.success = bool(outcome["result"].success)
    result.seconds = time.monotonic() - began
    return result


class _QuietUngatedChecks(logging.Filter):
    """Drop Dagster's "Blocking asset check ... emitted no result" warning on the caller's console.

    The relationships tests from fct_sessions to the dimensions only run when the dimensions are
    built in the same dbt invocation (dbt_project/README.md); the warning says just that, every run.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Blocking asset check")


_UNGATED = logging.getLogger("dagster._core.execution.plan.active")
_UNGATED.addFilter(_QuietUngatedChecks())


def _output_log(instance: dg.DagsterInstance, run_id: str) -> Path:
    """``<instance root>/logs/<run id>.log``, or a temporary directory for an ephemeral instance."""
    try:
        root = Path(instance.root_directory)
    except Exception:  # ephemeral instances have no root directory
        root = Path(tempfile.gettempdir()) / "harness-bench-runs"
    path = root / "logs" / f"{run_id}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _drain(
    instance: dg.DagsterInstance,
    run_id: str,
    cursor: str | None,
    result: RunWindowResult,
    on_event: Callable[[RunEvent], None] | None,
) -> str | None:
    if instance.get_run_by_id(run_id) is None:  # not registered yet
        return cursor
    records = instance.get_records_for_run(run_id=run_id, cursor=cursor)
    for record in records.records:
        event = _translate(record.event_log_entry, result)
        if event is not None and on_event is not None:
            on_event(event)
    return records.cursor


def _translate(entry: Any, result: RunWindowResult) -> RunEvent | None:
    event = entry.dagster_event
    step = entry.step_key
    if event is None:
        return RunEvent("log", step, entry.user_message) if entry.level >= 20 and step else None
    kind = event.event_type_value
    if kind == "STEP_START":
        return RunEvent("step_start", step, f"{step} started")
    if kind == "STEP_SUCCESS":
        return RunEvent("step_success", step, f"{step} succeeded")
    if kind in ("STEP_FAILURE", "RUN_FAILURE"):
        message = _failure_message(event.event_specific_data) or entry.user_message or kind
        result.failures.append(f"{step or 'run'}: {message}")
        return RunEvent("step_failure" if step else "run_failure", step, message)
    if kind == "ASSET_MATERIALIZATION":
        mat = event.event_specific_data.materialization
        meta = {k: _plain(v) for k, v in mat.metadata.items()}
        result.materializations[mat.asset_key.to_user_string()] = meta
        return RunEvent("materialization", step, mat.asset_key.to_user_string(), meta)
    if kind == "ASSET_CHECK_EVALUATION":
        ev = event.event_specific_data
        name = f"{ev.asset_key.to_user_string()}:{ev.check_name}"
        meta = {k: _plain(v) for k, v in ev.metadata.items()}
        desc = ev.description or ""
        result.checks[name] = {"passed": ev.passed, "severity": ev.severity.value, "description": desc}
        return RunEvent(
            "check", step, f"{name} {'passed' if ev.passed else 'FAILED'}: {desc}", meta, ev.passed
        )
    return None


def _failure_message(data: Any) -> str:
    """A failed step's own words: a dg.Failure's description, else the innermost error's first line."""
    user = getattr(data, "user_failure_data", None)
    if user is not None and user.description:
        return user.description
    error = getattr(data, "error", None)
    while error is not None and error.cause is not None:
        error = error.cause
    if error is None:
        return ""
    line = _first_line(error.message)
    head, _, rest = line.partition(": ")
    return rest if rest and error.cls_name and head.endswith(error.cls_name) else line


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def jsonable(value: Any) -> Any:
    """Metadata as JSON-safe values for a printed summary: records such as dbt's column schemas (which
    ``json`` would try to iterate) become a short description."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    columns = getattr(value, "columns", None)
    if columns is not None:
        return f"{len(columns)} columns"
    return str(value)[:200]


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""
