"""Helpers shared by the end-to-end tests (fixtures are in conftest.py)."""

from __future__ import annotations

import importlib.util
import os
import secrets
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

REPO_ROOT = Path(__file__).resolve().parents[2]
DBLESS_CONFIG = REPO_ROOT / "configs" / "litellm" / "config.dbless.yaml"
MASTER_KEY = "sk-hb-test-master-" + secrets.token_hex(8)

# Latency profiles of the fake upstream, keyed by alias (the fake config serves each alias under its name).
FAKE_PROFILES: dict[str, Any] = {
    "defaults": {"ttft_ms": 100, "tokens_per_s": 200, "output_tokens": 6},
    "models": {
        "kimi-k2-5": {
            "ttft_ms": 150,
            "tokens_per_s": 200,
            "output_tokens": 12,
            "cached_prompt_fraction": 0.25,
        },
        "kimi-k2-5-turbo": {"ttft_ms": 50, "tokens_per_s": 400, "output_tokens": 4},
        # every other attempt fails at random (seeded); LiteLLM retries twice, so most requests recover
        "glm-5-fast": {"ttft_ms": 20, "output_tokens": 3, "failure_rate": 0.5, "seed": 7},
        # Gemini's route only logs tokens when the upstream always streams usage
        "glm-5": {"ttft_ms": 50, "output_tokens": 7, "stream_usage": "always"},
        "claude-sonnet-4-6": {
            "ttft_ms": 400,
            "tokens_per_s": 50,
            "output_tokens": 10,
            "cached_prompt_fraction": 0.5,
            "cache_write_fraction": 0.1,
        },
    },
}


def require_litellm() -> None:
    if importlib.util.find_spec("litellm") is None:
        message = "the `proxy` extra is not installed (uv sync --all-extras)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@dataclass(frozen=True)
class SessionKey:
    """A session row inserted for a test; ``key`` is the raw secret the client sends."""

    session_id: str
    key: str
    key_hash: str
    key_alias: str
    model_alias: str
    background_model_alias: str | None


@dataclass(frozen=True)
class Proxy:
    base_url: str
    master_key: str
    registry_url: str
    spend_logs_url: str
    fake_url: str
    home: Path
    env: dict[str, str]

    def client(self, key: str, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout
        )

    def rows(self, key_hash: str) -> list[dict[str, Any]]:
        """Spend-log rows of one key hash, oldest first."""
        with psycopg.connect(self.spend_logs_url, row_factory=dict_row) as conn:
            return conn.execute(
                'select * from "LiteLLM_SpendLogs" where api_key = %s order by "startTime", request_id',
                (key_hash,),
            ).fetchall()

    def wait_rows(self, key_hash: str, count: int, timeout_s: float = 15.0) -> list[dict[str, Any]]:
        """Rows land right after each request ends; allow the proxy's logging worker a moment."""
        deadline = time.monotonic() + timeout_s
        rows = self.rows(key_hash)
        while len(rows) < count and time.monotonic() < deadline:
            time.sleep(0.2)
            rows = self.rows(key_hash)
        time.sleep(0.5)  # and make sure no extra row follows
        return self.rows(key_hash)


def run_benchmark(
    *args: str, env: dict[str, str], timeout: float = 180.0
) -> subprocess.CompletedProcess[str]:
    """The installed ``benchmark`` console script, as an operator runs it."""
    exe = Path(sys.executable).with_name("benchmark")
    return subprocess.run([str(exe), *args], env=env, capture_output=True, text=True, timeout=timeout)


def warm_up(proxy: Proxy) -> None:
    """LiteLLM imports each route's code on first use (about a second): pay that with the master key
    before any timing is measured. Master-key rows carry LiteLLM's master-key alias, never a session hash."""
    with proxy.client(proxy.master_key) as client:
        chat = {"model": "kimi-k2-5", "messages": [{"role": "user", "content": "warm up"}]}
        client.post("/v1/chat/completions", json=chat).raise_for_status()
        with client.stream("POST", "/v1/chat/completions", json={**chat, "stream": True}) as response:
            response.read()
        for model in ("kimi-k2-5", "claude-sonnet-4-6"):
            msg = {"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "warm up"}]}
            client.post("/v1/messages", json=msg).raise_for_status()
            with client.stream("POST", "/v1/messages", json={**msg, "stream": True}) as response:
                response.read()
        client.post("/v1/responses", json={"model": "kimi-k2-5", "input": "warm up"}).raise_for_status()


def update_session(proxy: Proxy, session_id: str, **columns: Any) -> None:
    """Change registry columns of a session (what finalize does: status, ended_at, key_revoked_at)."""
    assignments = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in columns)
    statement = sql.SQL("update registry.sessions set {}, updated_at = now() where session_id = %s")
    with psycopg.connect(proxy.registry_url) as conn:
        conn.execute(statement.format(assignments), (*columns.values(), session_id))


def insert_session(
    registry_url: str,
    base_url: str,
    model_alias: str = "kimi-k2-5",
    background_model_alias: str | None = "kimi-k2-5-turbo",
    *,
    variant: str = "fast",
    experiment: str = "e2e-dbless",
    expires_in: timedelta = timedelta(hours=1),
) -> SessionKey:
    """A ``registry.sessions`` row as the CLI's local key backend writes it: the key's hash, never the key."""
    from session_cli.keys import hash_key

    session_id = str(uuid.uuid4())
    key = "sk-hb-" + secrets.token_urlsafe(32)
    alias = f"hb-{session_id}"
    metadata = {"session_id": session_id, "experiment": experiment, "variant": variant,
                "task_card": "e2e", "harness": "scripted"}  # fmt: skip
    with psycopg.connect(registry_url) as conn:
        conn.execute(
            """
            insert into registry.sessions (
                session_id, experiment, variant, task_card, harness, provider, model_alias,
                background_model_alias, operator, litellm_base_url, key_backend, key_alias, key_hash,
                key_expires_at, key_metadata, config_fingerprints)
            values (%s, %s, %s, 'e2e', 'scripted', 'fake', %s, %s, 'e2e', %s, 'local', %s, %s, %s, %s, '{}')
            """,
            (session_id, experiment, variant, model_alias, background_model_alias, base_url, alias,
             hash_key(key), datetime.now(UTC) + expires_in, Jsonb(metadata)),
        )  # fmt: skip
    return SessionKey(session_id, key, hash_key(key), alias, model_alias, background_model_alias)
