"""The marts built from the fixture telemetry (fixture_data.py) hold the values worked out by hand.

Every expected number below is derived in the comment next to it from the fixture's latencies,
TTFTs, tokens and prices (seeds/model_prices.csv: Opus 5/25/0.5/6.25, Sonnet 3/15/0.3/3.75,
Kimi K2.5 since 2026-06-01 0.6/3.0/0.1/0.6, GPT-5.4 2.5/15 USD per 1M input/output/cache read/
cache write). percentile_cont(p) over n sorted values interpolates at rank p * (n - 1).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.dbt import fixture_data as fx

approx = pytest.approx


def by_key(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows}


@pytest.fixture(scope="module")
def requests(query: Callable[..., list[dict]]) -> dict[str, dict]:
    return by_key(query("select * from marts.fct_requests"), "request_id")


@pytest.fixture(scope="module")
def sessions(query: Callable[..., list[dict]]) -> dict[str, dict]:
    rows = query("select * from marts.fct_sessions")
    codes = {s.session_id: s.code for s in fx.SESSIONS}
    return {codes[str(row["session_id"])]: row for row in rows}


@pytest.fixture(scope="module")
def summary(query: Callable[..., list[dict]]) -> dict[str, dict]:
    return by_key(query("select * from marts.fct_variant_summary where experiment = 'fx-exp'"), "variant")


# --- fct_requests ------------------------------------------------------------------------------


def test_every_spend_log_row_is_kept_and_attributed_by_hash_then_alias(requests: dict[str, dict]) -> None:
    assert len(requests) == len(fx.REQUESTS) == 26
    assert requests["b1-2"]["attribution"] == "key_alias"  # rotated key hash, alias matches B1
    assert str(requests["b1-2"]["session_id"]) == fx.SESSION_BY_CODE["B1"].session_id
    for rid in ("u-1", "u-2"):  # unknown hash; u-2's alias "someone-else" matches no session
        row = requests[rid]
        assert (row["attribution"], row["session_id"], row["variant"], row["request_sequence"]) == (
            "unattributed",
            None,
            None,
            None,
        )
    hashed = [r for r in requests.values() if r["attribution"] == "key_hash"]
    assert len(hashed) == 23  # 26 rows - b1-2 - u-1 - u-2
    assert requests["a1-1"]["experiment"] == "fx-exp" and requests["a1-1"]["variant"] == "fx-opus"


def test_request_sequence_and_background_flag(requests: dict[str, dict]) -> None:
    assert [requests[f"b2-{i}"]["request_sequence"] for i in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [requests[f"a1-{i}"]["request_sequence"] for i in range(1, 5)] == [1, 2, 3, 4]
    # a1-3 asked for claude-sonnet-4-6, fx-opus's background alias (different from its main alias)
    assert [requests[f"a1-{i}"]["is_background_model"] for i in range(1, 5)] == [False, False, True, False]
    # fx-kimi has no background alias
    assert not any(requests[f"b1-{i}"]["is_background_model"] for i in range(1, 4))


def test_timings_and_streaming(requests: dict[str, dict]) -> None:
    a11 = requests["a1-1"]  # 2000 ms, first chunk at 400 ms, 500 output tokens
    assert (a11["latency_ms"], a11["is_streamed"], a11["ttft_ms"], a11["generation_ms"]) == (
        2000,
        True,
        400,
        1600,
    )
    assert a11["output_tokens_per_s"] == approx(500 / 1.6)  # 312.5
    a13 = requests["a1-3"]  # non-streamed chat completion: completionStartTime = endTime
    assert (a13["is_streamed"], a13["ttft_ms"], a13["generation_ms"], a13["has_suspect_ttft"]) == (
        False,
        None,
        None,
        False,
    )
    a23 = requests["a2-3"]  # /v1/messages (always streamed) with completionStartTime = endTime
    assert (a23["is_streamed"], a23["ttft_ms"], a23["output_tokens_per_s"], a23["has_suspect_ttft"]) == (
        False,
        None,
        None,
        True,
    )
    a14 = requests["a1-4"]  # failure without completionStartTime
    assert (a14["latency_ms"], a14["is_streamed"], a14["ttft_ms"]) == (500, False, None)
    assert sum(r["has_suspect_ttft"] for r in requests.values()) == 1


def test_cache_tokens_from_both_usage_shapes(requests: dict[str, dict]) -> None:
    # Anthropic shape: cache_read_input_tokens / cache_creation_input_tokens
    assert (requests["a1-1"]["cached_input_tokens"], requests["a1-1"]["cache_write_tokens"]) == (4000, 1000)
    assert (requests["a2-1"]["cached_input_tokens"], requests["a2-1"]["cache_write_tokens"]) == (0, 10000)
    # usage present without cache fields -> 0; no usage object (failures, u-1) -> NULL
    assert (requests["a1-3"]["cached_input_tokens"], requests["a1-3"]["cache_write_tokens"]) == (0, 0)
    assert (requests["a1-4"]["cached_input_tokens"], requests["a1-4"]["cache_write_tokens"]) == (None, None)
    assert requests["u-1"]["cached_input_tokens"] is None
    # OpenAI shape: prompt_tokens_details.cached_tokens
    assert (requests["b1-1"]["cached_input_tokens"], requests["b1-1"]["cache_write_tokens"]) == (5000, 0)
    assert requests["b2-4"]["cached_input_tokens"] == 4000


def test_costs_recomputed_from_the_price_seed(requests: dict[str, dict]) -> None:
    expected = {
        # Opus: 5000 uncached x 5 + 4000 read x 0.5 + 1000 write x 6.25 + 500 out x 25 (per 1M)
        "a1-1": 0.025 + 0.002 + 0.00625 + 0.0125,  # 0.04575
        # Opus: 4000 x 5 + 16000 x 0.5 + 1000 x 25
        "a1-2": 0.02 + 0.008 + 0.025,  # 0.053
        # Sonnet (background): 1000 x 3 + 100 x 15
        "a1-3": 0.003 + 0.0015,  # 0.0045
        "a1-4": 0.0,  # failure, 0 tokens
        # Opus: 10000 written x 6.25 + 2000 out x 25
        "a2-1": 0.0625 + 0.05,  # 0.1125
        # Opus: 2000 x 5 + 10000 x 0.5 + 1000 x 25 = 0.04 (LiteLLM said 0.05)
        "a2-2": 0.01 + 0.005 + 0.025,
        # Kimi (2026-06-01 price): 5000 x 0.6 + 5000 x 0.1 + 1000 x 3.0
        "b1-1": 0.003 + 0.0005 + 0.003,  # 0.0065
        # Kimi: 4000 x 0.6 + 500 x 3.0 (4000 cached: 4000 x 0.1 + 500 x 3.0)
        "b2-1": 0.0024 + 0.0015,
        "b2-4": 0.0004 + 0.0015,
        # GPT-5.4: 100 x 2.5 + 10 x 15 (LiteLLM said 0.0002)
        "u-1": 0.00025 + 0.00015,
    }
    for rid, cost in expected.items():
        assert requests[rid]["cost_usd"] == approx(cost, abs=1e-12), rid
    assert requests["u-2"]["cost_usd"] is None  # "mystery-model" has no price: unknown, not 0
    assert requests["a2-2"]["litellm_cost_usd"] == approx(0.05)
    mismatched = sorted(rid for rid, r in requests.items() if r["cost_mismatch"])
    assert mismatched == ["a2-2", "u-1"]  # u-2: cost unknown -> no mismatch claimed


def test_status_errors_and_proxy_fields(requests: dict[str, dict]) -> None:
    assert (requests["a1-4"]["status"], requests["a1-4"]["error_class"], requests["a1-4"]["error_code"]) == (
        "failure",
        "RateLimitError",
        "429",
    )
    # status column NULL + error_information present -> failure
    assert (requests["a3-2"]["status"], requests["a3-2"]["error_class"], requests["a3-2"]["error_code"]) == (
        "failure",
        "APIConnectionError",
        "500",
    )
    failures = sorted(rid for rid, r in requests.items() if r["status"] == "failure")
    assert failures == ["a1-4", "a3-2", "a3-3", "b2-3"]
    assert requests["a1-4"]["retries"] == 1 and requests["a1-1"]["retries"] == 0
    assert requests["a1-1"]["litellm_overhead_ms"] == 12.5
    assert requests["a1-2"]["litellm_call_id"] == "call-a1-2"  # column NULL -> from metadata
    assert (
        requests["a1-1"]["proxy_cache_hit"],
        requests["u-1"]["proxy_cache_hit"],
        requests["u-2"]["proxy_cache_hit"],
    ) == (
        False,
        None,
        True,
    )
    assert requests["b2-5"]["is_within_session_window"] is False  # 11:40 > B2 end 11:30 + 5 min
    assert requests["b5-1"]["is_within_session_window"] is True  # B5 still active: no upper bound
    assert requests["u-1"]["is_within_session_window"] is None


# --- fct_sessions ------------------------------------------------------------------------------


def test_session_counts_and_inclusion(sessions: dict[str, dict]) -> None:
    expected = {  # code: (requests, successes, failures, error_rate, included, exclusion_reason)
        "A1": (4, 3, 1, 0.25, True, None),
        "A2": (3, 3, 0, 0.0, True, None),
        "A3": (3, 1, 2, 2 / 3, True, None),  # status failed is finalized: included
        "A4": (1, 1, 0, 0.0, False, "aborted"),
        "B1": (3, 3, 0, 0.0, True, None),  # b1-2 counted through the alias
        "B2": (5, 4, 1, 0.2, True, None),
        "B3": (3, 3, 0, 0.0, True, None),
        "B4": (1, 1, 0, 0.0, False, "invalid"),
        "B5": (1, 1, 0, 0.0, False, "active"),
    }
    for code, (n, ok, failed, rate, included, reason) in expected.items():
        s = sessions[code]
        got = (
            s["request_count"],
            s["success_count"],
            s["failure_count"],
            s["is_included"],
            s["exclusion_reason"],
        )
        assert got == (n, ok, failed, included, reason), code
        assert s["error_rate"] == approx(rate), code


def test_session_latency_and_ttft_percentiles(sessions: dict[str, dict]) -> None:
    expected = {  # successful latencies / TTFTs -> p50, p90, p95, p99 (percentile_cont)
        # A1 latency 1000, 2000, 3000: p90 rank 1.8 -> 2000 + 0.8 x 1000. TTFT 400, 600 (a1-3 not streamed)
        "A1": ((2000, 2800, 2900, 2980), (500, 580, 590, 598)),
        # A2 latency 2000, 3000, 4000. TTFT 500, 1000 (a2-3 suspect: not streamed)
        "A2": ((3000, 3800, 3900, 3980), (750, 950, 975, 995)),
        # A3 one success: 1000 / 200
        "A3": ((1000, 1000, 1000, 1000), (200, 200, 200, 200)),
        # B2 latency 1000, 1000, 2000, 3000 (b2-3 failed): p50 rank 1.5 -> 1500; p90 rank 2.7 -> 2700
        # TTFT 100, 200, 300, 500: p50 250; p90 rank 2.7 -> 300 + 0.7 x 200 = 440
        "B2": ((1500, 2700, 2850, 2970), (250, 440, 470, 494)),
        # B3 latency 2000, 4000, 6000; TTFT 400, 800, 1200
        "B3": ((4000, 5600, 5800, 5960), (800, 1120, 1160, 1192)),
    }
    for code, (latency, ttft) in expected.items():
        s = sessions[code]
        assert (
            s["latency_p50_ms"],
            s["latency_p90_ms"],
            s["latency_p95_ms"],
            s["latency_p99_ms"],
        ) == latency, code
        assert (s["ttft_p50_ms"], s["ttft_p90_ms"], s["ttft_p95_ms"], s["ttft_p99_ms"]) == ttft, code


def test_session_tokens_costs_and_durations(sessions: dict[str, dict]) -> None:
    a1 = sessions["A1"]
    assert (a1["input_tokens"], a1["output_tokens"], a1["total_tokens"]) == (31000, 1600, 32600)
    assert (a1["cached_input_tokens"], a1["cache_write_tokens"]) == (20000, 1000)
    # cache ratio over the requests that report cache tokens: 20000 / (10000 + 20000 + 1000)
    assert a1["cache_read_ratio"] == approx(20000 / 31000)
    assert a1["cost_usd"] == approx(0.04575 + 0.053 + 0.0045)  # 0.10325
    assert sessions["A2"]["cost_usd"] == approx(0.16) and sessions["A2"]["litellm_cost_usd"] == approx(0.17)
    # active: first start -> last end. A1 10:01:00 -> a1-4 ends 10:04:00.5; B2 11:01:00 -> b2-5 ends 11:40:01
    assert a1["active_duration_s"] == 180.5
    assert sessions["B2"]["active_duration_s"] == 2341
    assert a1["wall_duration_s"] == 1800 and sessions["B5"]["wall_duration_s"] is None
    assert sessions["B2"]["requests_outside_window"] == 1 and a1["requests_outside_window"] == 0
    # median output tokens/s: A1 312.5 and 416.67 -> 364.58; B2 125, 200, 294.12, 555.56 -> 247.06
    assert a1["output_tokens_per_s_p50"] == approx((500 / 1.6 + 1000 / 2.4) / 2)
    assert sessions["B2"]["output_tokens_per_s_p50"] == approx((500 / 2.5 + 500 / 1.7) / 2)


def test_session_lifecycle_columns_from_the_registry(sessions: dict[str, dict]) -> None:
    a1 = sessions["A1"]
    assert (a1["status"], a1["outcome"], a1["task_card"], a1["harness"], a1["model_alias"]) == (
        "completed",
        "valid",
        "fx-task",
        "claude-code",
        "claude-opus-4-6",
    )
    assert a1["background_model_alias"] == "claude-sonnet-4-6"
    assert a1["key_alias"] == fx.SESSION_BY_CODE["A1"].key_alias
    assert (a1["git_branch"], a1["git_commit"], a1["git_dirty"]) == ("main", "abc123", False)
    assert a1["variant_fingerprint"] == "fp-fx-opus"


def test_prometheus_cross_check(sessions: dict[str, dict], query: Callable[..., list[dict]]) -> None:
    # A1 counter 1, 3, 4 -> 4 = its 4 spend-log rows. B2 2, 3, restart, 1 -> 3 + 1 = 4 vs 5 rows.
    assert (sessions["A1"]["prometheus_request_count"], sessions["A1"]["prometheus_request_drift"]) == (4, 0)
    assert (sessions["B2"]["prometheus_request_count"], sessions["B2"]["prometheus_request_drift"]) == (4, 1)
    assert (sessions["A2"]["prometheus_request_count"], sessions["A2"]["prometheus_request_drift"]) == (
        None,
        None,
    )
    rows = by_key(query("select * from marts.fct_request_count_reconciliation"), "key_alias")
    b2 = rows[fx.SESSION_BY_CODE["B2"].key_alias]
    assert (b2["drift"], b2["tolerance"], b2["within_tolerance"]) == (1, 2, True)  # max(2, 5% of 5)
    assert rows[fx.SESSION_BY_CODE["A2"].key_alias]["within_tolerance"] is None
    hourly = query(
        "select hour_start, key_alias, sample_count, value_last from marts.fct_prometheus_hourly order by hour_start"
    )
    assert [(h["key_alias"], h["sample_count"], h["value_last"]) for h in hourly] == [
        (fx.SESSION_BY_CODE["A1"].key_alias, 3, 4.0),
        (fx.SESSION_BY_CODE["B2"].key_alias, 3, 1.0),
    ]


# --- fct_variant_summary -----------------------------------------------------------------------


def test_variant_summary_counts_and_pooled_percentiles(summary: dict[str, dict]) -> None:
    a, b = summary["fx-opus"], summary["fx-kimi"]
    assert (a["is_baseline"], a["variant_position"], a["n_sessions"], a["n_excluded"]) == (True, 0, 3, 1)
    assert (b["is_baseline"], b["variant_position"], b["n_sessions"], b["n_excluded"]) == (False, 1, 3, 2)
    # fx-opus successful latencies of A1-A3: 1000, 1000, 2000, 2000, 3000, 3000, 4000
    #   p50 rank 3 -> 2000; p95 rank 5.7 -> 3000 + 0.7 x 1000 = 3700. TTFT 200, 400, 500, 600, 1000 -> 500; 920
    assert (a["pooled_latency_p50_ms"], a["pooled_latency_p95_ms"]) == (2000, 3700)
    assert (a["pooled_ttft_p50_ms"], a["pooled_ttft_p95_ms"]) == (500, 920)
    # fx-kimi: 1000, 1000, 1500, 2000, 2000, 2500, 3000, 3500, 4000, 6000 -> rank 4.5: 2250; rank 8.55:
    #   4000 + 0.55 x 2000 = 5100. TTFT 100, 200, 300, 300, 400, 500, 500, 700, 800, 1200 -> 450; 1020
    assert (b["pooled_latency_p50_ms"], b["pooled_latency_p95_ms"]) == (2250, 5100)
    assert (b["pooled_ttft_p50_ms"], b["pooled_ttft_p95_ms"]) == (450, 1020)


def test_variant_summary_error_rate_with_wilson_interval(summary: dict[str, dict]) -> None:
    a, b = summary["fx-opus"], summary["fx-kimi"]
    # fx-opus: 4 + 3 + 3 requests, 1 + 0 + 2 failures. Wilson, z = 1.959964, p = 0.3, n = 10:
    #   centre (0.3 + z^2/20) / (1 + z^2/10) = 0.355513; half-width z sqrt(0.021 + z^2/400) / 1.384146 = 0.247722
    assert (a["request_count"], a["failure_count"], a["error_rate"]) == (10, 3, 0.3)
    assert (a["error_rate_ci_low"], a["error_rate_ci_high"]) == (
        approx(0.107791, abs=1e-6),
        approx(0.603222, abs=1e-6),
    )
    # fx-kimi: 3 + 5 + 3 requests, 1 failure: p = 1/11 -> (0.016232, 0.377358)
    assert (b["request_count"], b["failure_count"], b["error_rate"]) == (11, 1, approx(1 / 11))
    assert (b["error_rate_ci_low"], b["error_rate_ci_high"]) == (
        approx(0.016232, abs=1e-6),
        approx(0.377358, abs=1e-6),
    )


def test_variant_summary_session_metric_distributions(summary: dict[str, dict]) -> None:
    a, b = summary["fx-opus"], summary["fx-kimi"]
    # session ttft_p50_ms: A 500, 750, 200 -> median 500, mean 1450/3, sample stddev sqrt(151666.67 / 2)
    assert (a["ttft_p50_ms_n"], a["ttft_p50_ms_median"], a["ttft_p50_ms_min"], a["ttft_p50_ms_max"]) == (
        3,
        500,
        200,
        750,
    )
    assert a["ttft_p50_ms_mean"] == approx(1450 / 3)
    assert a["ttft_p50_ms_stddev"] == approx((151666.6666667 / 2) ** 0.5)
    assert a["ttft_p50_ms_cv"] == approx((151666.6666667 / 2) ** 0.5 / (1450 / 3))
    # latency_p95_ms: A 2900, 3900, 1000; B 3400, 2850, 5800
    assert (a["latency_p95_ms_median"], a["latency_p95_ms_mean"]) == (2900, 2600)
    assert (b["latency_p95_ms_median"], b["latency_p95_ms_mean"]) == (3400, approx(12050 / 3))
    # error rate: A 0.25, 0, 2/3; B 0, 0.2, 0
    assert (a["error_rate_median"], a["error_rate_mean"]) == (0.25, approx((0.25 + 2 / 3) / 3))
    assert (b["error_rate_median"], b["error_rate_mean"], b["error_rate_max"]) == (0, approx(0.2 / 3), 0.2)
    # cost: A 0.10325, 0.16, 0.03; B 0.0295, 0.0096, 0.0216
    assert (a["cost_usd_median"], a["cost_usd_mean"]) == (approx(0.10325), approx(0.29325 / 3))
    assert (b["cost_usd_median"], b["cost_usd_mean"]) == (approx(0.0216), approx(0.0607 / 3))
    assert a["cost_usd_per_session"] == approx(0.29325 / 3)
    # total tokens: A 32600, 26100, 5200; B 44000, 14600, 26400
    assert (a["total_tokens_median"], a["total_tokens_mean"], a["total_tokens_per_session"]) == (
        26100,
        21300,
        21300,
    )
    assert (b["total_tokens_median"], b["total_tokens_min"], b["total_tokens_max"]) == (26400, 14600, 44000)
    # active duration: A 180.5, 123, 150; B 123.5, 2341, 126
    assert (a["active_duration_s_median"], b["active_duration_s_median"]) == (150, 126)
    assert b["active_duration_s_mean"] == approx(863.5)
    # median output tokens/s: A 364.58, 666.67, 250 -> 364.58; B 833.33, 247.06, 250 -> 250
    assert a["output_tokens_per_s_p50_median"] == approx((500 / 1.6 + 1000 / 2.4) / 2)
    assert b["output_tokens_per_s_p50_median"] == approx(250)


# --- dimensions, freshness ---------------------------------------------------------------------


def test_dimensions(query: Callable[..., list[dict]]) -> None:
    assert query("select * from marts.dim_experiments") == [
        {
            "experiment": "fx-exp",
            "description": "fixture comparison",
            "baseline_variant": "fx-opus",
            "variant_count": 2,
        }
    ]
    variants = by_key(query("select * from marts.dim_variants"), "variant")
    assert variants["fx-opus"]["background_model_alias"] == "claude-sonnet-4-6"
    assert variants["fx-kimi"]["tags"] == {"harness": "opencode"}
    task = query("select * from marts.dim_task_cards")
    assert task == [
        {
            "task_card": "fx-task",
            "goal": "find the auth bug",
            "stop_condition": "tests pass",
            "timebox_minutes": 30,
            "repo_path": "/srv/repo",
        }
    ]


def test_pipeline_freshness(query: Callable[..., list[dict]]) -> None:
    rows = query("select * from marts.fct_pipeline_freshness order by hour_start")
    got = [(r["hour_start"].hour, r["landed_requests"], r["rejected_rows"]) for r in rows]
    # landed by hour of _ingested_at (end + lag): 10h a1-*, b1-*, u-1, u-2; 11h a2-*, b2-*; ...
    assert got == [(10, 9, 2), (11, 8, 0), (12, 6, 1), (13, 2, 0), (14, 1, 0)]
    # hour 10 lags: eight rows at 30 s, a1-4 at 90 s -> p50 30, p95 rank 7.6 -> 30 + 0.6 x 60 = 66, max 90
    assert (rows[0]["arrival_lag_p50_s"], rows[0]["arrival_lag_p95_s"], rows[0]["arrival_lag_max_s"]) == (
        30,
        66,
        90,
    )


def test_no_prompt_or_key_material_reaches_the_marts(query: Callable[..., list[dict]]) -> None:
    columns = query(
        "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
    )
    names = {c["column_name"] for c in columns}
    assert not names & {
        "key_hash",
        "api_key",
        "api_key_hash",
        "payload",
        "messages",
        "response",
        "starting_prompt",
    }
