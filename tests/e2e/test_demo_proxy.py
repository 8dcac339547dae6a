"""`benchmark demo --proxy`: the demo's sessions through a real LiteLLM proxy and a fake upstream.

The end-to-end case runs the real console script (a subprocess, as an operator runs it) against
fresh databases and checks the verdict, the session counts, that every request landed attributed,
and that nothing it started is left running. The fast cases check what needs no proxy: the install
hint without the extra, clean-up when starting fails, SIGTERM handling and the fake's prefill rule.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.e2e.support import require_litellm

EXPERIMENT = "fireworks-kimi-k2-5-harness-comparison"
BASELINE, FASTER = "kimi-k2-5-claude-code", "kimi-k2-5-opencode"
REQUESTS_PER_SESSION = 4  # background title call, task with one tool round (2), follow-up


def rows(url: str, sql: str, params: tuple | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def demo_proxy(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    require_litellm()
    import subprocess
    import time

    warehouse, litellm = make_database("demo_proxy"), make_database("demo_proxy_litellm")
    home = tmp_path_factory.mktemp("demo-proxy-home")
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DAGSTER_HOME", "LITELLM_MASTER_KEY")
    }
    env.update(BENCHMARK_DATABASE_URL=warehouse, LITELLM_DATABASE_URL=litellm, BENCHMARK_HOME=str(home))
    env.pop("BENCHMARK_KEY_BACKEND", None)
    exe = Path(sys.executable).with_name("benchmark")
    began = time.monotonic()
    done = subprocess.run(
        [str(exe), "demo", "--proxy", "--seed", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.monotonic() - began
    print(f"\nbenchmark demo --proxy --seed 1: {seconds:.0f} s wall")
    assert done.returncode == 0, done.stderr[-4000:]
    return {"url": warehouse, "doc": json.loads(done.stdout), "home": home, "stderr": done.stderr}


@pytest.mark.e2e
def test_demo_proxy_finds_the_faster_variant(demo_proxy: dict) -> None:
    url, doc = demo_proxy["url"], demo_proxy["doc"]
    assert doc["mode"] == "proxy"
    [ttft] = rows(
        url,
        "select * from marts.fct_variant_comparison where experiment = %s and metric = 'ttft_p50_ms'",
        (EXPERIMENT,),
    )
    assert (ttft["variant"], ttft["baseline_variant"], ttft["verdict"]) == (FASTER, BASELINE, "better")
    assert ttft["median_variant"] < ttft["median_baseline"] and ttft["ci_high"] < 0
    [reported] = [c for c in doc["report"]["comparisons"] if c["metric"] == "ttft_p50_ms"]
    assert reported["verdict"] == "better"


@pytest.mark.e2e
def test_demo_proxy_session_counts(demo_proxy: dict) -> None:
    url, doc = demo_proxy["url"], demo_proxy["doc"]
    assert doc["sessions"] == 18
    sessions = rows(
        url,
        "select variant, count(*) filter (where is_included) as included, "
        "array_agg(exclusion_reason order by exclusion_reason) filter (where not is_included) as excluded "
        "from marts.fct_sessions group by variant order by variant",
    )
    assert sessions == [
        {"variant": BASELINE, "included": 8, "excluded": ["aborted"]},
        {"variant": FASTER, "included": 8, "excluded": ["invalid"]},
    ]
    ttft = {
        (r["n_variant"], r["n_baseline"])
        for r in doc["report"]["comparisons"]
        if r["metric"] == "ttft_p50_ms"
    }
    assert ttft == {(8, 8)}


@pytest.mark.e2e
def test_every_proxied_request_lands_attributed(demo_proxy: dict) -> None:
    url, doc = demo_proxy["url"], demo_proxy["doc"]
    [counts] = rows(
        url,
        "select count(*) as requests, count(*) filter (where session_id is null) as unattributed, "
        "count(distinct session_id) as sessions, "
        "count(*) filter (where is_streamed or status = 'failure') as streamed_or_failed "
        "from marts.fct_requests",
    )
    # one spend-log row per client request; without failures each session sends exactly 4 (a failed
    # tool-call turn adds one: the task is sent again), so the total is at least 18 x 4
    assert counts["requests"] == doc["requests"] >= 18 * REQUESTS_PER_SESSION
    assert (counts["unattributed"], counts["sessions"]) == (0, 18)
    assert counts["streamed_or_failed"] == counts["requests"]  # both harnesses stream every call
    by_route = rows(
        url,
        "select variant, call_type, count(*) as n from marts.fct_requests group by 1, 2 order by 1, 2",
    )
    assert {(r["variant"], r["call_type"]) for r in by_route} == {
        (BASELINE, "anthropic_messages"),
        (FASTER, "acompletion"),
    }


@pytest.mark.e2e
def test_nothing_it_started_keeps_running(demo_proxy: dict) -> None:
    workdir = demo_proxy["home"] / "demo-proxy"
    assert (workdir / "litellm.yaml").is_file()  # the servers ran from here ...
    assert processes_mentioning(str(workdir)) == []  # ... and are gone
    assert "sk-demo-" not in demo_proxy["stderr"] and "sk-hb-" not in demo_proxy["stderr"]


# ---------------------------------------------------------------- fast cases, no proxy needed


def test_without_the_extra_a_one_line_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    from session_cli.main import main

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "litellm" else real(name, *a)
    )
    # an unreachable database proves the check comes before any database work
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nothing")
    monkeypatch.setenv("BENCHMARK_HOME", str(tmp_path))
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["demo", "--proxy"])
    assert code == 1
    text = err.getvalue()
    assert "needs the proxy extra" in text and "uv sync --extra proxy" in text
    assert "Traceback" not in text


def test_a_failed_start_stops_what_already_runs(tmp_path: Path) -> None:
    """LiteLLM cannot start (its config source is missing): the fake provider started before it is stopped."""
    from session_cli.demo.proxy import demo_profiles, running_stack
    from session_cli.errors import ConfigError

    with (
        pytest.raises(ConfigError, match="cannot read the LiteLLM config"),
        running_stack(
            tmp_path / "stack",
            demo_profiles(1),
            registry_url="postgresql://unused@127.0.0.1:9/registry",  # never reached
            spend_logs_url="postgresql://unused@127.0.0.1:9/litellm",
            litellm_config_source=tmp_path / "missing.yaml",
        ),
    ):
        pytest.fail("the stack must not start")
    assert processes_mentioning(str(tmp_path / "stack")) == []


def test_sigterm_unwinds_like_ctrl_c_once() -> None:
    from session_cli.demo.proxy import _terminate_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    with _terminate_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)  # a real signal: the handler raises at once
            pytest.fail("SIGTERM did not interrupt")
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        assert handler(signal.SIGTERM, None) is None  # a second one, during clean-up, is ignored
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_fakes_prefill_time_grows_with_uncached_prompt_tokens() -> None:
    from session_cli.demo.proxy import SCRIPTS, system_prompt
    from session_cli.fake_provider.behaviour import count_prompt_tokens, piece_offsets_s
    from session_cli.fake_provider.profiles import ModelProfile

    profile = ModelProfile(ttft_ms=120, prefill_ms_per_1k_tokens=50, tokens_per_s=100)
    # 120 ms + 50 ms x 6000 / 1000 = 420 ms to the first piece, then 10 ms per piece
    assert piece_offsets_s(profile, 3, 6000) == pytest.approx([0.42, 0.43, 0.44])
    assert piece_offsets_s(profile, 2) == pytest.approx([0.12, 0.13])  # no prompt, no prefill
    for script in SCRIPTS.values():
        tokens = count_prompt_tokens([system_prompt(script.system_prompt_tokens, "h")])
        assert abs(tokens - script.system_prompt_tokens) <= 10
