"""End-to-end fixtures: the fake provider and a real LiteLLM proxy in database-less mode.

One fake provider and one proxy per test module (LiteLLM needs ~8-13 s to start). The proxy is
started and stopped through the real ``benchmark proxy start|stop`` CLI against the session's
``registry_db`` (session keys) and ``litellm_db`` (spend-log rows). Tests create their own
sessions with fresh keys and assert on rows of their own key hashes only.

Without the ``proxy`` extra these tests are skipped locally and fail in CI (``CI=true``), where
``make test`` installs every extra.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator

import pytest

from session_cli import proxy_process as pp
from session_cli.fake_provider.litellm_config import write_fake_config

# importing litellm (the plugin tests do) must not try to download its price list
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.e2e.support import (
    DBLESS_CONFIG,
    FAKE_PROFILES,
    MASTER_KEY,
    REPO_ROOT,
    Proxy,
    SessionKey,
    insert_session,
    require_litellm,
    run_benchmark,
    warm_up,
)


@pytest.fixture(scope="module")
def fake_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pp.ServerProcess]:
    base = tmp_path_factory.mktemp("fake")
    profiles = base / "profiles.json"
    profiles.write_text(json.dumps(FAKE_PROFILES))
    server = pp.start_fake_provider(port=pp.free_port(), log_path=base / "fake.log", profiles=profiles)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dbless_proxy(
    fake_provider: pp.ServerProcess,
    registry_db: str,
    litellm_db: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Proxy]:
    """A real LiteLLM started with ``benchmark proxy start`` on the fake-provider variant of
    ``configs/litellm/config.dbless.yaml``; stopped with ``benchmark proxy stop`` after the module."""
    require_litellm()
    base = tmp_path_factory.mktemp("proxy")
    config = write_fake_config(base / "config.yaml", fake_provider.base_url, DBLESS_CONFIG)
    home = base / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCHMARK_VERBOSE")}
    env.update(
        BENCHMARK_HOME=str(home),
        BENCHMARK_DATABASE_URL=registry_db,
        LITELLM_DATABASE_URL=litellm_db,
        LITELLM_MASTER_KEY=MASTER_KEY,
        BENCHMARK_KEY_BACKEND="local",
        BENCHMARK_CONFIGS_DIR=str(REPO_ROOT / "configs"),
    )
    port = pp.free_port()
    started = run_benchmark("proxy", "start", "--config", str(config), "--port", str(port), env=env)
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == f"http://127.0.0.1:{port}"
    pid = json.loads((home / "proxy" / "litellm.json").read_text())["pid"]
    proxy = Proxy(
        base_url=started.stdout.strip(),
        master_key=MASTER_KEY,
        registry_url=registry_db,
        spend_logs_url=litellm_db,
        fake_url=fake_provider.base_url,
        home=home,
        env=env,
    )
    try:
        warm_up(proxy)
        yield proxy
    finally:
        stopped = run_benchmark("proxy", "stop", env=env)
        assert stopped.returncode == 0, stopped.stderr
        assert pp.group_members(pid) == [], "benchmark proxy stop left processes behind"
        # every request the module sent (Gemini's nested route included) had its row when stop began
        assert "whose spend-log row was not written" not in (home / "proxy" / "litellm.log").read_text()


@pytest.fixture(scope="module")
def make_session(dbless_proxy: Proxy) -> Callable[..., SessionKey]:
    """Insert a ``registry.sessions`` row the way the CLI's local key backend does (hash only)."""

    def make(*args: object, **kwargs: object) -> SessionKey:
        return insert_session(dbless_proxy.registry_url, dbless_proxy.base_url, *args, **kwargs)

    return make
