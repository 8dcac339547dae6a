"""``benchmark proxy`` errors and bookkeeping that need no running LiteLLM (the e2e modules start one)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from session_cli import proxy_process as pp
from tests.cli import run_cli

DBLESS = Path(__file__).resolve().parents[2] / "configs" / "litellm" / "config.dbless.yaml"


@pytest.fixture
def proxy_env(cli_env: Path, monkeypatch: pytest.MonkeyPatch, litellm_db: str) -> Path:
    monkeypatch.setenv("LITELLM_MASTER_KEY", "sk-test-master")
    monkeypatch.setenv("LITELLM_DATABASE_URL", litellm_db)
    monkeypatch.setenv("BENCHMARK_KEY_BACKEND", "local")
    return cli_env


def test_missing_extra_gives_the_install_hint(
    proxy_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    result = run_cli(capsys, "proxy", "start", "--config", str(DBLESS))
    assert result.code == 1
    assert "LiteLLM is not installed in this environment" in result.stderr
    assert "uv sync --all-extras" in result.stderr


def test_missing_master_key_names_config_and_field(
    proxy_env: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("LITELLM_MASTER_KEY")
    result = run_cli(capsys, "proxy", "start", "--config", str(DBLESS))
    assert result.code == 2
    assert (
        f"{DBLESS}: general_settings.master_key reads LITELLM_MASTER_KEY, which is not set" in result.stderr
    )


def test_dbless_mode_needs_the_spend_log_database(
    proxy_env: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.delenv("LITELLM_DATABASE_URL")
    result = run_cli(capsys, "proxy", "start", "--config", str(DBLESS), "--port", str(pp.free_port()))
    assert result.code == 2
    assert "LITELLM_DATABASE_URL is not set" in result.stderr


def test_missing_config_file(proxy_env: Path, tmp_path: Path, capsys) -> None:
    result = run_cli(capsys, "proxy", "start", "--config", str(tmp_path / "nope.yaml"))
    assert result.code == 2
    assert "nope.yaml: LiteLLM config not found" in result.stderr


def test_busy_port_is_refused(proxy_env: Path, capsys) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli(capsys, "proxy", "start", "--config", str(DBLESS), "--port", str(port))
    assert result.code == 1
    assert f"127.0.0.1:{port} is already in use" in result.stderr


def test_stop_and_status_without_a_proxy(proxy_env: Path, capsys) -> None:
    stopped = run_cli(capsys, "proxy", "stop")
    assert stopped.code == 0 and "no proxy started by `benchmark proxy start` is recorded" in stopped.stderr
    status = run_cli(capsys, "proxy", "status")
    assert status.code == 1 and json.loads(status.stdout) == {"running": False}


def test_stale_state_is_cleaned_up(proxy_env: Path, capsys) -> None:
    state = proxy_env / "proxy" / "litellm.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": 2**22 + 7, "base_url": "http://127.0.0.1:1"}))
    result = run_cli(capsys, "proxy", "stop")
    assert result.code == 0 and "was not running" in result.stderr
    assert not state.exists()
