"""`benchmark session run`: scripted sessions (local key backend; no proxy needed)."""

from __future__ import annotations

import json

import psycopg
import pytest

from session_cli.keys import hash_key
from session_cli.runner import plan
from tests.cli import run_cli

EXPERIMENT = "fireworks-kimi-k2-5-harness-comparison"
A, B = "kimi-k2-5-claude-code", "kimi-k2-5-opencode"


def test_plan_orders():
    assert plan([A, B], 2, interleave=False) == [A, A, B, B]
    assert plan([A, B], 2, interleave=True) == [A, B, A, B]


@pytest.fixture
def local(cli_env, monkeypatch, tmp_path):
    monkeypatch.setenv("BENCHMARK_KEY_BACKEND", "local")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def sessions_by_label(url: str, label: str) -> list[dict]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "select session_id::text, variant, status, notes, key_hash, key_revoked_at from registry.sessions "
            "where label = %s order by started_at",
            (label,),
        ).fetchall()


def test_run_interleaved_with_statuses_from_exit_codes(local, capsys, registry_db):
    # the harness stand-in records which key and model it saw, and fails for OpenCode sessions
    script = (
        'printf "%s %s %s\\n" "$BENCHMARK_SESSION_ID" "${ANTHROPIC_AUTH_TOKEN:-$HARNESS_BENCH_API_KEY}" '
        '"$BENCHMARK_VARIANT" >> seen.txt; test "$BENCHMARK_VARIANT" = kimi-k2-5-claude-code'
    )
    result = run_cli(
        capsys,
        "session",
        "run",
        "-e",
        EXPERIMENT,
        "-v",
        A,
        "-v",
        B,
        "-t",
        "repo-auth-analysis",
        "--repeat",
        "2",
        "--interleave",
        "--label",
        "run-1",
        "--repo",
        str(local),
        "--json",
        "--",
        "bash",
        "-c",
        script,
    )
    assert result.code == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert [(o["variant"], o["status"], o["exit_code"]) for o in outcomes] == [
        (A, "completed", 0),
        (B, "failed", 1),
        (A, "completed", 0),
        (B, "failed", 1),
    ]
    rows = sessions_by_label(registry_db, "run-1")
    assert [r["variant"] for r in rows] == [A, B, A, B]
    assert all(r["key_revoked_at"] is not None for r in rows)
    seen = [line.split() for line in (local / "seen.txt").read_text().splitlines()]
    assert [s[0] for s in seen] == [r["session_id"] for r in rows]
    # each run saw its own session's key (its hash is what the registry holds)
    assert [hash_key(s[1]) for s in seen] == [r["key_hash"] for r in rows]
    assert "4 session(s): 2 completed, 2 failed" in result.stderr


def test_operator_secrets_never_reach_the_harness(local, capsys, monkeypatch):
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-master-secret")
    monkeypatch.setenv("FIREWORKS_API_KEY", "fw-upstream-secret")
    script = "env > harness-env.txt"
    result = run_cli(
        capsys,
        "session",
        "run",
        "-e",
        EXPERIMENT,
        "-v",
        B,
        "-t",
        "repo-auth-analysis",
        "--repo",
        str(local),
        "--",
        "bash",
        "-c",
        script,
    )
    assert result.code == 0, result.stderr
    seen = (local / "harness-env.txt").read_text()
    for name in ("LITELLM_MASTER_KEY", "FIREWORKS_API_KEY", "BENCHMARK_DATABASE_URL"):
        assert f"\n{name}=" not in "\n" + seen
    assert "sk-master-secret" not in seen and "fw-upstream-secret" not in seen
    assert "\nHARNESS_BENCH_API_KEY=sk-hb-" in "\n" + seen


def test_timebox_stops_the_command_and_fails_the_session(local, capsys, registry_db):
    result = run_cli(
        capsys,
        "session",
        "run",
        "-e",
        EXPERIMENT,
        "-v",
        A,
        "-t",
        "repo-auth-analysis",
        "--timeout",
        "0.5",
        "--label",
        "run-timeout",
        "--repo",
        str(local),
        "--",
        "sleep",
        "30",
    )
    assert result.code == 0
    [row] = sessions_by_label(registry_db, "run-timeout")
    assert row["status"] == "failed" and "timebox of 0.5 s reached; stopped" in row["notes"]


def test_variant_outside_experiment_fails_before_any_session(local, capsys, registry_db):
    result = run_cli(
        capsys,
        "session",
        "run",
        "-e",
        EXPERIMENT,
        "-v",
        A,
        "-v",
        "glm-5-opencode",
        "-t",
        "repo-auth-analysis",
        "--label",
        "run-bad",
        "--",
        "true",
    )
    assert result.code == 2 and "'glm-5-opencode' is not a variant of experiment" in result.stderr
    assert sessions_by_label(registry_db, "run-bad") == []
