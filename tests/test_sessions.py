"""Session lifecycle against real Postgres and a fake of LiteLLM's key admin API."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from pathlib import Path

import psycopg
import pytest

from session_cli.keys import hash_key
from tests.cli import run_cli
from tests.fakes.litellm_admin import FakeLiteLLMAdmin

EXPERIMENT = "fireworks-kimi-k2-5-harness-comparison"
TASK = "repo-auth-analysis"


@pytest.fixture
def litellm(monkeypatch: pytest.MonkeyPatch):
    fake = FakeLiteLLMAdmin().start()
    monkeypatch.setenv("LITELLM_BASE_URL", fake.base_url)
    monkeypatch.setenv("LITELLM_MASTER_KEY", fake.master_key)
    monkeypatch.delenv("BENCHMARK_KEY_BACKEND", raising=False)
    yield fake
    fake.stop()


@pytest.fixture
def env(cli_env: Path, litellm: FakeLiteLLMAdmin, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    repo = tmp_path / "target-repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    (repo / "README").write_text("x")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True)
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init"],
        check=True,
    )
    monkeypatch.chdir(repo)
    return cli_env


def registry_rows(url: str, session_id: str) -> dict:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("select * from registry.sessions where session_id = %s", (session_id,)).fetchone()


def count_sessions(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from registry.sessions").fetchone()[0]


def create(capsys, variant: str = "kimi-k2-5-claude-code", *extra: str) -> dict:
    result = run_cli(
        capsys,
        "session",
        "create",
        "--experiment",
        EXPERIMENT,
        "--variant",
        variant,
        "--task-card",
        TASK,
        "--label",
        "t",
        "--json",
        *extra,
    )
    assert result.code == 0, result.stderr
    return json.loads(result.stdout)


def test_create_env_finalize_round_trip(env, litellm, capsys, registry_db):
    session = create(capsys)
    sid = session["session_id"]
    # the key was minted with the session's identity and every alias the harness will call
    [body] = [b for (_, p, b) in litellm.requests if p == "/key/generate"]
    assert body["key_alias"] == f"hb-{sid}"
    assert body["models"] == ["kimi-k2-5", "kimi-k2-5-turbo"]
    assert body["duration"] == "8h"
    assert body["metadata"]["session_id"] == sid and body["metadata"]["harness"] == "claude-code"
    [token] = litellm.keys
    row = registry_rows(registry_db, sid)
    assert row["key_hash"] == token and row["key_alias"] == f"hb-{sid}" and row["key_backend"] == "litellm"
    assert row["status"] == "active" and row["ended_at"] is None and row["key_expires_at"] is not None
    assert row["git_branch"] == "main" and len(row["git_commit"]) == 40 and row["git_dirty"] is False
    assert set(row["config_fingerprints"]) == {"variant", "provider", "harness", "experiment", "task_card"}

    # the private directory: 0700, files 0600, the key inside
    sdir = env / "sessions" / sid
    assert stat.S_IMODE(sdir.stat().st_mode) == 0o700
    key = (sdir / "key").read_text()
    assert hash_key(key) == token
    for f in sdir.rglob("*"):
        if f.is_file():
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f

    shell = run_cli(capsys, "session", "env", sid[:8])
    assert shell.code == 0
    assert f"export ANTHROPIC_AUTH_TOKEN={key}" in shell.stdout
    assert "unset ANTHROPIC_API_KEY" in shell.stdout
    assert shell.stderr == ""

    done = run_cli(
        capsys, "session", "finalize", sid, "--status", "completed", "--outcome", "valid", "--json"
    )
    assert done.code == 0, done.stderr
    assert litellm.keys == {}  # revoked at LiteLLM
    row = registry_rows(registry_db, sid)
    assert row["status"] == "completed" and row["outcome"] == "valid"
    assert row["ended_at"] is not None and row["key_revoked_at"] is not None
    assert not sdir.exists()  # the key's only home is gone

    again = run_cli(capsys, "session", "finalize", sid, "--status", "failed")
    assert again.code == 1
    assert f"error: session {sid} is already finalized (completed at " in again.stderr
    assert registry_rows(registry_db, sid)["status"] == "completed"

    gone = run_cli(capsys, "session", "env", sid)
    assert gone.code == 1 and "no private directory for session" in gone.stderr


def test_shell_eval_sets_exactly_the_expected_variables(env, capsys, tmp_path):
    sid = create(capsys, "kimi-k2-5-claude-code")["session_id"]
    key = (env / "sessions" / sid / "key").read_text()
    snippet = run_cli(capsys, "session", "env", sid).stdout
    script = tmp_path / "snippet.sh"
    script.write_text(snippet)
    baseline = {"PATH": os.environ["PATH"], "ANTHROPIC_API_KEY": "user-own-key", "HOME": str(tmp_path)}
    dump = subprocess.run(
        ["bash", "-c", f'eval "$(cat {script})" && env -0'],
        env=baseline,
        capture_output=True,
        text=True,
        check=True,
    )
    after = dict(item.split("=", 1) for item in dump.stdout.split("\0") if item)
    added = {k: v for k, v in after.items() if k not in baseline and k not in ("PWD", "SHLVL", "_", "OLDPWD")}
    sdir = env / "sessions" / sid
    assert added == {
        "ANTHROPIC_BASE_URL": os.environ["LITELLM_BASE_URL"],
        "ANTHROPIC_AUTH_TOKEN": key,
        "ANTHROPIC_MODEL": "kimi-k2-5",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "kimi-k2-5-turbo",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "kimi-k2-5",
        "ANTHROPIC_DEFAULT_OPUS_MODEL": "kimi-k2-5",
        "CLAUDE_CONFIG_DIR": str(sdir / "harness"),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "CLAUDE_CODE_MAX_RETRIES": "1",
    }
    assert "ANTHROPIC_API_KEY" not in after  # the user's own key cannot override the session key


def test_values_with_quotes_and_spaces_survive_eval(env, capsys, tmp_path, monkeypatch):
    import shutil

    from tests.conftest import CONFIGS_DIR

    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS_DIR, configs)
    variant = configs / "variants/glm-5-openhands.yaml"
    variant.write_text(
        variant.read_text() + 'env:\n  LLM_EXTRA: "it\'s a \\"quoted\\" value $HOME `x` \\\\ end"\n'
    )
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(configs))
    (configs / "experiments/oh.yaml").write_text(
        "name: oh\ndescription: openhands\nvariants: [glm-5-openhands]\n"
    )
    result = run_cli(capsys, "session", "create", "-e", "oh", "-v", "glm-5-openhands", "-t", TASK, "--json")
    sid = json.loads(result.stdout)["session_id"]
    expected = 'it\'s a "quoted" value $HOME `x` \\ end'
    for fmt in ("shell",):
        snippet = run_cli(capsys, "session", "env", sid, "--format", fmt).stdout
        value = subprocess.run(
            ["bash", "-c", snippet + '\nprintf %s "$LLM_EXTRA"'], capture_output=True, text=True, check=True
        ).stdout
        assert value == expected
    dotenv = run_cli(capsys, "session", "env", sid, "--format", "dotenv").stdout
    assert "LLM_EXTRA=" in dotenv
    as_json = json.loads(run_cli(capsys, "session", "env", sid, "--format", "json").stdout)
    assert as_json["env"]["LLM_EXTRA"] == expected
    assert as_json["env"]["LLM_MODEL"] == "litellm_proxy/glm-5"
    as_toml = tomllib.loads(run_cli(capsys, "session", "env", sid, "--format", "toml").stdout)
    assert as_toml["env"] == as_json["env"]


def test_codex_config_toml_parses_and_holds_no_key(env, capsys, monkeypatch, tmp_path):
    import shutil

    from tests.conftest import CONFIGS_DIR

    configs = tmp_path / "configs"
    shutil.copytree(CONFIGS_DIR, configs)
    (configs / "experiments/codex.yaml").write_text(
        "name: cx\ndescription: codex\nvariants: [gpt-5-4-codex]\n"
    )
    monkeypatch.setenv("BENCHMARK_CONFIGS_DIR", str(configs))
    result = run_cli(capsys, "session", "create", "-e", "cx", "-v", "gpt-5-4-codex", "-t", TASK, "--json")
    sid = json.loads(result.stdout)["session_id"]
    sdir = env / "sessions" / sid
    key = (sdir / "key").read_text()
    text = (sdir / "harness" / "config.toml").read_text()
    assert key not in text
    config = tomllib.loads(text)
    provider = config["model_providers"][config["model_provider"]]
    assert config["model"] == "gpt-5.4"
    assert provider["base_url"] == os.environ["LITELLM_BASE_URL"] + "/v1"
    assert provider["wire_api"] == "responses"
    env_json = json.loads(run_cli(capsys, "session", "env", sid, "--format", "json").stdout)["env"]
    assert env_json[provider["env_key"]] == key
    assert env_json["CODEX_HOME"] == str(sdir / "harness")


def test_opencode_json_parses_with_both_models(env, capsys):
    sid = create(capsys, "kimi-k2-5-opencode")["session_id"]
    sdir = env / "sessions" / sid
    config = json.loads((sdir / "harness" / "opencode.json").read_text())
    provider = config["provider"]["harness-bench"]
    assert provider["options"]["apiKey"] == "{env:HARNESS_BENCH_API_KEY}"
    assert provider["options"]["baseURL"].endswith("/v1")
    assert set(provider["models"]) == {"kimi-k2-5", "kimi-k2-5-turbo"}
    assert config["model"] == "harness-bench/kimi-k2-5"
    assert config["small_model"] == "harness-bench/kimi-k2-5-turbo"
    env_json = json.loads(run_cli(capsys, "session", "env", sid, "--format", "json").stdout)["env"]
    assert env_json["OPENCODE_CONFIG"] == str(sdir / "harness" / "opencode.json")


def test_variant_outside_experiment_and_harness_mismatch_are_rejected(env, capsys, registry_db):
    before = count_sessions(registry_db)
    outside = run_cli(capsys, "session", "create", "-e", EXPERIMENT, "-v", "glm-5-opencode", "-t", TASK)
    assert outside.code == 2
    assert (
        "error: --variant: 'glm-5-opencode' is not a variant of experiment "
        "'fireworks-kimi-k2-5-harness-comparison' (variants: kimi-k2-5-claude-code, kimi-k2-5-opencode)"
    ) in outside.stderr
    mismatch = run_cli(
        capsys,
        "session",
        "create",
        "-e",
        EXPERIMENT,
        "-v",
        "kimi-k2-5-opencode",
        "-t",
        TASK,
        "--harness",
        "claude-code",
    )
    assert mismatch.code == 2
    assert (
        "--harness: 'claude-code' does not match variant 'kimi-k2-5-opencode', whose harness profile is 'opencode'"
        in mismatch.stderr
    )
    match = run_cli(
        capsys,
        "session",
        "create",
        "-e",
        EXPERIMENT,
        "-v",
        "kimi-k2-5-opencode",
        "-t",
        TASK,
        "--harness",
        "opencode",
    )
    assert match.code == 0
    assert count_sessions(registry_db) == before + 1


def test_litellm_down_leaves_no_session(env, capsys, registry_db, monkeypatch, litellm):
    before = count_sessions(registry_db)
    litellm.stop()
    result = run_cli(capsys, "session", "create", "-e", EXPERIMENT, "-v", "kimi-k2-5-opencode", "-t", TASK)
    assert result.code == 1
    assert f"error: cannot reach LiteLLM at {litellm.base_url}" in result.stderr
    assert "hint:" in result.stderr
    assert count_sessions(registry_db) == before
    assert not any((env / "sessions").glob("*")) if (env / "sessions").exists() else True


def test_litellm_4xx_surfaces_its_message(env, capsys, registry_db, litellm):
    before = count_sessions(registry_db)
    litellm.fail_next.append((400, "Invalid model name passed in model=kimi-k2-5"))
    result = run_cli(capsys, "session", "create", "-e", EXPERIMENT, "-v", "kimi-k2-5-opencode", "-t", TASK)
    assert result.code == 1
    assert (
        "error: LiteLLM refused /key/generate (400): Invalid model name passed in model=kimi-k2-5"
        in result.stderr
    )
    assert count_sessions(registry_db) == before


def test_failure_after_key_issue_revokes_the_key(env, capsys, registry_db, litellm, monkeypatch, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("BENCHMARK_HOME", str(blocker))  # the private directory cannot be created
    before = count_sessions(registry_db)
    result = run_cli(capsys, "session", "create", "-e", EXPERIMENT, "-v", "kimi-k2-5-opencode", "-t", TASK)
    assert result.code != 0
    assert count_sessions(registry_db) == before
    assert litellm.keys == {}  # minted, then revoked
    assert [p for (_, p, _) in litellm.requests] == ["/key/generate", "/key/delete"]


def test_finalize_with_litellm_down_keeps_the_session_active(env, capsys, registry_db, litellm):
    sid = create(capsys, "kimi-k2-5-opencode")["session_id"]
    litellm.stop()
    result = run_cli(capsys, "session", "finalize", sid, "--status", "completed")
    assert result.code == 1 and "cannot reach LiteLLM" in result.stderr
    row = registry_rows(registry_db, sid)
    assert row["status"] == "active" and row["key_revoked_at"] is None
    assert (env / "sessions" / sid / "key").exists()
    forced = run_cli(capsys, "session", "finalize", sid, "--status", "aborted", "--skip-revoke")
    assert forced.code == 0
    row = registry_rows(registry_db, sid)
    assert row["status"] == "aborted" and row["key_revoked_at"] is None


def test_unknown_ids_and_bad_status(env, capsys):
    assert "no session with id 'ffffffff'" in run_cli(capsys, "session", "show", "ffffffff").stderr
    assert (
        "no session with id 'ffffffff'"
        in run_cli(capsys, "session", "finalize", "ffffffff", "-s", "completed").stderr
    )
    sid = create(capsys)["session_id"]
    bad = run_cli(capsys, "session", "finalize", sid, "--status", "done")
    assert (
        bad.code == 2
        and "--status: 'done' is not a final status (choices: completed, failed, aborted)" in bad.stderr
    )
    bad_outcome = run_cli(capsys, "session", "finalize", sid, "--status", "completed", "--outcome", "ok")
    assert (
        bad_outcome.code == 2
        and "--outcome: 'ok' is not an outcome (choices: valid, invalid)" in bad_outcome.stderr
    )


def test_show_and_list(env, capsys):
    sid = create(capsys, "kimi-k2-5-opencode")["session_id"]
    shown = json.loads(run_cli(capsys, "session", "show", sid, "--json").stdout)
    assert shown["variant"] == "kimi-k2-5-opencode" and shown["harness"] == "opencode"
    assert shown["background_model_alias"] == "kimi-k2-5-turbo"
    listed = json.loads(
        run_cli(capsys, "session", "list", "--experiment", EXPERIMENT, "--status", "active", "--json").stdout
    )
    assert sid in {r["session_id"] for r in listed}
    assert all(r["status"] == "active" for r in listed)


def test_outside_git_repo_is_recorded_as_unknown(
    cli_env, litellm, capsys, registry_db, tmp_path, monkeypatch
):
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.chdir(plain)
    result = run_cli(
        capsys,
        "session",
        "create",
        "-e",
        EXPERIMENT,
        "-v",
        "kimi-k2-5-opencode",
        "-t",
        TASK,
        "--repo",
        str(plain),
        "--json",
    )
    assert result.code == 0
    assert "is not inside a git repository" in result.stderr
    row = registry_rows(registry_db, json.loads(result.stdout)["session_id"])
    assert row["git_commit"] is None and row["git_dirty"] is None


def test_local_key_backend(env, capsys, registry_db, monkeypatch, litellm):
    monkeypatch.setenv("BENCHMARK_KEY_BACKEND", "local")
    sid = create(capsys, "kimi-k2-5-opencode")["session_id"]
    key = (env / "sessions" / sid / "key").read_text()
    assert key.startswith("sk-hb-")
    row = registry_rows(registry_db, sid)
    assert row["key_backend"] == "local" and row["key_hash"] == hash_key(key)
    assert row["key_metadata"]["session_id"] == sid
    assert litellm.requests == []  # LiteLLM's admin API is not involved
    assert run_cli(capsys, "session", "finalize", sid, "-s", "completed").code == 0
    assert registry_rows(registry_db, sid)["key_revoked_at"] is not None


def test_key_never_reaches_database_or_output(env, capsys, registry_db, litellm):
    """Scan: the raw key appears only in `session env` output and the private directory."""
    outputs: list[str] = []
    result = run_cli(
        capsys, "session", "create", "-e", EXPERIMENT, "-v", "kimi-k2-5-claude-code", "-t", TASK, "--json"
    )
    outputs += [result.stdout, result.stderr]
    sid = json.loads(result.stdout)["session_id"]
    key = (env / "sessions" / sid / "key").read_text()
    for args in (
        ("session", "show", sid),
        ("session", "show", sid, "--json"),
        ("session", "list"),
        ("session", "list", "--json"),
        ("config", "init-db"),
    ):
        r = run_cli(capsys, *args)
        outputs += [r.stdout, r.stderr]
    r = run_cli(capsys, "session", "finalize", sid, "-s", "completed", "--json", "--verbose")
    outputs += [r.stdout, r.stderr]
    assert all(key not in text for text in outputs)
    with psycopg.connect(registry_db) as conn:
        tables = [
            t
            for (t,) in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'registry'"
            )
        ]
        for table in tables:
            dump = conn.execute(
                f"select coalesce(string_agg(t::text, ' '), '') from registry.{table} t"
            ).fetchone()[0]
            assert key not in dump, table
    assert key.startswith("sk-")
