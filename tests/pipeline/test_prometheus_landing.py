"""Landing catalog range queries from a real Prometheus into a real Postgres, with hand-computed answers.

The data is :func:`prometheus_support.example_litellm_hour` (2025-06-01 10:00 UTC): read its
docstring for how every expected value below follows from the samples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import prometheus_support
import psycopg
import pytest
from prometheus_support import (
    EXAMPLE_IDLE_KEY_ALIAS,
    EXAMPLE_KEY_ALIAS,
    EXAMPLE_MODEL_GROUP,
    OpenMetrics,
    PrometheusInstance,
    at,
    example_litellm_hour,
    litellm_labels,
    require_prometheus,
    start_prometheus,
)

from benchmark_pipeline.defs.prometheus.catalog import QueryCatalog, load_catalog
from benchmark_pipeline.defs.prometheus.client import (
    PrometheusClient,
    PrometheusQueryError,
    PrometheusUnavailableError,
)
from benchmark_pipeline.defs.prometheus.landing import LandingReport, land_window, scrape_coverage
from session_cli.errors import ConfigError

T0 = datetime(2025, 6, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)
prometheus_factory = prometheus_support.prometheus_factory  # the shared fixture, used below

EMPTY_IN_EXAMPLE = {
    "ttft_p50_seconds_by_model_group",
    "ttft_p95_seconds_by_model_group",
    "ttft_p50_seconds_by_key_alias",
    "ttft_p95_seconds_by_key_alias",
    "llm_api_latency_p50_seconds_by_model_group",
    "llm_api_latency_p95_seconds_by_model_group",
    "proxy_overhead_p50_seconds_by_model_group",
    "proxy_overhead_p95_seconds_by_model_group",
    "failure_rate_per_second_by_requested_model",
    "failure_rate_per_second_by_key_alias",
}


@pytest.fixture(scope="module")
def hour_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusInstance]:
    require_prometheus()
    instance = start_prometheus(example_litellm_hour(), tmp_path_factory.mktemp("prom-hour"))
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def empty_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusInstance]:
    require_prometheus()
    instance = start_prometheus(None, tmp_path_factory.mktemp("prom-empty"))
    yield instance
    instance.stop()


@pytest.fixture
def warehouse(make_database: Callable[[str], str]) -> str:
    return make_database("prom")


def land(
    url: str, prom: PrometheusInstance | str, start: datetime = T0, end: datetime = T0 + HOUR, catalog=None
) -> LandingReport:
    base = prom if isinstance(prom, str) else prom.url
    with PrometheusClient(base) as client:
        return land_window(url, client, catalog or load_catalog(), start, end)


def rows(url: str, query_name: str | None = None) -> list[dict[str, Any]]:
    sql = (
        "select query_name, labels, ts, value, step_seconds, _partition_key from raw.prometheus_series"
        + (" where query_name = %s" if query_name else "")
        + " order by query_name, labels::text, ts"
    )
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql, (query_name,) if query_name else ()).fetchall()


def by_minute(found: list[dict[str, Any]], label: str, value: str) -> dict[int, float | None]:
    """{minutes after T0: value} for the series whose ``label`` equals ``value``."""
    out = {}
    for row in found:
        if row["labels"].get(label) == value:
            out[int((row["ts"] - T0).total_seconds() // 60)] = row["value"]
    return out


def catalog_of(*queries: dict[str, Any], step: int = 60) -> QueryCatalog:
    base = {"description": "test", "unit": "count", "labels": []}
    return QueryCatalog.model_validate(
        {"version": 1, "defaults": {"step_seconds": step}, "queries": [{**base, **q} for q in queries]}
    )


# --- exact values --------------------------------------------------------------------------------


def test_counter_rate_lands_exact_values(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    report = land(warehouse, hour_prometheus)
    found = rows(warehouse, "request_rate_per_second_by_key_alias")
    active = by_minute(found, "api_key_alias", EXAMPLE_KEY_ALIAS)
    idle = by_minute(found, "api_key_alias", EXAMPLE_IDLE_KEY_ALIAS)

    assert sorted(active) == list(range(60)) and sorted(idle) == list(range(60))
    # 3 requests per 15 s scrape = 0.2/s once the 5m window is all traffic; ramps are linear
    expected = {
        0: 0.0,
        1: 0.04,
        2: 0.08,
        5: 0.2,
        17: 0.2,
        30: 0.2,
        31: 0.16,
        32: 0.12,
        34: 0.04,
        35: 0.0,
        59: 0.0,
    }
    for minute, value in expected.items():
        assert active[minute] == pytest.approx(value, abs=1e-12), minute
    assert set(idle.values()) == {0.0}
    assert {r["step_seconds"] for r in found} == {60}
    assert {r["_partition_key"] for r in found} == {"2025-06-01-10:00"}
    assert {tuple(r["labels"]) for r in found} == {("api_key_alias",)}
    assert report.queries["request_rate_per_second_by_key_alias"].rows == 120
    assert report.queries["request_rate_per_second_by_key_alias"].series == 2

    tokens_in = by_minute(rows(warehouse, "input_tokens_per_second"), "api_key_alias", EXAMPLE_KEY_ALIAS)
    tokens_out = by_minute(rows(warehouse, "output_tokens_per_second"), "api_key_alias", EXAMPLE_KEY_ALIAS)
    assert tokens_in[20] == pytest.approx(20.0) and tokens_out[20] == pytest.approx(4.0)
    [model_rate] = {
        r["labels"]["requested_model"] for r in rows(warehouse, "request_rate_per_second_by_requested_model")
    }
    assert model_rate == EXAMPLE_MODEL_GROUP


def test_histogram_quantiles_land_exact_values_and_nan_as_null(
    warehouse: str, hour_prometheus: PrometheusInstance
) -> None:
    report = land(warehouse, hour_prometheus)
    # per scrape: 1 observation in (0.25, 0.5], 2 in (0.5, 1], 1 in (1, 2]
    # p50: rank 2 of 4 -> bucket (0.5, 1], 1 of its 2 -> 0.5 + 0.5 * 1/2 = 0.75
    # p95: rank 3.8 of 4 -> bucket (1, 2], 0.8 of its 1 -> 1 + 1 * 0.8 = 1.8
    for name, label, value, expected in (
        ("request_latency_p50_seconds_by_model_group", "model_group", EXAMPLE_MODEL_GROUP, 0.75),
        ("request_latency_p95_seconds_by_model_group", "model_group", EXAMPLE_MODEL_GROUP, 1.8),
        ("request_latency_p50_seconds_by_key_alias", "api_key_alias", EXAMPLE_KEY_ALIAS, 0.75),
        ("request_latency_p95_seconds_by_key_alias", "api_key_alias", EXAMPLE_KEY_ALIAS, 1.8),
    ):
        series = by_minute(rows(warehouse, name), label, value)
        assert sorted(series) == list(range(60)), name
        # no traffic in the 5m window at minute 0 and from minute 35 on: Prometheus answers NaN -> NULL
        assert [m for m, v in series.items() if v is None] == [0, *range(35, 60)], name
        assert all(v == pytest.approx(expected, abs=1e-9) for m, v in series.items() if 1 <= m <= 34), name
        assert report.queries[name].null_values == 26
    # the idle alias has no histogram at all
    assert (
        by_minute(
            rows(warehouse, "request_latency_p50_seconds_by_key_alias"),
            "api_key_alias",
            EXAMPLE_IDLE_KEY_ALIAS,
        )
        == {}
    )


def test_empty_queries_land_nothing_not_zeros(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    report = land(warehouse, hour_prometheus)
    assert set(report.empty_queries) == EMPTY_IN_EXAMPLE
    with psycopg.connect(warehouse) as conn:
        landed = {
            name
            for (name,) in conn.execute("select distinct query_name from raw.prometheus_series").fetchall()
        }
    assert landed.isdisjoint(EMPTY_IN_EXAMPLE)
    assert landed == set(load_catalog().names()) - EMPTY_IN_EXAMPLE


def test_cumulative_requests_per_key_alias_reconcile_exactly(
    warehouse: str, hour_prometheus: PrometheusInstance
) -> None:
    land(warehouse, hour_prometheus)
    found = rows(warehouse, "requests_cumulative_by_key_alias")
    series = by_minute(found, "api_key_alias", EXAMPLE_KEY_ALIAS)
    assert series == {m: float(min(12 * m, 360)) for m in range(60)}  # 3 per 15 s scrape = 12 per minute
    # the alias idle for over an hour (flat at 50) emits nothing
    assert {r["labels"]["api_key_alias"] for r in found} == {EXAMPLE_KEY_ALIAS}
    # the README's reset-aware rule gives the request count: 30 minutes x 4 scrapes x 3 requests
    total, previous = 0.0, None
    for minute in sorted(series):
        value = series[minute]
        total += value if previous is None or value < previous else value - previous
        previous = value
    assert total == 360


def test_scrape_coverage(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    land(warehouse, hour_prometheus)
    up = rows(warehouse, "litellm_scrape_up")
    assert [r["labels"] for r in up[:1]] == [{"job": "litellm", "instance": "litellm:4000"}]
    # last scrape at 10:44:45, seen through the 5 minute lookback until 10:49
    assert sorted(by_minute(up, "job", "litellm")) == list(range(50))
    assert scrape_coverage(warehouse, load_catalog(), "litellm_scrape_up", T0, T0 + HOUR) == pytest.approx(
        50 / 60
    )
    assert scrape_coverage(warehouse, load_catalog(), "no_such_query", T0, T0 + HOUR) is None


# --- idempotence and windows -----------------------------------------------------------------------


def test_rerunning_a_partition_changes_nothing(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    first = land(warehouse, hour_prometheus)
    before = rows(warehouse)
    second = land(warehouse, hour_prometheus)
    third = land(warehouse, hour_prometheus)
    assert rows(warehouse) == before
    assert len(before) == first.rows == second.rows == third.rows == second.deleted == third.deleted
    assert first.deleted == 0


def test_overlapping_runs_of_the_same_window_both_succeed(
    warehouse: str, hour_prometheus: PrometheusInstance
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    land(warehouse, hour_prometheus)
    before = rows(warehouse)
    with ThreadPoolExecutor(max_workers=3) as pool:
        reports = list(pool.map(lambda _: land(warehouse, hour_prometheus), range(3)))
    assert [r.rows for r in reports] == [len(before)] * 3
    assert rows(warehouse) == before


def test_one_range_run_equals_its_partitions_run_one_by_one(
    make_database: Callable[[str], str], hour_prometheus: PrometheusInstance
) -> None:
    one_by_one, ranged = make_database("prom_hours"), make_database("prom_range")
    for hour in range(-1, 2):
        land(one_by_one, hour_prometheus, T0 + hour * HOUR, T0 + (hour + 1) * HOUR)
    land(ranged, hour_prometheus, T0 - HOUR, T0 + 2 * HOUR)
    assert rows(one_by_one) == rows(ranged)
    keys = {r["_partition_key"] for r in rows(ranged)}
    assert keys == {"2025-06-01-09:00", "2025-06-01-10:00", "2025-06-01-11:00"}
    # the boundary point 10:00 belongs to the 10:00 partition only
    at_boundary = [r for r in rows(ranged) if r["ts"] == T0]
    assert at_boundary and {r["_partition_key"] for r in at_boundary} == {"2025-06-01-10:00"}


def test_point_limit_split_against_real_prometheus(
    warehouse: str, hour_prometheus: PrometheusInstance
) -> None:
    catalog = catalog_of({"name": "one_per_second", "promql": "vector(1)"}, step=1)
    report = land(warehouse, hour_prometheus, T0, T0 + 4 * HOUR, catalog=catalog)
    assert report.queries["one_per_second"].calls == 2  # 14,400 points > 11,000
    with psycopg.connect(warehouse) as conn:
        count, distinct, first, last, partitions = conn.execute(
            "select count(*), count(distinct ts), min(ts), max(ts), count(distinct _partition_key)"
            " from raw.prometheus_series where query_name = 'one_per_second'"
        ).fetchone()
    assert (count, distinct, partitions) == (14_400, 14_400, 4)
    assert (first, last) == (T0, T0 + 4 * HOUR - timedelta(seconds=1))


def test_a_window_prometheus_no_longer_holds_is_kept_not_wiped(
    warehouse: str, hour_prometheus: PrometheusInstance, empty_prometheus: PrometheusInstance
) -> None:
    land(warehouse, hour_prometheus)
    before = rows(warehouse)
    report = land(warehouse, empty_prometheus)
    assert rows(warehouse) == before
    assert report.kept_windows == [(T0, T0 + HOUR)]
    assert report.rows == 0 and report.deleted == 0
    assert "kept them" in report.warnings[0]
    # a window never landed and empty at the source: nothing happens, nothing to warn about
    quiet = land(warehouse, empty_prometheus, T0 + 5 * HOUR, T0 + 6 * HOUR)
    assert (quiet.rows, quiet.kept_windows, quiet.warnings) == (0, [], [])


# --- errors --------------------------------------------------------------------------------------


def test_prometheus_down_is_a_clear_error_and_keeps_landed_rows(
    warehouse: str, hour_prometheus: PrometheusInstance
) -> None:
    land(warehouse, hour_prometheus)
    before = rows(warehouse)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, not listening: refused
        with pytest.raises(PrometheusUnavailableError) as err:
            land(warehouse, dead)
    message = err.value.message
    assert message.startswith(f"Prometheus at {dead} is unreachable while running query ")
    assert "ConnectError" in message and "\n" not in message
    assert "PROMETHEUS_URL" in (err.value.hint or "")
    assert rows(warehouse) == before


def test_unexpected_label_fails_naming_the_query(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    catalog = catalog_of(
        {
            "name": "requests_by_status",
            "labels": ["api_key_alias"],
            "promql": "sum by (api_key_alias, status_code) (litellm_proxy_total_requests_metric_total)",
        }
    )
    with pytest.raises(ConfigError) as err:
        land(warehouse, hour_prometheus, catalog=catalog)
    assert "query 'requests_by_status': Prometheus returned label(s) ['status_code'] not in its labels" in (
        err.value.message
    )
    assert rows(warehouse) == []


def test_bad_promql_is_a_clear_error(warehouse: str, hour_prometheus: PrometheusInstance) -> None:
    catalog = catalog_of({"name": "broken", "promql": "sum by (le (rate(x[5m]))"})
    with pytest.raises(PrometheusQueryError) as err:
        land(warehouse, hour_prometheus, catalog=catalog)
    assert err.value.message.startswith("Prometheus rejected query 'broken' (HTTP 400, bad_data): ")
    assert "queries.yaml" in (err.value.hint or "")


# --- the whole catalog against series shaped like LiteLLM's ------------------------------------------


def full_litellm_traffic() -> OpenMetrics:
    """Every family the catalog reads, with LiteLLM's full label sets, including TTFT and failures."""
    start = at("2025-06-01T10:00:00Z")
    scrapes = [start - 600 + 15 * i for i in range(0, 80 * 4 + 1)]  # 09:50 .. 11:10
    steps = [max(0, int((ts - start) // 15)) for ts in scrapes]
    om = OpenMetrics()
    ident = {"api_key_alias": "bench-s1", "hashed_api_key": "a" * 64, "requested_model": "gpt-5"}
    for metric in (
        "litellm_request_total_latency_metric",
        "litellm_llm_api_latency_metric",
        "litellm_llm_api_time_to_first_token_metric",
    ):
        labels = litellm_labels(
            metric, **ident, model_group="gpt-5", model="openai/gpt-5", api_provider="openai"
        )
        om.observations(metric, labels, [(start + 15 * i + 1, 0.4) for i in range(40)], scrape_times=scrapes)
    overhead = litellm_labels(
        "litellm_overhead_latency_metric",
        model_group="gpt-5",
        api_key_alias="bench-s1",
        hashed_api_key="a" * 64,
    )
    om.observations(
        "litellm_overhead_latency_metric",
        overhead,
        [(start + 15 * i + 1, 0.004) for i in range(40)],
        scrape_times=scrapes,
    )
    om.counter(
        "litellm_proxy_total_requests_metric",
        litellm_labels(
            "litellm_proxy_total_requests_metric", **ident, status_code="200", route="/chat/completions"
        ),
        [(ts, k) for ts, k in zip(scrapes, steps, strict=True)],
    )
    om.counter(
        "litellm_proxy_failed_requests_metric",
        litellm_labels(
            "litellm_proxy_failed_requests_metric",
            **ident,
            exception_class="RateLimitError",
            exception_status="429",
            route="/chat/completions",
        ),
        [(ts, k // 4) for ts, k in zip(scrapes, steps, strict=True)],
    )
    for metric in ("litellm_input_tokens_metric", "litellm_output_tokens_metric"):
        om.counter(
            metric,
            litellm_labels(metric, **ident, model="openai/gpt-5"),
            [(ts, 100 * k) for ts, k in zip(scrapes, steps, strict=True)],
        )
    om.gauge("up", {"job": "litellm", "instance": "litellm:4000"}, [(ts, 1) for ts in scrapes])
    return om


def test_every_catalog_query_returns_data_with_only_its_declared_labels(
    warehouse: str, prometheus_factory: Callable[[OpenMetrics], PrometheusInstance]
) -> None:
    report = land(warehouse, prometheus_factory(full_litellm_traffic()))
    assert report.empty_queries == []  # every query parses, finds its metric, and keeps only declared labels
    catalog = load_catalog()
    with psycopg.connect(warehouse) as conn:
        for query in catalog.queries:
            keys = conn.execute(
                "select distinct jsonb_object_keys(labels) from raw.prometheus_series where query_name = %s",
                (query.name,),
            ).fetchall()
            assert {k for (k,) in keys} <= set(query.labels), query.name
    failures = by_minute(rows(warehouse, "failure_rate_per_second_by_key_alias"), "api_key_alias", "bench-s1")
    assert failures[20] == pytest.approx(1 / 60)  # one failure per 4 scrapes = 1 per minute
    ttft = by_minute(rows(warehouse, "ttft_p50_seconds_by_model_group"), "model_group", "gpt-5")
    # 0.4 s lies in (0.25, 0.5]; every observation there -> p50 = 0.25 + 0.25 * 0.5 = 0.375
    assert ttft[5] == pytest.approx(0.375)
