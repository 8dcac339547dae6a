"""Put the fixture telemetry into a warehouse database: registry rows, raw landing tables, raw rows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import psycopg

from benchmark_pipeline.defs.dbt.env import dbt_env_for_url
from tests.dbt import fixture_data as fx

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
RAW_SQL = [
    REPO_ROOT / "benchmark_pipeline/defs/litellm/sql/raw_tables.sql",
    REPO_ROOT / "benchmark_pipeline/defs/prometheus/sql/raw_tables.sql",
]
DBT = str(Path(sys.executable).with_name("dbt"))


class DbtFailed(AssertionError):
    pass


def run_dbt(url: str, *args: str, target_path: Path, check: bool = True) -> subprocess.CompletedProcess:
    """One dbt invocation against ``url`` with artifacts under ``target_path`` (never the project's
    own target/, which the Dagster definitions read)."""
    env = {
        **os.environ,
        **dbt_env_for_url(url),
        "DBT_TARGET_PATH": str(target_path),
        "DBT_LOG_PATH": str(target_path),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "DBT_USE_COLORS": "false",
    }
    proc = subprocess.run(
        [DBT, *args], cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-60:])
        raise DbtFailed(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n{tail}\n{proc.stderr[-2000:]}"
        )
    return proc


def create_raw_tables(conn: psycopg.Connection) -> None:
    for path in RAW_SQL:
        conn.execute(path.read_text())


def insert_registry(conn: psycopg.Connection) -> None:
    for name, v in fx.VARIANTS.items():
        conn.execute(
            "insert into registry.variants (name, provider, model_alias, background_model_alias, harness, tags,"
            " source_path, fingerprint, spec) values (%s, %s, %s, %s, %s, %s, %s, %s, '{}')",
            (
                name,
                v["provider"],
                v["model_alias"],
                v["background_model_alias"],
                v["harness"],
                json.dumps(v["tags"]),
                f"configs/variants/{name}.yaml",
                f"fp-{name}",
            ),
        )
    conn.execute(
        "insert into registry.experiments (name, description, baseline_variant, source_path, fingerprint, spec)"
        " values (%s, 'fixture comparison', %s, 'configs/experiments/fx-exp.yaml', 'fp-fx-exp', '{}')",
        (fx.EXPERIMENT, fx.VARIANT_A),
    )
    for position, name in enumerate([fx.VARIANT_A, fx.VARIANT_B]):
        conn.execute(
            "insert into registry.experiment_variants (experiment, variant, position, is_baseline)"
            " values (%s, %s, %s, %s)",
            (fx.EXPERIMENT, name, position, position == 0),
        )
    conn.execute(
        "insert into registry.task_cards (name, goal, starting_prompt, stop_condition, timebox_minutes, repo_path,"
        " source_path, fingerprint, spec) values (%s, 'find the auth bug', 'secret prompt', 'tests pass', 30,"
        " '/srv/repo', 'configs/task-cards/fx-task.yaml', 'fp-fx-task', '{}')",
        (fx.TASK_CARD,),
    )
    insert_sessions(conn, fx.SESSIONS)


def insert_sessions(conn: psycopg.Connection, sessions: Iterable[fx.Session]) -> None:
    for s in sessions:
        v = fx.VARIANTS[s.variant]
        conn.execute(
            "insert into registry.sessions (session_id, experiment, variant, task_card, harness, provider,"
            " model_alias, background_model_alias, status, outcome, operator, started_at, ended_at,"
            " git_repo_root, git_branch, git_commit, git_dirty, litellm_base_url, key_backend, key_alias,"
            " key_hash, config_fingerprints)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'tester', %s, %s, '/srv/repo', 'main', 'abc123',"
            " false, 'http://127.0.0.1:4000', 'local', %s, %s, %s)",
            (
                s.session_id,
                fx.EXPERIMENT,
                s.variant,
                fx.TASK_CARD,
                v["harness"],
                v["provider"],
                v["model_alias"],
                v["background_model_alias"],
                s.status,
                s.outcome,
                fx.at(s.started),
                fx.at(s.ended) if s.ended else None,
                s.key_alias,
                s.key_hash,
                json.dumps({"variant": f"fp-{s.variant}", "experiment": "fp-fx-exp"}),
            ),
        )


RAW_COLUMNS = [
    "request_id", "start_time", "end_time", "completion_start_time", "api_key", "key_alias", "model_group",
    "model", "custom_llm_provider", "call_type", "status", "spend", "prompt_tokens", "completion_tokens",
    "total_tokens", "session_id", "litellm_call_id", "payload", "_partition_key", "_source", "_ingested_at",
]  # fmt: skip


def insert_raw_requests(conn: psycopg.Connection, requests: Iterable[fx.Request]) -> None:
    """Upsert like the landing does (on request_id), with the fixture's own _ingested_at."""
    cols = ", ".join(RAW_COLUMNS)
    marks = ", ".join(f"%({c})s" for c in RAW_COLUMNS)
    updates = ", ".join(f"{c} = excluded.{c}" for c in RAW_COLUMNS if c != "request_id")
    for r in requests:
        conn.execute(
            f"insert into raw.litellm_spend_logs ({cols}) values ({marks})"
            f" on conflict (request_id) do update set {updates}",
            fx.raw_row(r),
        )


def insert_raw_other(conn: psycopg.Connection) -> None:
    for code, hms, value in fx.PROMETHEUS_POINTS:
        ts = fx.at(hms)
        conn.execute(
            "insert into raw.prometheus_series (query_name, labels, ts, value, step_seconds, _partition_key)"
            " values (%s, %s, %s, %s, 60, %s)",
            (
                fx.PROMETHEUS_QUERY,
                json.dumps({"api_key_alias": fx.SESSION_BY_CODE[code].key_alias}),
                ts,
                value,
                ts.strftime("%Y-%m-%d-%H:00"),
            ),
        )
    for request_id, partition_key, reason, hms in fx.REJECTED:
        conn.execute(
            "insert into raw.litellm_spend_logs_rejected (request_id, partition_key, reason, payload, _source,"
            " _ingested_at) values (%s, %s, %s, '{}', 'litellm_db', %s)",
            (request_id, partition_key, reason, fx.at(hms)),
        )


def load_fixture(url: str, *, with_raw_requests: bool = True) -> None:
    """Registry + raw tables + fixture rows into a registry-migrated database."""
    with psycopg.connect(url, autocommit=True) as conn:
        create_raw_tables(conn)
    with psycopg.connect(url) as conn:
        insert_registry(conn)
        if with_raw_requests:
            insert_raw_requests(conn, fx.REQUESTS)
        insert_raw_other(conn)


JSON_SPEND_LOG_COLUMNS = {"metadata", "request_tags", "messages", "response", "proxy_server_request"}


def insert_spend_logs(url: str, requests: Iterable[fx.Request]) -> None:
    """The fixture requests as LiteLLM writes them, into a real ``"LiteLLM_SpendLogs"`` table (created
    by :func:`session_cli.litellm_schema.apply_litellm_migrations`)."""
    from psycopg import sql
    from psycopg.types.json import Jsonb

    with psycopg.connect(url) as conn:
        for r in requests:
            row = fx.spend_log_row(r)
            cols = list(row)
            conn.execute(
                sql.SQL('insert into "LiteLLM_SpendLogs" ({}) values ({})').format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in cols),
                    sql.SQL(", ").join(sql.Placeholder() * len(cols)),
                ),
                [Jsonb(row[c]) if c in JSON_SPEND_LOG_COLUMNS else row[c] for c in cols],
            )
