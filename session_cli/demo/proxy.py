"""``benchmark demo --proxy``: the demo's sessions as real HTTP traffic through a real LiteLLM proxy.

Instead of writing simulated rows, this path starts the local fake provider and a database-less
LiteLLM proxy (the project's plugin checks the session keys and writes one spend-log row per
request into the LiteLLM table the demo prepared), creates each demo session with a locally minted
key, drives it with a scripted client speaking its harness's protocol (Claude Code: Anthropic
``/v1/messages``, OpenCode: ``/v1/chat/completions``, both streamed, with a tool-call round trip
like an agent loop), and finalizes it. Everything it starts is stopped on the way out, also on
errors, Ctrl-C and SIGTERM.

The story is the plain demo's: both variants call the same model (Kimi K2.5, Turbo as background
model), and Claude Code is slower to the first token. Here the difference has a mechanism: the
fake provider charges prompt-processing time per 1000 uncached prompt tokens
(``prefill_ms_per_1k_tokens``), and the scripted Claude Code client sends a larger system prompt
than the OpenCode client (sizes below are illustrative, not measurements of either harness).

The fake profiles, the proxy settings and the client scripts are also the machinery of the
full end-to-end test (``tests/e2e/test_full_pipeline.py`` uses :func:`running_stack`).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from session_cli import settings
from session_cli.configs.loader import ConfigSet
from session_cli.demo import scenario
from session_cli.errors import BenchmarkError

# the fake upstream, per alias (the generated config serves each alias under its own name)
TOOL_RESULT = "harness-bench"
NUM_RETRIES = 0  # the client sees every upstream failure (LiteLLM's default 2 retries hide most of them)


def demo_profiles(seed: int) -> dict[str, Any]:
    """Latency profiles of the fake upstream for the demo's two aliases (same for both variants).

    kimi-k2-5: 120 ms to the first token plus 50 ms per 1000 uncached prompt tokens, half of every
    prompt served from the cache, 160 tokens/s, 3% of requests failing (seeded by the demo's seed).
    """
    return {
        "defaults": {"ttft_ms": 60, "tokens_per_s": 300, "output_tokens": 8},
        "models": {
            "kimi-k2-5": {
                "ttft_ms": 120,
                "prefill_ms_per_1k_tokens": 50,
                "cached_prompt_fraction": 0.5,
                "tokens_per_s": 160,
                "output_tokens": 24,
                "failure_rate": 0.03,
                "seed": seed,
            },
            "kimi-k2-5-turbo": {"ttft_ms": 60, "prefill_ms_per_1k_tokens": 20, "tokens_per_s": 300},
        },
    }


@dataclass(frozen=True)
class HarnessScript:
    """How the scripted client of one variant talks: its protocol and its system prompt's size."""

    protocol: str  # "anthropic" (/v1/messages) or "chat" (/v1/chat/completions)
    system_prompt_tokens: int  # about 4 characters per token (the fake counts ceil(chars / 4))


SCRIPTS: dict[str, HarnessScript] = {
    "kimi-k2-5-claude-code": HarnessScript(protocol="anthropic", system_prompt_tokens=12_000),
    "kimi-k2-5-opencode": HarnessScript(protocol="chat", system_prompt_tokens=4_000),
}

BASH_TOOL = {
    "name": "bash",
    "description": "Run a shell command in the repository and return its output.",
    "schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
}


class DemoProxyError(BenchmarkError):
    """The proxy path of the demo could not run (extra missing, a server failed, a request broke)."""


def require_proxy_extra() -> None:
    """One line with the install hint when litellm[proxy] is not installed."""
    from session_cli import proxy_process as pp

    if importlib.util.find_spec("litellm") is None:
        raise DemoProxyError(
            "`benchmark demo --proxy` needs the proxy extra (litellm[proxy], prometheus-client), "
            "which is not installed",
            hint="install it with `uv sync --extra proxy`, or run `benchmark demo` without --proxy",
        )
    try:
        pp.litellm_executable()
    except pp.ProxyNotInstalledError as exc:
        raise DemoProxyError(exc.message, hint="install it with `uv sync --extra proxy`") from exc


# --------------------------------------------------------------------------- servers


@dataclass
class ProxyStack:
    """The running fake provider and LiteLLM proxy; ``master_key`` stays in this process."""

    fake_url: str
    base_url: str
    workdir: Path
    master_key: str = field(repr=False)
    fake_log: Path
    litellm_log: Path
    config_path: Path
    pids: list[int] = field(default_factory=list)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """While servers run, SIGTERM unwinds like Ctrl-C (so they are stopped); main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        if not received:  # the first one unwinds; later ones must not break the clean-up
            received.append(signum)
            raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def running_stack(
    workdir: Path,
    profiles: Mapping[str, Any],
    *,
    registry_url: str,
    spend_logs_url: str,
    litellm_config_source: Path,
    port: int | None = None,
    router_settings: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[ProxyStack]:
    """Start the fake provider (``profiles``) and a database-less LiteLLM on a fake-provider copy of
    ``litellm_config_source``; both are stopped when the block exits, however it exits.

    LiteLLM checks keys against ``registry_url`` and writes spend-log rows into ``spend_logs_url``;
    its master key is random and never leaves this process. Logs: ``workdir/{fake,litellm}.log``.
    """
    from session_cli import proxy_process as pp
    from session_cli.commands.proxy import dbless_environment
    from session_cli.fake_provider.litellm_config import write_fake_config

    workdir.mkdir(parents=True, exist_ok=True)
    profiles_path = workdir / "fake-profiles.json"
    profiles_path.write_text(json.dumps(profiles, indent=2))
    fake_log, litellm_log = workdir / "fake.log", workdir / "litellm.log"
    for log in (fake_log, litellm_log):
        log.write_text("")
    master_key = "sk-demo-" + secrets.token_hex(16)
    started: list[pp.ServerProcess] = []
    with _terminate_as_interrupt():
        try:
            fake = pp.start_fake_provider(port=pp.free_port(), log_path=fake_log, profiles=profiles_path)
            started.append(fake)
            config = write_fake_config(
                workdir / "litellm.yaml",
                fake.base_url,
                litellm_config_source,
                router_settings={"num_retries": NUM_RETRIES, **(router_settings or {})},
            )
            env = pp.litellm_environment(
                {**os.environ, "BENCHMARK_DATABASE_URL": registry_url}, LITELLM_MASTER_KEY=master_key
            )
            env["LITELLM_DATABASE_URL"] = spend_logs_url
            env.update(extra_env or {})
            with _env(BENCHMARK_DATABASE_URL=registry_url):  # dbless_environment resolves it from settings
                env = dbless_environment(env)
            litellm = pp.start_litellm(config, port=port or pp.free_port(), env=env, log_path=litellm_log)
            started.append(litellm)
            yield ProxyStack(
                fake_url=fake.base_url,
                base_url=litellm.base_url,
                workdir=workdir,
                master_key=master_key,
                fake_log=fake_log,
                litellm_log=litellm_log,
                config_path=config,
                pids=[s.pid for s in started],
            )
        finally:
            # LiteLLM first: SIGTERM lets it finish in-flight requests and commit their rows
            for server in reversed(started):
                server.stop()


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


# --------------------------------------------------------------------------- scripted clients


@dataclass
class Turn:
    """One request as the client saw it."""

    model: str
    status: int
    latency_s: float
    ttft_s: float | None = None
    text: str = ""
    tool_call: dict[str, Any] | None = None  # {"id", "name", "arguments": dict}


def _sse(response: Any) -> Iterator[dict[str, Any]]:
    for line in response.iter_lines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                yield json.loads(data)


class HarnessClient:
    """Streams requests the way the variant's harness does, timing each on the client side."""

    def __init__(self, base_url: str, key: str, protocol: str, timeout_s: float = 60.0) -> None:
        import httpx

        if protocol not in ("anthropic", "chat"):
            raise ValueError(f"unknown protocol {protocol!r}")
        self.protocol = protocol
        self._http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HarnessClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # conversation items in the client's own protocol
    def user(self, text: str) -> dict[str, Any]:
        return {"role": "user", "content": text}

    def tool_round(self, call: dict[str, Any], output: str) -> list[dict[str, Any]]:
        """The assistant's tool call and the tool's result, to append to the history."""
        if self.protocol == "anthropic":
            return [
                {
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": call["id"],
                            "name": call["name"],
                            "input": call["arguments"],
                        }
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": output}],
                },
            ]
        function = {"name": call["name"], "arguments": json.dumps(call["arguments"])}
        return [
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": call["id"], "type": "function", "function": function}]},
            {"role": "tool", "tool_call_id": call["id"], "content": output},
        ]  # fmt: skip

    def send(self, model: str, system: str, history: list[dict[str, Any]], *, tools: bool = False) -> Turn:
        if self.protocol == "anthropic":
            return self._messages(model, system, history, tools)
        return self._chat(model, system, history, tools)

    def _messages(self, model: str, system: str, history: list[dict[str, Any]], tools: bool) -> Turn:
        payload: dict[str, Any] = {
            "model": model, "max_tokens": 1024, "system": system, "messages": history, "stream": True
        }  # fmt: skip
        if tools:
            payload["tools"] = [
                {"name": BASH_TOOL["name"], "description": BASH_TOOL["description"],
                 "input_schema": BASH_TOOL["schema"]}
            ]  # fmt: skip
        started = time.monotonic()
        turn = Turn(model, 0, 0.0)
        partial = ""
        with self._http.stream("POST", "/v1/messages", json=payload) as response:
            turn.status = response.status_code
            if response.status_code != 200:
                response.read()
            else:
                for event in _sse(response):
                    kind = event.get("type")
                    if kind == "content_block_start" and event["content_block"].get("type") == "tool_use":
                        block = event["content_block"]
                        turn.tool_call = {"id": block["id"], "name": block["name"], "arguments": {}}
                    elif kind == "content_block_delta":
                        if turn.ttft_s is None:
                            turn.ttft_s = time.monotonic() - started
                        delta = event["delta"]
                        turn.text += delta.get("text") or ""
                        partial += delta.get("partial_json") or ""
        turn.latency_s = time.monotonic() - started
        if turn.tool_call is not None and partial:
            turn.tool_call["arguments"] = json.loads(partial)
        return turn

    def _chat(self, model: str, system: str, history: list[dict[str, Any]], tools: bool) -> Turn:
        payload: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "system", "content": system}, *history],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if tools:
            payload["tools"] = [
                {"type": "function", "function": {"name": BASH_TOOL["name"],
                 "description": BASH_TOOL["description"], "parameters": BASH_TOOL["schema"]}}
            ]  # fmt: skip
        started = time.monotonic()
        turn = Turn(model, 0, 0.0)
        call: dict[str, Any] = {}
        with self._http.stream("POST", "/v1/chat/completions", json=payload) as response:
            turn.status = response.status_code
            if response.status_code != 200:
                response.read()
            else:
                for event in _sse(response):
                    for choice in event.get("choices") or []:
                        delta = choice.get("delta") or {}
                        if (delta.get("content") or delta.get("tool_calls")) and turn.ttft_s is None:
                            turn.ttft_s = time.monotonic() - started
                        turn.text += delta.get("content") or ""
                        for piece in delta.get("tool_calls") or []:
                            fn = piece.get("function") or {}
                            call["id"] = piece.get("id") or call.get("id")
                            call["name"] = call.get("name", "") + (fn.get("name") or "")
                            call["arguments"] = call.get("arguments", "") + (fn.get("arguments") or "")
        turn.latency_s = time.monotonic() - started
        if call:
            turn.tool_call = {**call, "arguments": json.loads(call.get("arguments") or "{}")}
        return turn


def system_prompt(tokens: int, harness: str) -> str:
    """A system prompt of about ``tokens`` tokens (4 characters each), recognisably the harness's."""
    head = f"You are {harness}, a coding agent working in the user's repository. "
    return head + "Follow the repository's conventions. " * max(0, (tokens * 4 - len(head)) // 37)


def drive_session(
    client: HarnessClient,
    *,
    harness: str,
    model: str,
    background_model: str | None,
    task_prompt: str,
    system_tokens: int,
) -> list[Turn]:
    """One scripted agent session: a background-model call (a title), the task with a tool call and
    its result sent back, then a follow-up. A failed request is recorded and the script carries on."""
    turns: list[Turn] = []
    system = system_prompt(system_tokens, harness)
    if background_model:
        title = "Write a five-word title for this task: " + task_prompt[:200]
        turns.append(client.send(background_model, "You write short titles.", [client.user(title)]))
    history = [client.user(task_prompt)]
    for follow_up in (None, "Now write AUTH_ANALYSIS.md as described, then stop."):
        if follow_up is not None:
            history.append(client.user(follow_up))
        for _ in range(2):  # at most one tool round per user message
            turn = client.send(model, system, history, tools=True)
            turns.append(turn)
            if turn.tool_call is None:
                break
            history.extend(client.tool_round(turn.tool_call, TOOL_RESULT))
    return turns


# --------------------------------------------------------------------------- the demo's sessions


def proxy_plan(sessions_per_variant: int) -> list[scenario.PlannedSession]:
    """The plain demo's plan with the two excluded sessions first: they also pay for LiteLLM's lazily
    imported route code (the first request on a route is about a second slower), which would
    otherwise land in a counted session."""
    planned = scenario.plan(sessions_per_variant)
    return sorted(planned, key=lambda item: item.outcome == "valid")


def generate_via_proxy(
    cs: ConfigSet,
    result: Any,
    *,
    seed: int,
    sessions_per_variant: int,
    configs_dir: Path | None = None,
    workdir: Path | None = None,
    progress: Callable[[int, int], None] = lambda done, total: None,
    on_stack: Callable[[ProxyStack], None] = lambda stack: None,
) -> None:
    """Create, drive and finalize every planned session through a real proxy (``result``: DemoResult)."""
    from session_cli.keys import LocalKeys
    from session_cli.session_dir import SessionDir
    from session_cli.sessions import create_session, finalize_session

    require_proxy_extra()
    rng = random.Random(seed)
    planned = proxy_plan(sessions_per_variant)
    task_prompt = cs.task_cards[scenario.TASK_CARD].item.starting_prompt
    workdir = workdir or settings.benchmark_home() / "demo-proxy"
    source = settings.configs_dir(configs_dir) / "litellm" / "config.dbless.yaml"
    keys = LocalKeys()
    first_start: datetime | None = None
    with running_stack(
        workdir,
        demo_profiles(seed),
        registry_url=result.warehouse_url,
        spend_logs_url=result.litellm_url,
        litellm_config_source=source,
    ) as stack:
        on_stack(stack)
        with _env(LITELLM_BASE_URL=stack.base_url):  # recorded on each session row
            for index, item in enumerate(planned, start=1):
                variant = cs.variants[item.variant].item
                script = SCRIPTS[item.variant]
                row = create_session(
                    cs,
                    scenario.session_request(
                        item.variant,
                        "scripted client through a real LiteLLM proxy, fake upstream (`benchmark demo --proxy`)",
                    ),
                    keys=keys,
                )
                first_start = first_start or row["started_at"]
                sid = row["session_id"]
                try:
                    key = SessionDir.for_session(sid).key()
                    # +-10% per session: sessions differ (repository state, context size)
                    tokens = round(script.system_prompt_tokens * rng.uniform(0.9, 1.1))
                    with HarnessClient(stack.base_url, key, script.protocol) as client:
                        turns = drive_session(
                            client,
                            harness=variant.harness,
                            model=variant.model,
                            background_model=variant.background_model,
                            task_prompt=task_prompt,
                            system_tokens=tokens,
                        )
                except BaseException as exc:
                    with contextlib.suppress(BenchmarkError):
                        finalize_session(
                            sid, "aborted", notes=f"demo interrupted: {type(exc).__name__}", keys=keys
                        )
                    if isinstance(exc, Exception) and not isinstance(exc, BenchmarkError):
                        from session_cli import proxy_process as pp

                        raise DemoProxyError(
                            f"session {sid} ({item.variant}): {type(exc).__name__}: {exc}",
                            hint=f"proxy log {stack.litellm_log}:\n{pp.log_tail(stack.litellm_log, 8)}",
                        ) from exc
                    raise
                finalize_session(sid, item.status, item.outcome, keys=keys)
                result.sessions.append(
                    {
                        **row,
                        "status": item.status,
                        "outcome": item.outcome,
                        "requests": len(turns),
                        "failures": sum(1 for t in turns if t.status != 200),
                    }
                )
                result.requests += len(turns)
                progress(index, len(planned))
    start = (first_start or datetime.now(UTC)) - timedelta(minutes=1)
    result.window = (start, datetime.now(UTC) + timedelta(minutes=1))
