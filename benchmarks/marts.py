"""dbt marts at scale: full builds at 1M and 5M spend-log rows, then +10k new requests on each.

    uv run python benchmarks/marts.py [--sizes 1000000 5000000] [--increment 10000] [--server URL] [--keep]

For each size, in a scratch database on the server (BENCHMARK_TEST_DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres):

1. Registry and raw rows are generated in SQL (not timed): sessions of 500 requests, 10 sessions per
   variant, 3 variants per experiment (15k requests per experiment; more data = more experiments,
   as a benchmark accumulates them), 1% unattributed rows, 3% failures, payloads in LiteLLM's shape
   (~1.6 kB of metadata jsonb), `_ingested_at` 30 s after each request ended (historical landing).
2. `dbt seed` + `dbt run` (full build, timed per model from run_results.json).
3. `--increment` new requests land (20 new sessions of a new experiment, ingested now) and a plain
   `dbt run` updates every model incrementally (timed per model).

The fixed dbt start-up (parse, connect; an invocation that selects nothing) is reported separately
and excluded from the model times. Target: the +10k incremental model time at 5M is at most 1.5x the
one at 1M (cost grows with new rows, not total rows), while the full build grows with size.
Needs about 3 GB of free disk per million rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from benchmark_pipeline.defs.dbt.env import dbt_env_for_url  # noqa: E402
from session_cli.registry.migrate import upgrade_to_head  # noqa: E402

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DBT = str(Path(sys.executable).with_name("dbt"))
RAW_SQL = [
    REPO_ROOT / "benchmark_pipeline/defs/litellm/sql/raw_tables.sql",
    REPO_ROOT / "benchmark_pipeline/defs/prometheus/sql/raw_tables.sql",
]
REQUESTS_PER_SESSION = 500
SESSIONS_PER_VARIANT = 10
VARIANTS_PER_EXPERIMENT = 3
SESSIONS_PER_EXPERIMENT = SESSIONS_PER_VARIANT * VARIANTS_PER_EXPERIMENT
MODELS = ["kimi-k2-5", "glm-5", "claude-sonnet-4-6"]

# Registry rows for sessions [first, last): session s belongs to experiment s / 30, variant s / 10.
SESSIONS_SQL = """
insert into registry.sessions (session_id, experiment, variant, task_card, harness, provider, model_alias,
    background_model_alias, status, outcome, operator, started_at, ended_at, litellm_base_url, key_backend,
    key_alias, key_hash, config_fingerprints)
select
    md5('bench-session-' || s)::uuid,
    'exp-' || (s / {spe}),
    'var-' || (s / {spv}),
    'task',
    'opencode',
    'fireworks',
    (array{models})[1 + (s / {spv}) % 3],
    null,
    case when s % 17 = 0 then 'aborted' else 'completed' end,
    case when s % 23 = 0 then 'invalid' else 'valid' end,
    'bench',
    timestamptz '2025-01-01 00:00+00' + s * interval '1 hour',
    timestamptz '2025-01-01 00:00+00' + s * interval '1 hour' + interval '50 minutes',
    'http://127.0.0.1:4000',
    'local',
    'hb-' || md5('bench-session-' || s)::uuid,
    encode(sha256(('bench-key-' || s)::bytea), 'hex'),
    jsonb_build_object('variant', 'fp-var-' || (s / {spv}))
from generate_series(%(first)s::bigint, %(last)s::bigint - 1) as s
"""

CONFIGS_SQL = """
insert into registry.variants (name, provider, model_alias, harness, source_path, fingerprint, spec)
select 'var-' || v, 'fireworks', (array{models})[1 + v % 3], 'opencode', 'bench', 'fp-var-' || v, '{{}}'
from generate_series(%(first)s::bigint, %(last)s::bigint - 1) as v
on conflict do nothing;
insert into registry.experiments (name, description, baseline_variant, source_path, fingerprint, spec)
select 'exp-' || e, 'bench', 'var-' || (e * 3), 'bench', 'fp-exp-' || e, '{{}}'
from generate_series(%(first)s::bigint / 3, (%(last)s::bigint - 1) / 3) as e
on conflict do nothing;
insert into registry.experiment_variants (experiment, variant, position, is_baseline)
select 'exp-' || (v / 3), 'var-' || v, v % 3, v % 3 = 0
from generate_series(%(first)s::bigint, %(last)s::bigint - 1) as v
on conflict do nothing;
"""

# Raw rows [first, last): request i belongs to session i / 500 (1% get a stranger's key).
REQUESTS_SQL = """
insert into raw.litellm_spend_logs (request_id, start_time, end_time, completion_start_time, api_key, key_alias,
    model_group, model, custom_llm_provider, call_type, status, spend, prompt_tokens, completion_tokens,
    total_tokens, session_id, litellm_call_id, payload, _partition_key, _source, _ingested_at)
select
    r.request_id, r.start_time, r.end_time, r.completion_start_time, r.api_key, r.key_alias, r.model_group,
    'accounts/fireworks/models/' || r.model_group, 'fireworks_ai', 'acompletion',
    case when r.failed then 'failure' else 'success' end,
    case when r.failed then 0 else r.prompt_tokens * 0.0000006 + r.completion_tokens * 0.000003 end,
    r.prompt_tokens, r.completion_tokens, r.prompt_tokens + r.completion_tokens,
    'litellm-' || r.request_id, 'call-' || r.request_id,
    jsonb_build_object(
        'request_id', r.request_id, 'call_type', 'acompletion', 'api_key', r.api_key,
        'startTime', r.start_time, 'endTime', r.end_time, 'completionStartTime', r.completion_start_time,
        'model_group', r.model_group, 'cache_hit', 'False', 'cache_key', 'Cache OFF',
        'api_base', 'https://api.fireworks.ai/inference/v1', 'request_tags', '["harness-bench"]'::jsonb,
        'metadata', jsonb_build_object(
            'user_api_key', r.api_key, 'user_api_key_alias', r.key_alias, 'user_api_key_team_id', null,
            'user_api_key_user_id', 'default_user_id', 'user_api_key_org_id', null,
            'spend_logs_metadata', jsonb_build_object('experiment', 'exp', 'variant', 'var'),
            'requester_ip_address', '127.0.0.1', 'user_agent', 'opencode/1.18.33 ai-sdk/openai-compatible',
            'applied_guardrails', '[]'::jsonb, 'status', case when r.failed then 'failure' else 'success' end,
            'litellm_overhead_time_ms', 8 + r.h % 20, 'attempted_retries', case when r.failed then 1 else 0 end,
            'max_retries', 2, 'litellm_call_id', 'call-' || r.request_id,
            'usage_object', case when r.failed then null else jsonb_build_object(
                'prompt_tokens', r.prompt_tokens, 'completion_tokens', r.completion_tokens,
                'total_tokens', r.prompt_tokens + r.completion_tokens,
                'prompt_tokens_details', jsonb_build_object('cached_tokens', r.cached, 'audio_tokens', null),
                'completion_tokens_details', jsonb_build_object('reasoning_tokens', 0, 'audio_tokens', null)) end,
            'error_information', case when r.failed then jsonb_build_object(
                'error_class', 'RateLimitError', 'error_code', '429', 'llm_provider', 'fireworks_ai',
                'error_message', 'litellm.RateLimitError: rate limited, retry after 2 s') end,
            'model_map_information', jsonb_build_object('model_map_key', r.model_group, 'model_map_value',
                jsonb_build_object('max_tokens', 32768, 'max_input_tokens', 262144,
                    'input_cost_per_token', 0.0000006, 'output_cost_per_token', 0.000003,
                    'litellm_provider', 'fireworks_ai', 'mode', 'chat', 'supports_function_calling', true,
                    'supports_tool_choice', true, 'supports_reasoning', true)),
            'cost_breakdown', jsonb_build_object('input_cost', r.prompt_tokens * 0.0000006,
                'output_cost', r.completion_tokens * 0.000003, 'total_cost',
                r.prompt_tokens * 0.0000006 + r.completion_tokens * 0.000003, 'tool_usage_cost', 0),
            'hidden_params', jsonb_build_object('model_id', md5(r.model_group), 'api_base',
                'https://api.fireworks.ai/inference/v1', 'response_cost', 0.001,
                'additional_headers', jsonb_build_object('llm_provider-x-request-id', md5(r.request_id))))),
    to_char(date_trunc('hour', r.start_time, 'UTC') at time zone 'UTC', 'YYYY-MM-DD-HH24:00'),
    'litellm_db',
    coalesce(%(ingested_at)s::timestamptz, r.end_time + interval '30 seconds')
from (
    select
        g.request_id, g.h, g.failed, g.start_time, g.start_time + g.latency as end_time,
        case when g.failed then null else g.start_time + g.latency * 0.2 end as completion_start_time,
        case when g.i % 100 = 99 then encode(sha256(('stranger-' || g.i)::bytea), 'hex')
             else encode(sha256(('bench-key-' || g.s)::bytea), 'hex') end as api_key,
        case when g.i % 100 = 99 then null else 'hb-' || md5('bench-session-' || g.s)::uuid end as key_alias,
        (array{models})[1 + (g.s / {spv}) % 3] as model_group,
        case when g.failed then 0 else 2000 + g.h % 60000 end as prompt_tokens,
        case when g.failed then 0 else 50 + g.h % 2000 end as completion_tokens,
        case when g.failed then 0 else (2000 + g.h % 60000) / 2 end as cached
    from (
        select
            i, i / {rps} as s, 'req-' || i as request_id, abs(hashtext(i::text)) as h,
            abs(hashtext(i::text)) % 100 < 3 as failed,
            timestamptz '2025-01-01 00:00+00' + (i / {rps}) * interval '1 hour'
                + (i % {rps}) * interval '5 seconds' as start_time,
            (500 + abs(hashtext(i::text)) % 20000) * interval '1 millisecond' as latency
        from generate_series(%(first)s::bigint, %(last)s::bigint - 1) as i
    ) as g
) as r
"""


def _fmt(template: str) -> str:
    models = "[" + ", ".join(f"'{m}'" for m in MODELS) + "]"
    filled = template.format(
        spe=SESSIONS_PER_EXPERIMENT, spv=SESSIONS_PER_VARIANT, rps=REQUESTS_PER_SESSION, models=models
    )
    return filled.replace(" % ", " %% ")  # modulo, not a psycopg placeholder


def server_url(explicit: str | None) -> str:
    return (
        explicit
        or os.environ.get("BENCHMARK_TEST_DATABASE_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def generate(url: str, first_request: int, last_request: int, *, ingested_now: bool) -> None:
    """Registry sessions/configs and raw rows for requests [first_request, last_request)."""
    first_session = first_request // REQUESTS_PER_SESSION
    last_session = -(-last_request // REQUESTS_PER_SESSION)
    first_variant, last_variant = (
        first_session // SESSIONS_PER_VARIANT,
        -(-last_session // SESSIONS_PER_VARIANT),
    )
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in _fmt(CONFIGS_SQL).split(";"):
            if statement.strip():
                conn.execute(statement, {"first": first_variant, "last": last_variant})
        conn.execute(_fmt(SESSIONS_SQL), {"first": first_session, "last": last_session})
        step = 250_000
        for start in range(first_request, last_request, step):
            conn.execute(
                _fmt(REQUESTS_SQL),
                {
                    "first": start,
                    "last": min(start + step, last_request),
                    "ingested_at": "now" if ingested_now else None,
                },
            )
        conn.execute("vacuum analyze raw.litellm_spend_logs")
        conn.execute("analyze registry.sessions")


def run_dbt(url: str, target: Path, *args: str) -> tuple[float, dict[str, float]]:
    """Wall seconds of one dbt invocation and the execution seconds of each model it ran."""
    env = {
        **os.environ,
        **dbt_env_for_url(url),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(target),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [DBT, *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"dbt {' '.join(args)} failed:\n" + "\n".join(proc.stdout.splitlines()[-30:]))
    results = json.loads((target / "run_results.json").read_text())["results"]
    return wall, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def report(label: str, wall: float, models: dict[str, float], startup: float) -> float:
    total = sum(models.values())
    print(f"  {label}: {total:7.2f} s in models, {wall:7.2f} s wall (dbt start-up {startup:.2f} s)")
    for name, seconds in sorted(models.items(), key=lambda kv: -kv[1]):
        if seconds >= 0.005:
            print(f"      {name:42s} {seconds:7.2f} s")
    return total


def bench_size(server: str, rows: int, increment: int, keep: bool) -> dict[str, float]:
    name = f"hb_bench_marts_{rows}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = with_db(server, name)
    target = Path(tempfile.mkdtemp(prefix="hb-bench-dbt-"))
    try:
        upgrade_to_head(url)
        with psycopg.connect(url, autocommit=True) as conn:
            for path in RAW_SQL:
                conn.execute(path.read_text())
        print(f"\n== {rows:,} requests ({rows // REQUESTS_PER_SESSION:,} sessions) ==")
        start = time.perf_counter()
        generate(url, 0, rows, ingested_now=False)
        with psycopg.connect(url) as conn:
            size = conn.execute(
                "select pg_size_pretty(pg_total_relation_size('raw.litellm_spend_logs'))"
            ).fetchone()[0]
        print(f"  generated in {time.perf_counter() - start:.0f} s (raw table {size}; not timed below)")

        startup, _ = run_dbt(url, target, "run", "--select", "tag:no_such_tag")
        run_dbt(url, target, "seed")
        wall, models = run_dbt(url, target, "run")
        full = report("full build", wall, models, startup)

        first = (
            -(-rows // (REQUESTS_PER_SESSION * SESSIONS_PER_EXPERIMENT))
            * REQUESTS_PER_SESSION
            * SESSIONS_PER_EXPERIMENT
        )
        generate(url, first, first + increment, ingested_now=True)
        wall, models = run_dbt(url, target, "run")
        incremental = report(f"+{increment:,} incremental", wall, models, startup)
        with psycopg.connect(url) as conn:
            count = conn.execute("select count(*) from marts.fct_requests").fetchone()[0]
        assert count == rows + increment, f"fct_requests has {count} rows, expected {rows + increment}"
        return {"full": full, "incremental": incremental, "startup": startup}
    finally:
        shutil.rmtree(target, ignore_errors=True)
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--increment", type=int, default=10_000)
    parser.add_argument("--server")
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases")
    args = parser.parse_args()
    server = server_url(args.server)
    results = {rows: bench_size(server, rows, args.increment, args.keep) for rows in args.sizes}

    print("\n== summary (model seconds, dbt start-up excluded) ==")
    for rows, r in results.items():
        print(f"  {rows:>10,}: full {r['full']:7.2f} s, +{args.increment:,} {r['incremental']:6.2f} s")
    small, large = results[min(results)], results[max(results)]
    ratio = large["incremental"] / small["incremental"]
    verdict = "OK" if ratio <= 1.5 else "FAIL"
    print(f"  incremental {max(results):,} / {min(results):,}: {ratio:.2f}x (target <= 1.5x) {verdict}")
    print(f"  full build  {max(results):,} / {min(results):,}: {large['full'] / small['full']:.2f}x")
    sys.exit(0 if ratio <= 1.5 else 1)


if __name__ == "__main__":
    main()
