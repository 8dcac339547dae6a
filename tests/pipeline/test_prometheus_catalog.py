"""The query catalog's validation and the pure window/step arithmetic (no servers needed)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from benchmark_pipeline.defs.prometheus.catalog import default_catalog_path, load_catalog
from benchmark_pipeline.defs.prometheus.client import parse_value
from benchmark_pipeline.defs.prometheus.windows import (
    MAX_POINTS_PER_SERIES,
    landing_windows,
    partition_key_for,
    plan_query_ranges,
    points_between,
    require_whole_hours,
)
from session_cli.errors import ConfigError

T0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)

GOOD_QUERY = {
    "name": "request_rate_per_second_by_key_alias",
    "description": "requests per second",
    "unit": "per_second",
    "labels": ["api_key_alias"],
    "promql": "sum by (api_key_alias) (rate(litellm_proxy_total_requests_metric_total[5m]))",
}


def write_catalog(tmp_path: Path, body: object) -> Path:
    path = tmp_path / "queries.yaml"
    path.write_text(body if isinstance(body, str) else yaml.safe_dump(body))
    return path


# --- the shipped catalog ---------------------------------------------------------------------------


def test_shipped_catalog_loads_and_covers_the_required_families() -> None:
    catalog = load_catalog()
    assert default_catalog_path().name == "queries.yaml"
    names = set(catalog.names())
    for required in (
        "request_latency_p50_seconds_by_model_group",
        "request_latency_p95_seconds_by_model_group",
        "request_latency_p50_seconds_by_key_alias",
        "request_latency_p95_seconds_by_key_alias",
        "ttft_p50_seconds_by_model_group",
        "ttft_p95_seconds_by_key_alias",
        "request_rate_per_second_by_requested_model",
        "request_rate_per_second_by_key_alias",
        "failure_rate_per_second_by_requested_model",
        "failure_rate_per_second_by_key_alias",
        "input_tokens_per_second",
        "output_tokens_per_second",
        "proxy_overhead_p95_seconds_by_model_group",
        "requests_cumulative_by_key_alias",
        "litellm_scrape_up",
    ):
        assert required in names
    # LiteLLM's real metric names only (litellm.md); no recording rules or made-up series
    promql = " ".join(q.promql for q in catalog.queries)
    for metric in (
        "litellm_request_total_latency_metric_bucket",
        "litellm_llm_api_time_to_first_token_metric_bucket",
        "litellm_llm_api_latency_metric_bucket",
        "litellm_overhead_latency_metric_bucket",
        "litellm_proxy_total_requests_metric_total",
        "litellm_proxy_failed_requests_metric_total",
        "litellm_input_tokens_metric_total",
        "litellm_output_tokens_metric_total",
    ):
        assert metric in promql
    assert all(catalog.step_for(q) == 60 for q in catalog.queries)


# --- validation errors: one line naming file, query and field ---------------------------------------


def test_unknown_key_is_rejected_naming_file_query_and_field(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"version": 1, "queries": [{**GOOD_QUERY, "stepp": 30}]})
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    assert (
        err.value.message
        == f"{path}: query 'request_rate_per_second_by_key_alias': field 'stepp': unknown field"
    )
    assert "\n" not in err.value.message


def test_step_must_divide_an_hour(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"version": 1, "queries": [{**GOOD_QUERY, "step_seconds": 35}]})
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    assert err.value.message == (
        f"{path}: query 'request_rate_per_second_by_key_alias': field 'step_seconds': "
        "must be a positive divisor of 3600 so points align with hourly partitions (got 35)"
    )


def test_grafana_variables_are_rejected(tmp_path: Path) -> None:
    bad = {**GOOD_QUERY, "promql": "sum(rate(litellm_proxy_total_requests_metric_total[$__rate_interval]))"}
    path = write_catalog(tmp_path, {"version": 1, "queries": [bad]})
    with pytest.raises(
        ConfigError, match=r"query 'request_rate_per_second_by_key_alias': field 'promql': must not"
    ):
        load_catalog(path)


def test_missing_field_names_the_query_by_position_when_it_has_no_name(tmp_path: Path) -> None:
    nameless = {k: v for k, v in GOOD_QUERY.items() if k != "name"}
    path = write_catalog(tmp_path, {"version": 1, "queries": [GOOD_QUERY, nameless]})
    with pytest.raises(ConfigError) as err:
        load_catalog(path)
    assert err.value.message == f"{path}: query #2: field 'name': required field is missing"


def test_duplicate_names_and_bad_labels(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"version": 1, "queries": [GOOD_QUERY, GOOD_QUERY]})
    with pytest.raises(ConfigError, match="query name 'request_rate_per_second_by_key_alias' appears twice"):
        load_catalog(path)
    path = write_catalog(tmp_path, {"version": 1, "queries": [{**GOOD_QUERY, "labels": ["__name__"]}]})
    with pytest.raises(ConfigError, match=r"field 'labels': '__name__' is not a label name"):
        load_catalog(path)


def test_unit_and_defaults_and_top_level_keys(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, {"version": 1, "queries": [{**GOOD_QUERY, "unit": "ms"}]})
    with pytest.raises(ConfigError, match=r"field 'unit': .*\(got 'ms'\)$"):
        load_catalog(path)
    path = write_catalog(tmp_path, {"version": 1, "defaults": {"step_seconds": 7}, "queries": [GOOD_QUERY]})
    with pytest.raises(ConfigError, match=r"defaults: field 'step_seconds': must be a positive divisor"):
        load_catalog(path)
    path = write_catalog(tmp_path, {"version": 1, "querys": [GOOD_QUERY]})
    with pytest.raises(ConfigError, match=r"field 'querys': unknown field"):
        load_catalog(path)


def test_yaml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    path = write_catalog(tmp_path, "version: 1\nqueries: [\n  - name: x\n")
    with pytest.raises(ConfigError, match=rf"^{path}: line \d+ is not valid YAML"):
        load_catalog(path)
    with pytest.raises(ConfigError, match="Prometheus query catalog not found"):
        load_catalog(tmp_path / "nope.yaml")


def test_step_override_and_configs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "prometheus").mkdir()
    write_catalog(
        tmp_path / "prometheus",
        {
            "version": 1,
            "defaults": {"step_seconds": 30},
            "queries": [GOOD_QUERY, {**GOOD_QUERY, "name": "b", "step_seconds": 15}],
        },
    )
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(tmp_path))
    catalog = load_catalog()
    assert [catalog.step_for(q) for q in catalog.queries] == [30, 15]


# --- step / range planning -------------------------------------------------------------------------


def test_one_partition_at_the_default_step_is_one_call_of_60_points() -> None:
    [call] = plan_query_ranges(T0, T0 + HOUR, 60)
    assert (call.start, call.last, call.points) == (T0, T0 + timedelta(minutes=59), 60)


def test_a_month_at_15s_is_split_under_the_point_limit_without_gaps() -> None:
    start, end = T0, T0 + timedelta(days=30)
    calls = plan_query_ranges(start, end, 15)
    total = 30 * 24 * 3600 // 15  # 172,800 points
    assert len(calls) == 16  # ceil(172,800 / 11,000)
    assert all(c.points <= MAX_POINTS_PER_SERIES for c in calls)
    assert sum(c.points for c in calls) == total
    assert calls[0].start == start and calls[-1].last == end - timedelta(seconds=15)
    for prev, nxt in itertools.pairwise(calls):
        assert nxt.start == prev.last + timedelta(seconds=15)


def test_point_limit_edges() -> None:
    step = timedelta(seconds=1)
    assert len(plan_query_ranges(T0, T0 + 11_000 * step, 1)) == 1
    first, second = plan_query_ranges(T0, T0 + 11_001 * step, 1)
    assert (first.points, second.points, second.start) == (11_000, 1, T0 + 11_000 * step)
    assert [c.points for c in plan_query_ranges(T0, T0 + 10 * step, 1, max_points=4)] == [4, 4, 2]
    assert plan_query_ranges(T0, T0, 60) == []
    with pytest.raises(ValueError, match="not a whole number of 7s steps"):
        plan_query_ranges(T0, T0 + HOUR, 7)
    assert points_between(T0, T0 - step, 1) == 0


def test_landing_windows_partition_keys_and_whole_hours() -> None:
    windows = landing_windows(T0, T0 + timedelta(hours=50))
    assert [(b - a) for a, b in windows] == [timedelta(hours=24), timedelta(hours=24), timedelta(hours=2)]
    assert partition_key_for(datetime(2025, 6, 1, 10, 59, 59, tzinfo=UTC)) == "2025-06-01-10:00"
    require_whole_hours(T0, T0 + HOUR)
    with pytest.raises(ValueError, match="not on a whole hour"):
        require_whole_hours(T0 + timedelta(minutes=5), T0 + HOUR)
    with pytest.raises(ValueError, match="no time zone"):
        require_whole_hours(datetime(2025, 6, 1, 10), T0 + HOUR)


def test_nan_and_infinities_are_unknown_not_zero() -> None:
    assert [parse_value(v) for v in ("NaN", "+Inf", "-Inf", "0", "0.2", "1e3")] == [
        None,
        None,
        None,
        0.0,
        0.2,
        1000.0,
    ]


def test_scrape_config_is_valid_and_scrapes_litellm_metrics_path() -> None:
    import subprocess

    from prometheus_support import prometheus_binaries, require_prometheus

    require_prometheus()
    path = default_catalog_path().parent / "prometheus.yml"
    _, promtool = prometheus_binaries() or ("", "promtool")
    checked = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load(path.read_text())
    assert config["global"]["scrape_interval"] == "15s"
    [litellm] = [job for job in config["scrape_configs"] if job["job_name"] == "litellm"]
    assert litellm["metrics_path"] == "/metrics/"
    assert litellm["static_configs"] == [{"targets": ["litellm:4000"]}]
    # the catalog's scrape-health query reads the same job
    up = load_catalog().get("litellm_scrape_up")
    assert up is not None and 'job="litellm"' in up.promql


def test_fixture_label_sets_match_the_pinned_litellm() -> None:
    """The test series carry exactly LiteLLM's labels; this fails when the litellm pin changes them.

    Runs in a subprocess: importing litellm configures logging and globals we keep out of pytest.
    """
    import importlib.util
    import json
    import os
    import subprocess
    import sys

    from prometheus_support import LITELLM_METRIC_LABELS

    if importlib.util.find_spec("litellm") is None:  # find, not import: see above
        pytest.skip("the proxy extra (litellm) is not installed")
    script = (
        "import json, sys\n"
        "from litellm.types.integrations.prometheus import PrometheusMetricLabels as P\n"
        "json.dump({m: list(getattr(P, m)) for m in json.loads(sys.argv[1])}, sys.stdout)\n"
    )
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}  # no price-list download on import
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(list(LITELLM_METRIC_LABELS))],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    real = json.loads(done.stdout)
    assert {m: tuple(v) for m, v in real.items()} == LITELLM_METRIC_LABELS
