"""Every SQL query in dashboards/*.json (panels and template variables) runs against real marts built by
dbt from the fixture telemetry, as the stack's read-only ``grafana`` role, and returns the columns the
panel is built on and at least one row. A query naming a missing table or column fails here.

Fixture: tests/dbt/fixture_data.py (experiment fx-exp, sessions A1..B5 on 2026-11-20 UTC).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest
from grafana_dashboards import DashboardQueryError, Target, all_targets, load_dashboards, render_sql

from tests.dbt import fixture_data as fx

TIME_FROM = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
TIME_TO = datetime(2026, 11, 21, 0, 0, tzinfo=UTC)

# the value a single-value variable takes in these tests (it must be among the variable query's answers)
PREFERRED = {
    "experiment": fx.EXPERIMENT,
    # A1: completed/valid, streamed requests, a background-model request and a rate-limited failure
    "session": fx.SESSION_BY_CODE["A1"].session_id,
}

# (dashboard uid, panel or "variable <name>") -> the columns the panel's fields, overrides and links use
EXPECTED_COLUMNS: dict[tuple[str, str], list[str]] = {
    ("hb-experiment-summary", "variable experiment"): ["experiment"],
    ("hb-experiment-summary", "variable variant"): ["variant"],
    ("hb-experiment-summary", "Per-variant summary (included sessions)"): [
        "variant", "is_baseline", "n_sessions", "n_excluded", "ttft_p50_ms_median", "latency_p95_ms_median",
        "output_tokens_per_s_p50_median", "error_rate", "error_rate_ci_low", "error_rate_ci_high",
        "cost_usd_per_session", "total_tokens_per_session", "active_duration_s_median", "pooled_latency_p95_ms",
        "pooled_ttft_p50_ms",
    ],
    ("hb-experiment-summary", "Comparison against the baseline"): [
        "variant", "baseline_variant", "metric", "better_when", "verdict", "n_variant", "n_baseline",
        "median_variant", "median_baseline", "diff_median", "ratio_median", "ci_low", "ci_high", "p_value",
        "p_value_holm", "cliffs_delta", "sessions_needed_per_side", "computed_at",
    ],
    ("hb-experiment-summary", "TTFT p50 per session"): ["session", "ttft_p50_ms"],
    ("hb-experiment-summary", "Latency p95 per session"): ["session", "latency_p95_ms"],
    ("hb-experiment-summary", "Output tokens/s (median) per session"): ["session", "output_tokens_per_s_p50"],
    ("hb-experiment-summary", "Error rate per session"): ["session", "error_rate"],
    ("hb-experiment-summary", "Active duration per session"): ["session", "active_duration_s"],
    ("hb-experiment-summary", "Included sessions"): [
        "session_id", "variant", "status", "label", "started_at", "request_count", "ttft_p50_ms", "latency_p95_ms",
        "output_tokens_per_s_p50", "error_rate", "cost_usd", "total_tokens", "active_duration_s", "experiment",
        "from_ms", "to_ms",
    ],
    ("hb-experiment-summary", "Cost per session (USD)"): ["session", "cost_usd", "litellm_cost_usd"],
    ("hb-experiment-summary", "Tokens per session"): [
        "session", "uncached_input_tokens", "cached_input_tokens", "output_tokens",
    ],
    ("hb-experiment-summary", "Cache read ratio per session"): ["session", "cache_read_ratio"],
    ("hb-experiment-summary", "Excluded sessions (not in the statistics)"): [
        "session_id", "variant", "status", "outcome", "exclusion_reason", "label", "operator", "started_at",
        "ended_at", "request_count", "experiment", "from_ms", "to_ms",
    ],
    ("hb-session-detail", "variable experiment"): ["experiment"],
    ("hb-session-detail", "variable session"): ["__text", "__value"],
    ("hb-session-detail", "Session"): [
        "session_id", "experiment", "variant", "harness", "provider", "model_alias", "background_model_alias",
        "status", "outcome", "exclusion_reason", "label", "operator", "started_at", "ended_at", "key_alias",
        "git_branch", "git_commit", "git_dirty",
    ],
    ("hb-session-detail", "Session totals"): [
        "request_count", "failure_count", "error_rate", "latency_p50_ms", "latency_p95_ms", "ttft_p50_ms",
        "ttft_p95_ms", "output_tokens_per_s_p50", "total_tokens", "cache_read_ratio", "cost_usd",
        "active_duration_s", "requests_outside_window", "prometheus_request_drift",
    ],
    ("hb-session-detail", "Request timeline: latency and TTFT"): ["time", "latency_ms", "ttft_ms"],
    ("hb-session-detail", "Latency and TTFT per request"): ["request", "ttft_ms", "latency_ms"],
    ("hb-session-detail", "Requests"): [
        "request_sequence", "started_at", "model_alias", "is_background_model", "call_type", "status",
        "error_code", "latency_ms", "ttft_ms", "output_tokens_per_s", "input_tokens", "cached_input_tokens",
        "output_tokens", "cost_usd", "is_streamed", "has_suspect_ttft", "is_within_session_window", "request_id",
    ],
    ("hb-session-detail", "Errors"): [
        "request_sequence", "started_at", "model_alias", "call_type", "error_class", "error_code", "latency_ms",
        "retries", "request_id",
    ],
    ("hb-session-detail", "Cache read ratio per request"): ["request", "cache_read_ratio"],
    ("hb-session-detail", "Cumulative tokens and cost"): ["time", "cumulative_tokens", "cumulative_cost_usd"],
    ("hb-pipeline-health", "Since the last spend-log landing"): ["since_last_landing_s"],
    ("hb-pipeline-health", "Since the marts were built"): ["since_marts_built_s"],
    ("hb-pipeline-health", "Comparison computed"): ["since_comparison_s"],
    ("hb-pipeline-health", "Sessions outside reconciliation tolerance"): [
        "sessions_outside_tolerance", "sessions_without_prometheus_data",
    ],
    ("hb-pipeline-health", "Arrival lag: request end to landing (per landing hour)"): [
        "time", "arrival_lag_p50_s", "arrival_lag_p95_s", "arrival_lag_max_s",
    ],
    ("hb-pipeline-health", "Spend-log rows landed and rejected per hour"): ["time", "landed_requests", "rejected_rows"],
    ("hb-pipeline-health", "Request data-quality flags per hour"): [
        "time", "unattributed", "cost_mismatch", "suspect_ttft", "outside_session_window",
    ],
    ("hb-pipeline-health", "Prometheus samples landed per hour"): ["time", "metric", "samples"],
    ("hb-pipeline-health", "Reconciliation: spend-log vs Prometheus request counts per session"): [
        "session_id", "key_alias", "experiment", "variant", "status", "started_at", "spend_log_request_count",
        "prometheus_request_count", "drift", "tolerance", "within_tolerance",
    ],
}  # fmt: skip

DASHBOARDS = load_dashboards()
SQL_TARGETS = [t for t in all_targets(DASHBOARDS) if t.is_sql]


def _values(columns: list[str], rows: list[tuple]) -> list[str]:
    index = columns.index("__value") if "__value" in columns else 0
    return [str(row[index]) for row in rows]


@pytest.fixture(scope="module")
def variable_values(grafana_query) -> dict[str, dict[str, list[str] | str]]:
    """Per dashboard, each template variable resolved like Grafana does: its query run in order (later
    variables may use earlier ones); "All" = every value; otherwise PREFERRED or the first value."""
    resolved: dict[str, dict[str, list[str] | str]] = {}
    for dashboard in DASHBOARDS:
        values: dict[str, list[str] | str] = {}
        for var in dashboard.variables():
            target = next(t for t in dashboard.variable_targets() if t.ref_id == var["name"])
            if not target.is_sql:
                break
            columns, rows = grafana_query(
                render_sql(target.query, values, time_from=TIME_FROM, time_to=TIME_TO, where=target.id)
            )
            found = _values(columns, rows)
            assert found, f"{target.id}: the variable query returned no values"
            if var.get("includeAll"):
                values[var["name"]] = found
            else:
                preferred = PREFERRED.get(var["name"], found[0])
                assert preferred in found, f"{target.id}: {preferred!r} not among {found}"
                values[var["name"]] = preferred
        resolved[dashboard.uid] = values
    return resolved


def run_panel_sql(
    target: Target, values: dict[str, list[str] | str], grafana_query
) -> tuple[list[str], list[tuple]]:
    sql = render_sql(target.query, values, time_from=TIME_FROM, time_to=TIME_TO, where=target.id)
    try:
        return grafana_query(sql)
    except psycopg.Error as exc:
        raise DashboardQueryError(
            f"{target.dashboard_file}: panel {target.panel!r} ({target.ref_id}) failed as the grafana role: "
            f"{type(exc).__name__}: {str(exc).strip()}"
        ) from None


@pytest.mark.parametrize("target", SQL_TARGETS, ids=lambda t: t.id)
def test_sql_target_returns_expected_columns_and_rows(target: Target, variable_values, grafana_query) -> None:
    expected = EXPECTED_COLUMNS.get((target.dashboard_uid, target.panel))
    assert expected is not None, (
        f"{target.dashboard_file}: panel {target.panel!r} has no entry in EXPECTED_COLUMNS "
        "(tests/stack/test_dashboards_sql.py): list the columns the panel uses"
    )
    columns, rows = run_panel_sql(target, variable_values[target.dashboard_uid], grafana_query)
    assert columns == expected, f"{target.id}: columns {columns} != expected {expected}"
    assert rows, f"{target.id}: no rows from the fixture marts"
    if target.fmt == "time_series":
        times = [row[columns.index("time")] for row in rows]
        assert all(isinstance(t, datetime) and t.tzinfo for t in times), (
            f"{target.id}: time must be timestamptz"
        )
        assert times == sorted(times), f"{target.id}: Grafana needs time series ordered by time"


def test_every_expected_columns_entry_belongs_to_a_panel() -> None:
    known = {(t.dashboard_uid, t.panel) for t in SQL_TARGETS}
    assert not set(EXPECTED_COLUMNS) - known, f"stale entries: {sorted(set(EXPECTED_COLUMNS) - known)}"


def test_overrides_name_only_columns_the_query_returns() -> None:
    """A field override or hidden column for a name the query no longer returns silently does nothing."""
    for dashboard in DASHBOARDS:
        for panel in dashboard.panels():
            keys = {(dashboard.uid, panel["title"])}
            expected = next((EXPECTED_COLUMNS[k] for k in keys if k in EXPECTED_COLUMNS), None)
            if expected is None:
                continue
            names = [
                o["matcher"]["options"]
                for o in panel.get("fieldConfig", {}).get("overrides", [])
                if o["matcher"]["id"] == "byName"
            ]
            for transformation in panel.get("transformations", []):
                names += list(transformation.get("options", {}).get("excludeByName", {}))
            missing = [n for n in names if n not in expected]
            assert not missing, (
                f"{dashboard.path.name}: panel {panel['title']!r} overrides unknown fields {missing}"
            )


# ----------------------------------------------------------------------------- known answers


def _panel_rows(title: str, uid: str, variable_values, grafana_query) -> list[dict]:
    target = next(t for t in SQL_TARGETS if t.dashboard_uid == uid and t.panel == title)
    columns, rows = run_panel_sql(target, variable_values[uid], grafana_query)
    return [dict(zip(columns, row, strict=True)) for row in rows]


def test_experiment_summary_counts_and_exclusions(variable_values, grafana_query) -> None:
    uid = "hb-experiment-summary"
    summary = _panel_rows("Per-variant summary (included sessions)", uid, variable_values, grafana_query)
    # A1-A3 included, A4 aborted; B1-B3 included, B4 invalid, B5 active
    assert [(r["variant"], r["is_baseline"], r["n_sessions"], r["n_excluded"]) for r in summary] == [
        ("fx-opus", True, 3, 1),
        ("fx-kimi", False, 3, 2),
    ]
    excluded = _panel_rows("Excluded sessions (not in the statistics)", uid, variable_values, grafana_query)
    assert sorted((r["variant"], r["exclusion_reason"]) for r in excluded) == [
        ("fx-kimi", "active"),
        ("fx-kimi", "invalid"),
        ("fx-opus", "aborted"),
    ]
    included = _panel_rows("Included sessions", uid, variable_values, grafana_query)
    assert len(included) == 6
    comparison = _panel_rows("Comparison against the baseline", uid, variable_values, grafana_query)
    assert [r["metric"] for r in comparison] == [
        "ttft_p50_ms", "latency_p95_ms", "output_tokens_per_s_p50", "error_rate", "cost_usd", "total_tokens",
        "active_duration_s",
    ]  # fmt: skip
    assert {r["baseline_variant"] for r in comparison} == {"fx-opus"}


def test_session_detail_for_a1(variable_values, grafana_query) -> None:
    uid = "hb-session-detail"
    requests = _panel_rows("Requests", uid, variable_values, grafana_query)
    assert [r["request_id"] for r in requests] == ["a1-1", "a1-2", "a1-3", "a1-4"]
    assert [r["is_background_model"] for r in requests] == [False, False, True, False]
    errors = _panel_rows("Errors", uid, variable_values, grafana_query)
    assert [(r["request_id"], r["error_class"], r["error_code"]) for r in errors] == [
        ("a1-4", "RateLimitError", "429")
    ]
    cache = _panel_rows("Cache read ratio per request", uid, variable_values, grafana_query)
    # a1-1: 4000 cached of 10000 input; a1-2: 16000 of 20000
    assert [round(r["cache_read_ratio"], 3) if r["cache_read_ratio"] is not None else None for r in cache][
        :2
    ] == [
        0.4,
        0.8,
    ]


def test_pipeline_health_counts(variable_values, grafana_query) -> None:
    uid = "hb-pipeline-health"
    per_hour = _panel_rows("Spend-log rows landed and rejected per hour", uid, variable_values, grafana_query)
    rejected = {r["time"].hour: r["rejected_rows"] for r in per_hour if r["rejected_rows"]}
    assert rejected == {10: 2, 12: 1}  # fixture REJECTED: bad-1, bad-2 at 10:3x; bad-3 at 12:40
    recon = _panel_rows(
        "Reconciliation: spend-log vs Prometheus request counts per session",
        uid,
        variable_values,
        grafana_query,
    )
    drift = {str(r["session_id"]): r["drift"] for r in recon if r["drift"] is not None}
    # B2: 5 spend-log rows vs 3 + 1 counted across a proxy restart; A1: 4 vs 4
    assert drift == {fx.SESSION_BY_CODE["B2"].session_id: 1, fx.SESSION_BY_CODE["A1"].session_id: 0}


# ----------------------------------------------------------------------------- the check itself


def test_a_missing_column_fails(variable_values, grafana_query) -> None:
    broken = Target("hb-test", "broken.json", "broken", "A", "grafana-postgresql-datasource", "hb-marts",
                    "select session_id, no_such_column from marts.fct_sessions")  # fmt: skip
    with pytest.raises(DashboardQueryError, match="no_such_column"):
        run_panel_sql(broken, {}, grafana_query)


def test_an_unknown_macro_or_variable_fails() -> None:
    with pytest.raises(DashboardQueryError, match=r"\$__timeGroup"):
        render_sql("select $__timeGroup(started_at, '1h')", {}, time_from=TIME_FROM, time_to=TIME_TO)
    with pytest.raises(DashboardQueryError, match=r"\$nosuchvar"):
        render_sql("select '$nosuchvar'", {}, time_from=TIME_FROM, time_to=TIME_TO)


def test_render_sql_matches_grafana_formatting() -> None:
    rendered = render_sql(
        "select 1 where $__timeFilter(t) and v in ($variant) and e = '${experiment}' and t < $__timeTo()",
        {"variant": ["a", "it's"], "experiment": "x"},
        time_from=TIME_FROM,
        time_to=TIME_TO,
    )
    assert rendered == (
        "select 1 where t BETWEEN '2026-11-20T00:00:00Z' AND '2026-11-21T00:00:00Z' and v in ('a','it''s')"
        " and e = 'x' and t < '2026-11-21T00:00:00Z'"
    )


def test_grafana_role_reads_marts_only(stack_marts, grafana_query: Callable) -> None:
    for forbidden in ("select * from registry.sessions", "select * from raw.litellm_spend_logs"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            grafana_query(forbidden)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        grafana_query("delete from marts.fct_sessions")
    # and without the read-only default, the role still has no write privilege
    with psycopg.connect(stack_marts.url("grafana")) as conn:
        conn.execute("set transaction read write")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("delete from marts.fct_sessions")
