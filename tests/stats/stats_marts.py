"""Marts shaped like the contract (marts_contract.md), with session values chosen so that every
number the comparison produces can be worked out by hand (see test_stats_asset.py).

Until the dbt models exist these tests build ``marts.fct_sessions`` / ``marts.dim_experiments`` /
``marts.fct_requests`` themselves, with the contract's column names (a subset) and types.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

N = None  # an unknowable value

# experiment, variant, status, outcome, label, exclusion, metric values in COMPARED_METRICS order:
# (ttft_p50_ms, latency_p95_ms, output_tokens_per_s_p50, error_rate, cost_usd, total_tokens, active_duration_s)
SESSIONS: list[tuple[Any, ...]] = [
    # exp-a, baseline "base": 5 included sessions + 1 aborted (extreme values must not count)
    ("exp-a", "base", "completed", "valid", "demo", (820, 2000, 50, 0, 0.10, 1000, N)),
    ("exp-a", "base", "completed", "valid", "demo", (905, 2100, 52, 0, 0.12, 1000, N)),
    ("exp-a", "base", "completed", None, "demo", (760, 2200, 54, 0, 0.14, 1000, N)),
    ("exp-a", "base", "failed", "valid", "demo", (1010, 2300, 56, 0, 0.16, 1000, N)),
    ("exp-a", "base", "completed", "valid", "demo", (880, 2400, 58, 0, 0.18, 1000, N)),
    ("exp-a", "base", "aborted", None, "demo", (99999, 99999, 1, 1, 99.0, 1, 1)),
    # exp-a, variant "fast": 5 included (one cost unknown) + 1 active + 1 invalid
    ("exp-a", "fast", "completed", "valid", "demo", (640, 2000, 70, 0, 0.11, 1000, N)),
    ("exp-a", "fast", "completed", "valid", "demo", (700, 2100, 72, 0, 0.13, 1000, N)),
    ("exp-a", "fast", "completed", "valid", "demo", (615, 2200, 74, 0, N, 1000, N)),
    ("exp-a", "fast", "completed", "valid", "demo", (720, 2300, 76, 0, 0.15, 1000, N)),
    ("exp-a", "fast", "completed", "valid", "demo", (690, 2400, 78, 0, 0.17, 1000, N)),
    ("exp-a", "fast", "active", None, "demo", (1, 1, 999, 0, 0.0, 1, 1)),
    ("exp-a", "fast", "completed", "invalid", "demo", (1, 1, 999, 0, 0.0, 1, 1)),
    # exp-a, variant "tiny": only 2 sessions
    ("exp-a", "tiny", "completed", "valid", "demo", (600, 2000, 60, 0, 0.10, 1000, N)),
    ("exp-a", "tiny", "completed", "valid", "demo", (610, 2100, 62, 0, 0.10, 1000, N)),
    # exp-b: not in dim_experiments -> skipped
    ("exp-b", "x", "completed", "valid", None, (1, 1, 1, 0, 0.1, 1, 1)),
    ("exp-b", "y", "completed", "valid", None, (1, 1, 1, 0, 0.1, 1, 1)),
    # exp-c: only baseline sessions -> nothing to compare
    ("exp-c", "only", "completed", "valid", None, (1, 1, 1, 0, 0.1, 1, 1)),
    # exp-d: the baseline "ghost" has no sessions at all
    ("exp-d", "solo", "completed", "valid", None, (500, 900, 40, 0.25, 0.2, 800, 60)),
    ("exp-d", "solo", "completed", "valid", "demo", (510, 910, 41, 0.5, 0.3, 900, 70)),
    ("exp-d", "solo", "completed", "valid", None, (520, 920, 42, 0.0, 0.4, 1000, 80)),
]
DIM_EXPERIMENTS = [("exp-a", "base", 3), ("exp-c", "only", 1), ("exp-d", "ghost", 2)]

FCT_SESSIONS_DDL = """
create schema if not exists marts;
create table marts.fct_sessions (
    session_id uuid primary key,
    experiment text not null,
    variant text not null,
    status text not null,
    outcome text,
    label text,
    operator text,
    started_at timestamptz not null,
    ended_at timestamptz,
    key_alias text not null,
    is_included boolean not null,
    exclusion_reason text,
    request_count bigint not null default 0,
    ttft_p50_ms double precision,
    latency_p95_ms double precision,
    output_tokens_per_s_p50 double precision,
    error_rate numeric,
    cost_usd numeric,
    total_tokens bigint,
    active_duration_s double precision
);
create table marts.dim_experiments (
    experiment text primary key,
    description text not null,
    baseline_variant text not null,
    variant_count integer not null
);
"""

FCT_REQUESTS_DDL = """
create table marts.fct_requests (
    request_id text primary key,
    session_id uuid,
    attribution text not null,
    experiment text,
    variant text,
    key_alias text,
    key_hash text,               -- not in the contract: here to prove export never writes it
    started_at timestamptz not null,
    latency_ms double precision,
    ttft_ms double precision,
    is_streamed boolean not null,
    input_tokens bigint,
    cost_usd numeric,
    status text not null,
    error_code text,
    tags text[]
);
"""

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
REQUEST_SESSION = uuid.UUID("00000000-0000-4000-8000-000000000001")
# request_id, session_id, attribution, experiment, variant, started_at, latency_ms, ttft_ms, streamed,
# input_tokens, cost_usd, status, error_code, tags
REQUESTS: list[tuple[Any, ...]] = [
    ("req-1", REQUEST_SESSION, "key_hash", "exp-a", "fast", T0, 1234.5, 200.0, True, 100, "0.000125", "success", None, ["a", "b"]),
    ("req-2", REQUEST_SESSION, "key_hash", "exp-a", "fast", T0 + timedelta(seconds=1), 800.0, None, False, 0, "0", "failure", "429", None),
    ("req-3", None, "unattributed", None, None, T0 + timedelta(seconds=2), 50.0, None, False, None, None, "success", None, None),
    ("req-4", uuid.UUID("00000000-0000-4000-8000-000000000002"), "key_alias", "exp-d", "solo", T0 + timedelta(seconds=3), 10.0, 5.0, True, 7, "1.5", "success", None, []),
]  # fmt: skip


def _status_columns(status: str, outcome: str | None) -> tuple[bool, str | None]:
    included = status in ("completed", "failed") and outcome != "invalid"
    if included:
        return True, None
    return False, {"active": "active", "aborted": "aborted"}.get(status, "invalid")


def build_session_marts(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(FCT_SESSIONS_DDL)
        for i, (experiment, variant, status, outcome, label, values) in enumerate(SESSIONS):
            included, reason = _status_columns(status, outcome)
            conn.execute(
                "insert into marts.fct_sessions (session_id, experiment, variant, status, outcome, label,"
                " started_at, ended_at, key_alias, is_included, exclusion_reason, ttft_p50_ms, latency_p95_ms,"
                " output_tokens_per_s_p50, error_rate, cost_usd, total_tokens, active_duration_s)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    uuid.UUID(int=i + 1, version=4),
                    experiment,
                    variant,
                    status,
                    outcome,
                    label,
                    T0 + timedelta(minutes=i),
                    None if status == "active" else T0 + timedelta(minutes=i, seconds=30),
                    f"hb-session-{i}",
                    included,
                    reason,
                    *values,
                ),
            )
        conn.cursor().executemany(
            "insert into marts.dim_experiments values (%s, 'test', %s, %s)",
            DIM_EXPERIMENTS,
        )


def build_request_mart(url: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute(FCT_REQUESTS_DDL)
        conn.cursor().executemany(
            "insert into marts.fct_requests (request_id, session_id, attribution, experiment, variant,"
            " started_at, latency_ms, ttft_ms, is_streamed, input_tokens, cost_usd, status, error_code, tags,"
            " key_alias, key_hash)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'hb-alias', repeat('a', 64))",
            REQUESTS,
        )


def comparison_rows(url: str) -> dict[tuple[str, str, str], dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("select * from marts.fct_variant_comparison").fetchall()
    return {(r["experiment"], r["variant"], r["metric"]): r for r in rows}
