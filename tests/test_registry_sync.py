"""`benchmark config init-db`: migrate + upsert configs with fingerprints; `benchmark health`."""

from __future__ import annotations

import json
import shutil

import psycopg
import pytest
import yaml

from tests.cli import run_cli
from tests.conftest import CONFIGS_DIR
from tests.fakes.litellm_admin import FakeLiteLLMAdmin


@pytest.fixture
def fresh(make_database, monkeypatch, tmp_path):
    url = make_database("initdb")
    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS_DIR, configs)
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", url)
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(configs))
    monkeypatch.setenv("BENCHMARK_HOME", str(tmp_path / "home"))
    return url, configs


def fingerprints(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("select name, fingerprint from registry.variants").fetchall())


def test_init_db_migrates_and_syncs_idempotently(fresh, capsys):
    url, _ = fresh
    first = run_cli(capsys, "config", "init-db", "--json")
    assert first.code == 0, first.stderr
    assert json.loads(first.stdout) == {"revision": "0001", "inserted": 23, "changed": 0, "unchanged": 0}
    second = json.loads(run_cli(capsys, "config", "init-db", "--json").stdout)
    assert second == {"revision": "0001", "inserted": 0, "changed": 0, "unchanged": 23}
    with psycopg.connect(url) as conn:
        assert conn.execute(
            "select variant, position, is_baseline from registry.experiment_variants "
            "where experiment = 'fireworks-kimi-k2-5-harness-comparison' order by position"
        ).fetchall() == [("kimi-k2-5-claude-code", 1, True), ("kimi-k2-5-opencode", 2, False)]
        assert conn.execute("select count(*) from registry.config_history").fetchone()[0] == 23


def test_changed_config_gets_a_new_fingerprint_and_history_keeps_the_old(fresh, capsys):
    url, configs = fresh
    run_cli(capsys, "config", "init-db")
    before = fingerprints(url)["glm-5-opencode"]
    path = configs / "variants/glm-5-opencode.yaml"
    data = yaml.safe_load(path.read_text())
    data["env"] = {"OPENCODE_EXPERIMENTAL": "1"}
    path.write_text(yaml.safe_dump(data))
    result = json.loads(run_cli(capsys, "config", "init-db", "--json").stdout)
    assert result["changed"] == 1 and result["unchanged"] == 22
    after = fingerprints(url)["glm-5-opencode"]
    assert after != before
    with psycopg.connect(url) as conn:
        history = {
            fp
            for (fp,) in conn.execute(
                "select fingerprint from registry.config_history where kind = 'variant' and name = 'glm-5-opencode'"
            )
        }
    assert history == {before, after}


def test_invalid_configs_never_touch_the_database(fresh, capsys):
    url, configs = fresh
    (configs / "variants/glm-5-opencode.yaml").write_text("name: glm-5-opencode\n")
    result = run_cli(capsys, "config", "init-db")
    assert result.code == 2
    with psycopg.connect(url) as conn:
        assert conn.execute("select to_regclass('registry.sessions')").fetchone()[0] is None


def test_commands_before_init_db_say_what_to_do(fresh, capsys):
    result = run_cli(capsys, "session", "list")
    assert result.code == 1
    assert "the registry is not initialised in this database" in result.stderr
    assert "benchmark config init-db" in result.stderr


def test_database_unreachable_is_one_line(monkeypatch, capsys):
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/benchmark")
    result = run_cli(capsys, "session", "list")
    assert result.code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(
        "error: cannot connect to the database postgresql://postgres@127.0.0.1:1/benchmark"
    )


def test_health_names_what_failed(fresh, capsys, monkeypatch):
    fake = FakeLiteLLMAdmin().start()
    try:
        monkeypatch.setenv("LITELLM_BASE_URL", fake.base_url)
        monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:1")
        before = run_cli(capsys, "health", "--json")
        checks = {c["name"]: c["ok"] for c in json.loads(before.stdout)["checks"]}
        assert before.code == 1
        assert checks == {"database": True, "migrations": False, "litellm": True, "prometheus": False}
        run_cli(capsys, "config", "init-db")
        after = run_cli(capsys, "health", "check")
        assert after.code == 1
        assert "unhealthy: prometheus" in after.stderr
    finally:
        fake.stop()
