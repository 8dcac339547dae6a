"""Real harness CLIs end to end: Claude Code, Codex, OpenCode and Gemini CLI from npm, run non-interactively
through their rendered session snippets against a real database-less LiteLLM proxy whose upstream is the
fake provider; their requests modelled by the real pipeline (run_window: raw spend logs -> dbt).

Each CLI runs
- with its session's environment: ``eval "$(benchmark session env ID)"`` in a shell, or through
  ``benchmark session run`` (the stock Claude Code case), with the profile's own launch command;
- with a fresh HOME (and XDG directories) of its own, its state in the session's harness directory;
- in a network namespace where only loopback exists (tests/e2e/harness_sandbox.py): the proxy port is
  bridged in, everything else (DNS, registries, telemetry endpoints) is unreachable.

What each CLI asks for is fixed by its version and the fake's answers (a tool call to a request that
offers tools and carries no tool result; text otherwise), so request counts per alias are exact:
two main-model requests (tool call, then the answer after the tool result) plus the background calls
the CLI makes (Claude Code's Haiku tier only when nonessential traffic is allowed; OpenCode's title).

The CLIs come from ``scripts/install-harness-clis.sh`` (``make test`` runs it). Without them, or without
the ``proxy`` extra, these tests skip locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.rows import dict_row

from session_cli import proxy_process as pp
from session_cli.keys import hash_key
from tests.e2e.harness_sandbox import UnixBridge, netns_available, sandboxed
from tests.e2e.support import REPO_ROOT, Proxy, run_benchmark

pytestmark = [pytest.mark.e2e, pytest.mark.harness]

CLI_PREFIX = Path(os.environ.get("HARNESS_CLIS_PREFIX") or REPO_ROOT / ".cache" / "harness-clis")
CLI_BIN = CLI_PREFIX / "bin"
INSTALL_SCRIPT = REPO_ROOT / "scripts" / "install-harness-clis.sh"
# binary -> (npm package, version): what scripts/install-harness-clis.sh pins
PINNED = {
    "claude": ("@anthropic-ai/claude-code", "2.1.197"),
    "codex": ("@openai/codex", "0.169.0"),
    "opencode": ("opencode-ai", "1.18.33"),
    "gemini": ("@google/gemini-cli", "0.61.0"),
}
EXPERIMENT = "e2e-harness-clis"
TASK_CARD = "e2e-tool-loop"
PROMPT = "Run the shell command `echo harness-bench` and tell me what it printed."
RUN_TIMEOUT_S = 240.0
REFUSAL_LIMIT_S = 60.0  # a CLI refused by the proxy must give up well within this
FAKE_ANSWER = "alpha bravo"  # the fake's text answer starts with these words

# Quick fake models; usage always streamed (LiteLLM's Gemini route only logs tokens then).
HARNESS_PROFILES: dict[str, Any] = {
    "defaults": {"ttft_ms": 40, "tokens_per_s": 400, "output_tokens": 6, "stream_usage": "always"},
}


@dataclass(frozen=True)
class Case:
    id: str
    harness: str  # profile in configs/harnesses/
    variant: str
    binary: str
    driver: str  # "env": eval "$(benchmark session env ID)"; "run": benchmark session run
    expected: dict[str, int]  # alias -> requests the CLI sends for the two-turn loop
    background: str | None = None  # the alias of the background calls among ``expected``


CASES = [
    Case("claude-code", "claude-code", "kimi-k2-5-claude-code", "claude", "run", {"kimi-k2-5": 2}),
    # the same profile with nonessential traffic allowed: Claude Code then makes its Haiku-tier call
    Case(
        "claude-code-haiku", "claude-code", "e2e-kimi-k2-5-claude-code-haiku", "claude", "env",
        {"kimi-k2-5": 2, "kimi-k2-5-turbo": 1}, background="kimi-k2-5-turbo",
    ),
    Case("codex", "codex", "gpt-5-4-codex", "codex", "env", {"gpt-5.4": 2}),
    Case(
        "opencode", "opencode", "kimi-k2-5-opencode", "opencode", "env",
        {"kimi-k2-5": 2, "kimi-k2-5-turbo": 1}, background="kimi-k2-5-turbo",
    ),
    Case("gemini-cli", "gemini-cli", "kimi-k2-5-gemini-cli", "gemini", "env", {"kimi-k2-5": 2}),
]  # fmt: skip
BY_ID = {case.id: case for case in CASES}
# one case per CLI for the refusal checks
REFUSAL_CASES = [BY_ID[name] for name in ("claude-code", "codex", "opencode", "gemini-cli")]


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_or_fail(message: str) -> None:
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)


# --- the module's own databases, fake and proxy --------------------------------------------------
# The registry database doubles as the warehouse dbt builds into, so it is this module's alone;
# tests/e2e/conftest.py's fake_provider and dbless_proxy pick these overrides up.


@pytest.fixture(scope="module")
def registry_db(make_database: Callable[[str], str]) -> str:
    from session_cli.registry.migrate import upgrade_to_head

    url = make_database("harness_registry")
    upgrade_to_head(url)
    return url


@pytest.fixture(scope="module")
def litellm_db(make_database: Callable[[str], str]) -> str:
    from session_cli.litellm_schema import apply_litellm_migrations

    url = make_database("harness_litellm")
    apply_litellm_migrations(url)
    return url


@pytest.fixture(scope="module")
def fake_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pp.ServerProcess]:
    base = tmp_path_factory.mktemp("harness-fake")
    profiles = base / "profiles.json"
    profiles.write_text(json.dumps(HARNESS_PROFILES))
    server = pp.start_fake_provider(port=pp.free_port(), log_path=base / "fake.log", profiles=profiles)
    yield server
    server.stop()


# --- workspace: configs, task repository, CLIs, sandbox ------------------------------------------


@dataclass
class Workspace:
    root: Path
    configs: Path
    repo: Path
    benchmark_home: Path
    proxy: Proxy
    sandbox: Callable[[list[str]], list[str]]
    sandboxed_network: bool
    started: datetime

    @property
    def proxy_port(self) -> int:
        return int(self.proxy.base_url.rsplit(":", 1)[1])

    def cli_env(self) -> dict[str, str]:
        """What the operator's shell holds for `benchmark session create|run|finalize` (nothing else of
        the test runner's environment: `session run` passes its environment on to the harness)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "operator-home"),
            "LANG": "C.UTF-8",
            "BENCHMARK_DATABASE_URL": self.proxy.registry_url,
            "BENCHMARK_HOME": str(self.benchmark_home),
            "BENCHMARK_CONFIGS_DIR": str(self.configs),
            "BENCHMARK_KEY_BACKEND": "local",
            "BENCHMARK_OPERATOR": "e2e-harness",
            "LITELLM_BASE_URL": self.proxy.base_url,
            "LITELLM_MASTER_KEY": self.proxy.master_key,
        }

    def harness_env(self, name: str) -> dict[str, str]:
        """A minimal environment with a fresh HOME: nothing of the test runner's environment leaks in."""
        home = self.root / "homes" / f"{name}-{uuid.uuid4().hex[:6]}"
        for sub in (".config", ".cache", ".local/share", ".local/state"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        venv_bin = Path(sys.executable).parent
        return {
            "PATH": f"{CLI_BIN}:{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_DATA_HOME": str(home / ".local/share"),
            "XDG_STATE_HOME": str(home / ".local/state"),
            "LANG": "C.UTF-8",
            "TERM": "dumb",
            "BENCHMARK_HOME": str(self.benchmark_home),
            "BENCHMARK_PROMPT": PROMPT,
        }


def write_configs(dest: Path, repo: Path) -> None:
    """The project's configs plus this test's experiment, task card and one variant."""
    shutil.copytree(REPO_ROOT / "configs", dest)
    haiku = yaml.safe_load((dest / "variants" / "kimi-k2-5-claude-code.yaml").read_text())
    # an empty value turns the profile's CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC off (the CLI tests truthiness)
    haiku.update(name="e2e-kimi-k2-5-claude-code-haiku", env={"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": ""})
    (dest / "variants" / "e2e-kimi-k2-5-claude-code-haiku.yaml").write_text(yaml.safe_dump(haiku))
    experiment = {
        "version": 1,
        "name": EXPERIMENT,
        "description": "Every harness CLI through the real proxy (tests/e2e/test_harness_clis.py)",
        "variants": sorted({case.variant for case in CASES}),
    }
    (dest / "experiments" / f"{EXPERIMENT}.yaml").write_text(yaml.safe_dump(experiment))
    card = {
        "version": 1,
        "name": TASK_CARD,
        "goal": "Complete one tool call and answer.",
        "starting_prompt": PROMPT,
        "stop_condition": "The CLI printed its answer.",
        "timebox_minutes": 5,
        "repo_path": str(repo),
    }
    (dest / "task-cards" / f"{TASK_CARD}.yaml").write_text(yaml.safe_dump(card))


def git_repo(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "README.md").write_text("harness-bench e2e task repository\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@localhost",
           "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@localhost"}  # fmt: skip
    for args in (["init", "-q"], ["add", "README.md"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=path, env=env, check=True, capture_output=True)
    return path


@pytest.fixture(scope="module")
def clis() -> Path:
    missing = [name for name in PINNED if not (CLI_BIN / name).exists()]
    if missing:
        skip_or_fail(
            f"harness CLIs not installed in {CLI_BIN} (missing: {', '.join(missing)}); "
            f"run {INSTALL_SCRIPT.relative_to(REPO_ROOT)} (make test does)"
        )
    return CLI_BIN


@pytest.fixture(scope="module")
def workspace(
    clis: Path, dbless_proxy: Proxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workspace]:
    root = tmp_path_factory.mktemp("harness")
    repo = git_repo(root / "repo")
    write_configs(root / "configs", repo)
    started = datetime.now(UTC)
    port = int(dbless_proxy.base_url.rsplit(":", 1)[1])
    if netns_available():
        bridge = UnixBridge(root / "proxy.sock", port)
        with bridge:
            yield Workspace(
                root, root / "configs", repo, root / "benchmark-home", dbless_proxy,
                lambda command: sandboxed(command, {port: bridge.path}), True, started,
            )  # fmt: skip
        return
    message = (
        "user/network namespaces are unavailable (unshare --net --map-root-user failed): the harness "
        "CLIs run without the loopback-only sandbox"
    )
    warnings.warn(message, stacklevel=1)
    yield Workspace(
        root, root / "configs", repo, root / "benchmark-home", dbless_proxy, lambda c: c, False, started
    )


# --- running the CLIs ------------------------------------------------------------------------------


def launch_command(harness: str) -> str:
    """The profile's own launch command (configs/harnesses/<name>.yaml)."""
    profile = yaml.safe_load((REPO_ROOT / "configs" / "harnesses" / f"{harness}.yaml").read_text())
    return profile["launch"]["command"]


@dataclass
class Run:
    case: Case
    session_id: str
    key: str
    key_hash: str
    exit_code: int
    seconds: float
    stdout: str
    stderr: str
    home: Path
    harness_dir: Path
    rendered: dict[str, Any] = field(default_factory=dict)  # `session env --format json` (key masked)
    status: str = ""


def bench(ws: Workspace, *args: str, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
    done = run_benchmark(*args, env=ws.cli_env(), timeout=timeout)
    assert done.returncode == 0, f"benchmark {' '.join(args)}: {done.stderr}"
    return done


def create_session(ws: Workspace, case: Case) -> dict[str, Any]:
    created = bench(ws, "session", "create", "-e", EXPERIMENT, "-v", case.variant, "-t", TASK_CARD, "--json")
    return json.loads(created.stdout)


def session_env(ws: Workspace, session_id: str) -> tuple[dict[str, str], list[str]]:
    rendered = json.loads(bench(ws, "session", "env", session_id, "--format", "json").stdout)
    return rendered["env"], rendered["unset"]


def key_of(env: dict[str, str]) -> str:
    keys = {value for value in env.values() if value.startswith("sk-hb-")}
    assert len(keys) == 1, "the rendered environment must carry exactly one session key"
    return keys.pop()


def run_sandboxed(ws: Workspace, command: list[str], env: dict[str, str]) -> tuple[int, float, str, str]:
    started = time.monotonic()
    done = subprocess.run(
        ws.sandbox(command),
        env=env,
        cwd=ws.repo,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    return done.returncode, round(time.monotonic() - started, 2), done.stdout, done.stderr


def run_with_env(ws: Workspace, case: Case) -> Run:
    """Create, ``eval "$(benchmark session env ID)"`` + the launch command in the sandbox, finalize."""
    row = create_session(ws, case)
    sid = row["session_id"]
    env, _ = session_env(ws, sid)
    key = key_of(env)
    harness_env = ws.harness_env(case.id) | {"SESSION_ID": sid}
    script = f'eval "$(benchmark session env "$SESSION_ID")" && {launch_command(case.harness)}'
    code, seconds, out, err = run_sandboxed(ws, ["bash", "-c", script], harness_env)
    harness_dir = Path(row["session_dir"]) / "harness"
    files = snapshot(harness_dir)
    status = "completed" if code == 0 else "failed"
    bench(ws, "session", "finalize", sid, "--status", status, "--notes", f"{case.id}: exit {code}")
    run = Run(case, sid, key, hash_key(key), code, seconds, out, err, Path(harness_env["HOME"]), harness_dir)
    run.rendered = {"env": {k: ("<key>" if v == key else v) for k, v in env.items()}, "files": files}
    run.status = status
    return run


def run_with_session_run(ws: Workspace, case: Case) -> Run:
    """``benchmark session run ... -- <sandbox> bash -c '<launch command>'``: create, run, finalize."""
    harness_env = ws.harness_env(case.id)
    env = ws.cli_env() | harness_env  # session run withholds the operator's secrets from the harness
    command = ws.sandbox(["bash", "-c", launch_command(case.harness)])
    exe = Path(sys.executable).with_name("benchmark")
    started = time.monotonic()
    done = subprocess.run(
        [str(exe), "session", "run", "-e", EXPERIMENT, "-v", case.variant, "-t", TASK_CARD,
         "--label", f"e2e-{case.id}", "--json", "--", *command],
        env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    seconds = round(time.monotonic() - started, 2)
    assert done.returncode == 0, done.stderr
    [outcome] = json.loads(done.stdout)
    sid = outcome["session_id"]
    with psycopg.connect(ws.proxy.registry_url, row_factory=dict_row) as conn:
        key_hash = conn.execute(
            "select key_hash from registry.sessions where session_id = %s", (sid,)
        ).fetchone()["key_hash"]
    # with --json the harness's stdout goes to stderr (our stdout is the outcome list)
    run = Run(case, sid, "", key_hash, outcome["exit_code"], seconds, done.stderr, done.stderr,
              Path(harness_env["HOME"]), ws.benchmark_home / "sessions" / sid / "harness")  # fmt: skip
    run.status = outcome["status"]
    return run


def snapshot(directory: Path) -> dict[str, str]:
    """Text of the rendered config files the harness reads (before finalize deletes the directory)."""
    wanted = {"config.toml", "opencode.json", "settings.json"}
    return {
        str(p.relative_to(directory)): p.read_text()
        for p in directory.rglob("*")
        if p.is_file() and p.name in wanted
    }


@dataclass(frozen=True)
class Captured:
    """A session's rendered environment and a copy of its harness files, kept past its finalize
    (which deletes the private directory) so its CLI can be run again."""

    env: dict[str, str]
    unset: list[str]
    key: str

    @classmethod
    def of(cls, ws: Workspace, row: dict[str, Any], dest: Path) -> Captured:
        env, unset = session_env(ws, row["session_id"])
        harness_dir = str(Path(row["session_dir"]) / "harness")
        shutil.copytree(harness_dir, dest)
        moved = {name: value.replace(harness_dir, str(dest)) for name, value in env.items()}
        return cls(moved, unset, key_of(env))

    def run(self, ws: Workspace, case: Case, key: str, label: str) -> tuple[int, float, str, str]:
        """The CLI with this environment and ``key`` in place of the session key."""
        harness_env = ws.harness_env(label)
        for name in self.unset:
            harness_env.pop(name, None)
        harness_env.update({name: (key if v == self.key else v) for name, v in self.env.items()})
        return run_sandboxed(ws, ["bash", "-c", launch_command(case.harness)], harness_env)


@dataclass
class Traffic:
    runs: dict[str, Run]
    unknown: dict[str, tuple[str, int, float]]  # case id -> (key hash, exit code, seconds)
    revoked: dict[str, tuple[str, str, int, float]]  # case id -> (session id, key hash, exit code, seconds)


@pytest.fixture(scope="module")
def traffic(workspace: Workspace) -> Traffic:
    ws = workspace
    runs = {}
    for case in CASES:
        runs[case.id] = run_with_session_run(ws, case) if case.driver == "run" else run_with_env(ws, case)
    unknown, revoked = {}, {}
    for case in REFUSAL_CASES:
        # a revoked key: the session is finalized (key revoked) before its CLI ever runs
        row = create_session(ws, case)
        captured = Captured.of(ws, row, ws.root / "captured" / case.id)
        bench(ws, "session", "finalize", row["session_id"], "--status", "aborted", "--notes", "revoked")
        code, seconds, _, _ = captured.run(ws, case, captured.key, f"revoked-{case.id}")
        revoked[case.id] = (row["session_id"], hash_key(captured.key), code, seconds)
        # an unknown key: looks like a session key, is in no registry row
        stranger = "sk-hb-" + secrets.token_urlsafe(32)
        code, seconds, _, _ = captured.run(ws, case, stranger, f"unknown-{case.id}")
        unknown[case.id] = (hash_key(stranger), code, seconds)
    report = {cid: (r.exit_code, r.seconds) for cid, r in runs.items()}
    print(f"\nharness runs (exit code, seconds): {report}")
    print(f"unknown key (exit code, seconds): { {c: v[1:] for c, v in unknown.items()} }")
    print(f"revoked key (exit code, seconds): { {c: v[2:] for c, v in revoked.items()} }")
    return Traffic(runs, unknown, revoked)


# --- the pipeline ----------------------------------------------------------------------------------


@dataclass
class Marts:
    url: str
    result: Any

    def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            return conn.execute(sql, params).fetchall()


def spend_rows(proxy: Proxy, key_hash: str) -> list[dict[str, Any]]:
    """All rows of a key hash once the proxy's writer settled (no new row for half a second)."""
    rows = proxy.rows(key_hash)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        time.sleep(0.5)
        again = proxy.rows(key_hash)
        if len(again) == len(rows) and rows:
            return again
        rows = again
    return rows


@pytest.fixture(scope="module")
def marts(workspace: Workspace, traffic: Traffic) -> Marts:
    import importlib

    import dagster as dg

    from benchmark_pipeline.definitions import DOMAINS
    from benchmark_pipeline.resources import LiteLLMSourceResource, PrometheusResource, WarehouseResource
    from benchmark_pipeline.run import DEFAULT_SELECTION, run_window, without_prometheus

    ws = workspace
    hashes = [run.key_hash for run in traffic.runs.values()]
    hashes += [v[0] for v in traffic.unknown.values()] + [v[1] for v in traffic.revoked.values()]
    for key_hash in hashes:  # every row written before landing
        spend_rows(ws.proxy, key_hash)
    url, litellm_url = ws.proxy.registry_url, ws.proxy.spend_logs_url
    domains = [importlib.import_module(f"benchmark_pipeline.defs.{name}").defs for name in DOMAINS]
    resources = {
        "warehouse": WarehouseResource(database_url=url),
        "litellm_source": LiteLLMSourceResource(database_url=litellm_url, source="database"),
        "prometheus": PrometheusResource(base_url="http://127.0.0.1:9"),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        defs = dg.Definitions.merge(*domains, dg.Definitions(resources=resources))
        result = run_window(
            ws.started - timedelta(minutes=1),
            datetime.now(UTC) + timedelta(minutes=1),
            selection=without_prometheus(DEFAULT_SELECTION, url),
            definitions=defs,
            instance=dg.DagsterInstance.ephemeral(),
        )
    print(f"pipeline: {result.seconds:.1f} s, partitions {result.first_partition}..{result.last_partition}")
    return Marts(url, result)


# --- tests -------------------------------------------------------------------------------------------


def test_the_pinned_versions_are_installed(clis: Path) -> None:
    installed = (CLI_PREFIX / "installed.txt").read_text().split()
    assert installed == [f"{package}@{version}" for package, version in PINNED.values()]
    for binary, (_, version) in PINNED.items():
        shown = subprocess.run(
            [str(clis / binary), "--version"], capture_output=True, text=True, timeout=60,
            env={"PATH": f"{clis}:/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent"},
        )  # fmt: skip
        assert version in shown.stdout, (binary, shown.stdout, shown.stderr)


def test_the_sandbox_allows_loopback_only(workspace: Workspace) -> None:
    if not workspace.sandboxed_network:
        skip_or_fail("no network namespaces here: the sandbox cannot be checked")
    probe = (
        "import socket, sys\n"
        "try:\n    socket.create_connection(('192.0.2.1', 443), timeout=3)\n"
        "except OSError as exc:\n    print('outside', exc.errno)\n"
        f"socket.create_connection(('127.0.0.1', {workspace.proxy_port}), timeout=3); print('proxy ok')\n"
    )
    code, _, out, err = run_sandboxed(workspace, [sys.executable, "-c", probe], {"PATH": "/usr/bin:/bin"})
    assert code == 0, err
    assert out.split("\n")[:2] == ["outside 101", "proxy ok"]  # ENETUNREACH


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_cli_completes_its_tool_loop(traffic: Traffic, case: Case, record_property) -> None:
    run = traffic.runs[case.id]
    record_property("seconds", run.seconds)
    assert run.exit_code == 0, f"{case.id} exited {run.exit_code}: {run.stderr[-2000:]}"
    assert run.status == "completed"
    assert FAKE_ANSWER in run.stdout, run.stdout[-2000:]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_the_proxy_logged_every_request_under_the_session_key(
    workspace: Workspace, traffic: Traffic, case: Case
) -> None:
    run = traffic.runs[case.id]
    rows = spend_rows(workspace.proxy, run.key_hash)
    assert len(rows) == sum(case.expected.values())
    assert {r["status"] for r in rows} == {"success"}
    assert {r["metadata"]["user_api_key_alias"] for r in rows} == {f"hb-{run.session_id}"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_requests_land_in_fct_requests_attributed_to_the_session(
    marts: Marts, traffic: Traffic, case: Case
) -> None:
    assert marts.result.success, marts.result.failures
    run = traffic.runs[case.id]
    rows = marts.fetch(
        "select attribution, harness, variant, status, is_within_session_window, input_tokens, output_tokens"
        " from marts.fct_requests where session_id = %s",
        uuid.UUID(run.session_id),
    )
    assert len(rows) == sum(case.expected.values())
    assert {(r["attribution"], r["harness"], r["variant"], r["status"]) for r in rows} == {
        ("key_hash", case.harness, case.variant, "success")
    }
    assert all(r["is_within_session_window"] for r in rows)
    assert all(r["input_tokens"] > 0 and r["output_tokens"] > 0 for r in rows)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_fct_requests_carry_the_model_and_background_aliases(
    marts: Marts, traffic: Traffic, case: Case
) -> None:
    run = traffic.runs[case.id]
    rows = marts.fetch(
        "select model_alias, is_background_model from marts.fct_requests where session_id = %s",
        uuid.UUID(run.session_id),
    )
    assert Counter(r["model_alias"] for r in rows) == Counter(case.expected)
    for row in rows:
        assert row["is_background_model"] == (row["model_alias"] == case.background), row


@pytest.mark.parametrize("case", REFUSAL_CASES, ids=lambda c: c.id)
def test_an_unknown_key_is_refused_and_stays_unattributed(
    workspace: Workspace, marts: Marts, traffic: Traffic, case: Case
) -> None:
    key_hash, code, seconds = traffic.unknown[case.id]
    assert code != 0 and seconds < REFUSAL_LIMIT_S, (code, seconds)
    rows = spend_rows(workspace.proxy, key_hash)
    assert rows, "the refused requests must be logged"
    assert {(r["status"], r["metadata"]["error_information"]["error_code"]) for r in rows} == {
        ("failure", "401")
    }
    ids = [r["request_id"] for r in rows]
    facts = marts.fetch(
        "select attribution, session_id, status, error_code from marts.fct_requests"
        " where request_id = any(%s)",
        ids,
    )
    assert len(facts) == len(rows)
    assert {(f["attribution"], f["session_id"], f["status"], f["error_code"]) for f in facts} == {
        ("unattributed", None, "failure", "401")
    }


@pytest.mark.parametrize("case", REFUSAL_CASES, ids=lambda c: c.id)
def test_a_finalized_sessions_key_is_refused_to_its_cli(
    workspace: Workspace, traffic: Traffic, case: Case
) -> None:
    _, key_hash, code, seconds = traffic.revoked[case.id]
    assert code != 0 and seconds < REFUSAL_LIMIT_S, (code, seconds)
    rows = spend_rows(workspace.proxy, key_hash)
    assert rows and {r["status"] for r in rows} == {"failure"}
    assert {r["metadata"]["error_information"]["error_code"] for r in rows} == {"401"}
    assert all("revoked" in r["metadata"]["error_information"]["error_message"] for r in rows), [
        r["metadata"]["error_information"]["error_message"] for r in rows
    ]


@pytest.mark.parametrize("case", [c for c in CASES if c.driver == "env"], ids=lambda c: c.id)
def test_the_key_stays_in_the_session_directory(workspace: Workspace, traffic: Traffic, case: Case) -> None:
    """The CLI kept its state in the session's harness directory (deleted at finalize) and wrote the
    key nowhere else: not in its HOME, not in the task repository."""
    run = traffic.runs[case.id]
    assert not run.harness_dir.exists(), "finalize deletes the session's private directory"
    for base in (run.home, workspace.repo):
        leaked = [p for p in base.rglob("*") if p.is_file() and run.key.encode() in p.read_bytes()]
        assert leaked == [], leaked


def test_the_rendered_snippets_turn_telemetry_off(traffic: Traffic) -> None:
    env = traffic.runs["claude-code-haiku"].rendered["env"]
    assert (env["DISABLE_TELEMETRY"], env["DISABLE_ERROR_REPORTING"], env["DISABLE_AUTOUPDATER"]) == (
        "1",
    ) * 3
    codex = traffic.runs["codex"].rendered["files"]["config.toml"]
    assert "[analytics]\nenabled = false" in codex and "check_for_update_on_startup = false" in codex
    gemini = json.loads(traffic.runs["gemini-cli"].rendered["files"][".gemini/settings.json"])
    assert gemini["privacy"]["usageStatisticsEnabled"] is False
    opencode = json.loads(traffic.runs["opencode"].rendered["files"]["opencode.json"])
    assert (opencode["autoupdate"], opencode["share"]) == (False, "disabled")
