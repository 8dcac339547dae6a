"""Rows are durable when a graceful ``benchmark proxy stop`` returns, even with requests in flight."""

from __future__ import annotations

import json
import os
import threading
import time

import httpx
import pytest

from session_cli import proxy_process as pp
from session_cli.fake_provider.litellm_config import write_fake_config
from tests.e2e.clients import chat, messages
from tests.e2e.support import (
    DBLESS_CONFIG,
    MASTER_KEY,
    REPO_ROOT,
    Proxy,
    insert_session,
    require_litellm,
    run_benchmark,
)

pytestmark = pytest.mark.e2e

IN_FLIGHT = 6


def test_stop_waits_for_in_flight_requests_and_their_rows(
    fake_provider: pp.ServerProcess, registry_db: str, litellm_db: str, tmp_path
) -> None:
    require_litellm()
    config = write_fake_config(tmp_path / "config.yaml", fake_provider.base_url, DBLESS_CONFIG)
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        BENCHMARK_HOME=str(tmp_path / "home"),
        BENCHMARK_DATABASE_URL=registry_db,
        LITELLM_DATABASE_URL=litellm_db,
        LITELLM_MASTER_KEY=MASTER_KEY,
        BENCHMARK_CONFIGS_DIR=str(REPO_ROOT / "configs"),
    )
    started = run_benchmark("proxy", "start", "--config", str(config), "--port", str(pp.free_port()), env=env)
    assert started.returncode == 0, started.stderr
    base_url = started.stdout.strip()
    pid = json.loads((tmp_path / "home" / "proxy" / "litellm.json").read_text())["pid"]
    proxy = Proxy(
        base_url, MASTER_KEY, registry_db, litellm_db, fake_provider.base_url, tmp_path / "home", env
    )
    session = insert_session(registry_db, base_url, "claude-sonnet-4-6", "kimi-k2-5")
    before = httpx.get(fake_provider.base_url + "/_stats").json()

    statuses: list[int] = []

    def one(i: int) -> None:
        with proxy.client(session.key) as client:
            # claude: 400 ms to the first token, then 10 tokens at 50/s: each request lasts ~0.6 s
            if i % 2:
                statuses.append(messages(client, "claude-sonnet-4-6", f"request {i}", stream=True).status)
            else:
                statuses.append(chat(client, "kimi-k2-5", f"request {i}", stream=True).status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(IN_FLIGHT)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # stop only once every request has reached the upstream
        stats = httpx.get(fake_provider.base_url + "/_stats").json()
        if sum(stats.values()) - sum(before.values()) >= IN_FLIGHT:
            break
        time.sleep(0.02)
    stopped = run_benchmark("proxy", "stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    for thread in threads:
        thread.join(timeout=30)
    assert pp.group_members(pid) == []
    assert statuses == [200] * IN_FLIGHT
    rows = proxy.rows(session.key_hash)  # read right after stop returned: no waiting
    assert len(rows) == IN_FLIGHT
    assert {r["status"] for r in rows} == {"success"}
