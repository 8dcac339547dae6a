"""Start, wait for and stop background servers: the LiteLLM proxy and the fake provider.

Used by ``benchmark proxy``, the end-to-end tests and the demo. Each server runs in its own
process group (``start_new_session``) so stopping it also ends anything it spawned; nothing is
left behind. Nothing here imports LiteLLM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from session_cli.errors import BenchmarkError

LIVELINESS_PATH = "/health/liveliness"
# LiteLLM 1.106.2 answers /health/liveliness about 13 s after start on a 2-core machine
DEFAULT_START_TIMEOUT_S = 120.0
DEFAULT_STOP_TIMEOUT_S = 20.0


class ProxyError(BenchmarkError):
    """The proxy (or the fake provider) could not be started, reached or stopped."""


class ProxyNotInstalledError(ProxyError):
    """The ``proxy`` extra (litellm[proxy], prometheus-client) is not installed."""


@dataclass
class ServerProcess:
    """A background server: its process, where it listens and where it logs."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout_s: float = DEFAULT_STOP_TIMEOUT_S) -> int | None:
        return stop_process_group(self.process.pid, timeout_s=timeout_s, popen=self.process)


def free_port(host: str = "127.0.0.1") -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def litellm_executable() -> str:
    """The ``litellm`` console script of this environment, or a clear error naming the extra."""
    candidates = [Path(sys.executable).with_name("litellm"), shutil.which("litellm")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    raise ProxyNotInstalledError(
        "LiteLLM is not installed in this environment (the `litellm` command is missing)",
        hint="install the proxy extra: `uv sync --all-extras` (or `pip install 'harness-bench[proxy]'`)",
    )


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until_healthy(
    url: str,
    *,
    timeout_s: float,
    process: subprocess.Popen[bytes] | None = None,
    log_path: Path | None = None,
) -> float:
    """Poll ``url`` until it answers 200; returns the seconds waited. Fails fast if the process exits."""
    started = time.monotonic()
    deadline = started + timeout_s
    with httpx.Client(timeout=2.0) as client:
        while True:
            if process is not None and process.poll() is not None:
                tail = log_tail(log_path) if log_path else ""
                raise ProxyError(
                    f"{url}: the server exited with status {process.returncode} before it was healthy",
                    hint=f"last log lines ({log_path}):\n{tail}" if tail else None,
                )
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                tail = log_tail(log_path) if log_path else ""
                raise ProxyError(
                    f"{url}: not healthy after {timeout_s:.0f} s",
                    hint=f"last log lines ({log_path}):\n{tail}" if tail else None,
                )
            time.sleep(0.25)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _require_free(host: str, port: int, what: str) -> None:
    # checked before spawning: otherwise the health check could be answered by whoever holds the port
    if port_in_use(host, port):
        raise ProxyError(
            f"{host}:{port} is already in use, cannot start {what} there", hint="pick another port"
        )


def spawn(
    command: list[str], *, env: Mapping[str, str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Run ``command`` in a new process group, stdout and stderr appended to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.is_dir():
        try:
            text = stat.read_text()
        except OSError:
            return False
        return text[text.rindex(")") + 2 :].split()[0] != "Z"
    try:  # pragma: no cover  (non-Linux)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of process group ``pgid``; [] when none. Reads /proc on Linux."""
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover  (non-Linux: fall back to signal 0)
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # fields after the parenthesised command: state ppid pgrp ...
        fields = stat[stat.rindex(")") + 2 :].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    return bool(group_members(pgid))


def stop_process_group(
    pid: int, *, timeout_s: float = DEFAULT_STOP_TIMEOUT_S, popen: subprocess.Popen[bytes] | None = None
) -> int | None:
    """SIGTERM the process group led by ``pid`` (graceful: LiteLLM flushes its callbacks), SIGKILL
    whatever is left after ``timeout_s``; returns the leader's exit status when known."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    status: int | None = None
    while time.monotonic() < deadline:
        if popen is not None and status is None:
            status = popen.poll()
        elif popen is None and status is None:
            with contextlib.suppress(ChildProcessError):
                done, code = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(code)
        if not _group_alive(pid):
            return status if status is not None else (popen.poll() if popen else None)
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    if popen is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=5)
        return popen.returncode
    return status


def litellm_environment(base: Mapping[str, str] | None = None, **overrides: str) -> dict[str, str]:
    """The environment LiteLLM runs in: the local price list (no download at start), overrides applied."""
    env = dict(os.environ if base is None else base)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(overrides)
    return env


def start_litellm(
    config: Path,
    *,
    port: int,
    env: Mapping[str, str],
    log_path: Path,
    host: str = "127.0.0.1",
    timeout_s: float = DEFAULT_START_TIMEOUT_S,
) -> ServerProcess:
    """``litellm --config CONFIG --host HOST --port PORT`` in the background, healthy on return."""
    command = [litellm_executable(), "--config", str(config), "--host", host, "--port", str(port)]
    _require_free(host, port, "LiteLLM")
    process = spawn(command, env=env, log_path=log_path)
    base_url = f"http://{host}:{port}"
    try:
        wait_until_healthy(
            base_url + LIVELINESS_PATH, timeout_s=timeout_s, process=process, log_path=log_path
        )
    except BaseException:
        stop_process_group(process.pid, popen=process, timeout_s=5)
        raise
    return ServerProcess("litellm", process, base_url, log_path)


def start_fake_provider(
    *,
    port: int,
    log_path: Path,
    profiles: Path | None = None,
    host: str = "127.0.0.1",
    env: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> ServerProcess:
    """``python -m session_cli.fake_provider`` in the background, healthy on return."""
    command = [sys.executable, "-m", "session_cli.fake_provider", "--host", host, "--port", str(port)]
    _require_free(host, port, "the fake provider")
    if profiles is not None:
        command += ["--profiles", str(profiles)]
    process = spawn(command, env=env if env is not None else os.environ, log_path=log_path)
    base_url = f"http://{host}:{port}"
    try:
        wait_until_healthy(base_url + "/health", timeout_s=timeout_s, process=process, log_path=log_path)
    except BaseException:
        stop_process_group(process.pid, popen=process, timeout_s=5)
        raise
    return ServerProcess("fake-provider", process, base_url, log_path)
