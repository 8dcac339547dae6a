"""The whole path for real, once: scripted clients -> real LiteLLM proxy (database-less, the project's
plugin) -> fake upstream; real Prometheus scraping the proxy; sessions created and finalized by the
CLI's own code (local key backend); one in-process Dagster run (``run_window``) landing the spend
logs and the Prometheus series, building the dbt marts and the statistics. The marts must agree with
what the clients sent and measured.

Two variants of one experiment (``e2e-full-pipeline``, written into a copy of ``configs/``) differ
only in the model alias, and the fake upstream makes one alias slow to first token (500 ms) and the
other fast (100 ms); both then take 150 ms to stream the rest (16 tokens at 100/s), so TTFT and
latency differ measurably. 8 sessions per variant, interleaved, each: chat completions plain and
streamed, Anthropic messages plain and streamed, and in every other session of each variant one
forced failure (the fake's ``HB_FORCE_FAILURE`` word; chat and streamed messages alternately). 8 vs 8 is what a verdict needs:
Holm across the 7 compared metrics asks p < 0.05 / 7, and an exact Mann-Whitney test with complete
separation gives 2 / C(16, 8) = 0.00016 (6 per side would be the minimum: 2 / C(12, 6) = 0.0022;
with tied session values scipy's normal approximation gives about 0.001, still enough).

Tolerances (client-side measurement vs marts), stated once here and used below:
- The proxy starts its clock after it has read and authenticated the request and stops it before
  the answer has travelled back and been parsed by the client, so the mart's latency and TTFT can
  only be *shorter* than the client's: client - mart >= -1 ms (the spend log stores milliseconds,
  both endpoints are truncated). The client also pays for the key lookup in the registry (cached
  2 s), the HTTP round trip and its own parsing, on a 2-core machine shared with other jobs.
  Measured client - mart over 104 values: 2-31 ms on a quiet machine, 3-138 ms at load average 3
  (3-56 ms in test_dbless_proxy.py). So each value must satisfy client - mart <= 250 ms (a load
  spike, yet below the 400 ms the variants' TTFTs differ by: a mart that swapped sessions or
  variants fails), and the median over all values <= 50 ms (below the 150 ms between a request's
  first token and its end: a mart that put latency into ttft_ms, or the reverse, fails).
- Prometheus counts requests exactly (counters, no histogram interpolation): the session's drift
  between spend-log rows and Prometheus must be 0, inside the model's tolerance (max(2, 5%)).
"""

from __future__ import annotations

import shutil
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from prometheus_support import PrometheusInstance, require_prometheus, start_scraping_prometheus
from psycopg.rows import dict_row

from session_cli.fake_provider import FAIL_WORD
from tests.e2e.clients import Measured, chat, messages, prompt
from tests.e2e.support import DBLESS_CONFIG, REPO_ROOT, require_litellm

pytestmark = pytest.mark.e2e

EXPERIMENT = "e2e-full-pipeline"
SLOW, FAST = "kimi-k2-5-opencode", "kimi-k2-5-turbo-opencode"  # baseline first
SLOW_MODEL, FAST_MODEL = "kimi-k2-5", "kimi-k2-5-turbo"
SESSIONS_PER_VARIANT = 8
PROFILES: dict[str, Any] = {
    "defaults": {"ttft_ms": 100, "tokens_per_s": 100, "output_tokens": 16},
    "models": {
        SLOW_MODEL: {"ttft_ms": 500, "tokens_per_s": 100, "output_tokens": 16},
        FAST_MODEL: {"ttft_ms": 100, "tokens_per_s": 100, "output_tokens": 16},
    },
}
MART_OVER_CLIENT_MS = 1.0  # truncation to milliseconds in the spend log
CLIENT_OVER_MART_MS = 250.0  # per value: proxy clock starts after auth; travel, parsing, load spikes
MEDIAN_CLIENT_OVER_MART_MS = 50.0  # over all values (see the module docstring)
PROMETHEUS_WAIT_S = 60.0


@dataclass
class SessionTraffic:
    session_id: str
    variant: str
    key_alias: str
    sent: list[tuple[str, Measured]] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for _, m in self.sent if m.status != 200)


@dataclass
class FullRun:
    warehouse: str
    sessions: list[SessionTraffic]
    run: Any  # benchmark_pipeline.run.RunWindowResult
    phases_s: dict[str, float]
    prometheus_counts: dict[str, float]


def write_configs(dest: Path) -> Path:
    """The repository's configs plus this test's own experiment (two existing variants)."""
    shutil.copytree(REPO_ROOT / "configs", dest)
    (dest / "experiments" / f"{EXPERIMENT}.yaml").write_text(
        f"version: 1\nname: {EXPERIMENT}\n"
        "description: end-to-end test, a slow and a fast alias on one harness\n"
        f"variants:\n  - {SLOW}\n  - {FAST}\nbaseline: {SLOW}\n"
    )
    return dest


def drive(client: httpx.Client, model: str, index: int, marker: str) -> list[tuple[str, Measured]]:
    """Session ``index`` (of its variant)'s scripted requests; even ones end with one forced failure."""
    sent = [
        ("chat", chat(client, model, prompt(120, marker))),
        ("chat-stream", chat(client, model, prompt(160, marker), stream=True)),
        ("messages", messages(client, model, prompt(200, marker))),
        ("messages-stream", messages(client, model, prompt(240, marker), stream=True)),
    ]
    if index % 4 == 0:
        sent.append(("failure-chat", chat(client, model, f"{marker} {FAIL_WORD}")))
    elif index % 4 == 2:
        sent.append(
            ("failure-messages-stream", messages(client, model, f"{marker} {FAIL_WORD}", stream=True))
        )
    return sent


def warm_up(base_url: str, master_key: str) -> None:
    """LiteLLM imports each route's code on its first request (about a second): pay it before timing.
    Master-key rows carry LiteLLM's master-key alias and stay unattributed."""
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {master_key}"}, timeout=30) as c:
        for model in (SLOW_MODEL, FAST_MODEL):
            for stream in (False, True):
                assert chat(c, model, "warm up", stream=stream).status == 200
                assert messages(c, model, "warm up", stream=stream).status == 200


def prometheus_counts(prom: PrometheusInstance) -> dict[str, float]:
    """Requests the proxy counted per session key alias, as Prometheus scraped them."""
    answer = httpx.get(
        f"{prom.url}/api/v1/query",
        params={
            "query": 'sum by (api_key_alias) (litellm_proxy_total_requests_metric_total{api_key_alias=~"hb-.*"})'
        },
        timeout=5,
    ).json()
    return {r["metric"]["api_key_alias"]: float(r["value"][1]) for r in answer["data"]["result"]}


def wait_for_scrapes(prom: PrometheusInstance, expected: dict[str, int]) -> dict[str, float]:
    """Poll until Prometheus holds every session's final request count (scraped every second)."""
    deadline = time.monotonic() + PROMETHEUS_WAIT_S
    counts = prometheus_counts(prom)
    while any(counts.get(alias) != n for alias, n in expected.items()) and time.monotonic() < deadline:
        time.sleep(0.5)
        counts = prometheus_counts(prom)
    return counts


def wait_for_a_landing_point(scraped_at: datetime) -> None:
    """The Prometheus landing evaluates at whole minutes inside hourly partitions that exist (the
    current hour at most): a final scrape after hh:59:00 is only seen from the next hour's first
    point, so wait for that hour to begin (at most a minute, and only when the traffic ends then)."""
    next_hour = scraped_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    if scraped_at > next_hour - timedelta(minutes=1):
        time.sleep(max(0.0, (next_hour - datetime.now(UTC)).total_seconds()) + 2)


@pytest.fixture(scope="module")
def full_run(make_database: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory) -> FullRun:
    require_litellm()
    require_prometheus()
    import dagster as dg

    from benchmark_pipeline.definitions import build_definitions
    from benchmark_pipeline.resources import LiteLLMSourceResource, PrometheusResource, WarehouseResource
    from benchmark_pipeline.run import DEFAULT_SELECTION, run_window
    from session_cli import proxy_process as pp
    from session_cli.configs.loader import load_configs
    from session_cli.demo.proxy import running_stack
    from session_cli.litellm_schema import apply_litellm_migrations
    from session_cli.registry.migrate import upgrade_to_head
    from session_cli.session_dir import SessionDir
    from session_cli.sessions import CreateRequest, create_session, finalize_session

    phases: dict[str, float] = {}
    clock = time.monotonic()

    def phase(name: str) -> None:
        nonlocal clock
        phases[name] = round(time.monotonic() - clock, 1)
        clock = time.monotonic()

    base = tmp_path_factory.mktemp("full")
    warehouse, spend_logs = make_database("e2e_full"), make_database("e2e_full_litellm")
    upgrade_to_head(warehouse)
    apply_litellm_migrations(spend_logs)
    configs = write_configs(base / "configs")
    cs = load_configs(configs)
    port = pp.free_port()
    prom = start_scraping_prometheus(f"127.0.0.1:{port}", base / "prometheus", interval_s=1.0)
    sessions: list[SessionTraffic] = []
    try:
        with (
            pytest.MonkeyPatch.context() as mp,
            running_stack(
                base / "stack",
                PROFILES,
                registry_url=warehouse,
                spend_logs_url=spend_logs,
                litellm_config_source=DBLESS_CONFIG,
                port=port,
            ) as stack,
        ):
            for name, value in {
                "BENCHMARK_DATABASE_URL": warehouse,
                "LITELLM_DATABASE_URL": spend_logs,
                "BENCHMARK_HOME": str(base / "home"),
                "BENCHMARK_CONFIGS_DIR": str(configs),
                "BENCHMARK_KEY_BACKEND": "local",
                "LITELLM_BASE_URL": stack.base_url,
            }.items():
                mp.setenv(name, value)
            mp.delenv("DATABASE_URL", raising=False)
            phase("start fake provider, LiteLLM, Prometheus")
            warm_up(stack.base_url, stack.master_key)
            phase("warm-up")
            traffic_start = datetime.now(UTC)
            for index in range(2 * SESSIONS_PER_VARIANT):
                variant = (SLOW, FAST)[index % 2]  # interleaved, as operators should run them
                row = create_session(
                    cs,
                    CreateRequest(experiment=EXPERIMENT, variant=variant, task_card="repo-auth-analysis",
                                  label="e2e", operator="e2e", repo=REPO_ROOT),
                )  # fmt: skip
                key = SessionDir.for_session(row["session_id"]).key()
                traffic = SessionTraffic(row["session_id"], variant, row["key_alias"])
                model = cs.variants[variant].item.model
                with httpx.Client(
                    base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
                ) as client:
                    traffic.sent = drive(client, model, index // 2, f"S{index:02d}")
                finalize_session(row["session_id"], "completed", "valid")
                sessions.append(traffic)
            phase("16 sessions of traffic")
            counts = wait_for_scrapes(prom, {s.key_alias: len(s.sent) for s in sessions})
            wait_for_a_landing_point(datetime.now(UTC))
            phase("Prometheus scrapes")
            # the proxy keeps running (and being scraped) through the landing: a stopped target's
            # series go stale, and the landing's minute points after that would see nothing
            resources = {
                "warehouse": WarehouseResource(database_url=warehouse),
                "litellm_source": LiteLLMSourceResource(database_url=spend_logs),
                "prometheus": PrometheusResource(base_url=prom.url),
            }
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                run = run_window(
                    traffic_start - timedelta(minutes=1),
                    datetime.now(UTC) + timedelta(minutes=1),
                    selection=DEFAULT_SELECTION,
                    definitions=build_definitions(resources),
                    instance=dg.DagsterInstance.ephemeral(),
                )
            phase("run_window (landing, dbt, statistics)")
    finally:
        prom.stop()
    phases["total"] = round(sum(phases.values()), 1)
    print(f"\nfull pipeline e2e phases (s): {phases}")
    return FullRun(warehouse, sessions, run, phases, counts)


def fetch(url: str, sql: str, params: tuple | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def test_the_run_succeeds_and_lands_both_sources(full_run: FullRun) -> None:
    run = full_run.run
    assert run.success, run.failures
    assert {"raw_litellm_spend_logs", "raw_prometheus_series", "fct_requests", "fct_sessions"} <= set(
        run.materializations
    )
    assert "fct_variant_comparison" in run.materializations
    # every client request reached the fake upstream exactly once (no proxy retries: num_retries 0)
    assert all(len(s.sent) in (4, 5) for s in full_run.sessions)
    for variant in (SLOW, FAST):  # half of each variant's sessions carry one forced failure
        failures = [s.failures for s in full_run.sessions if s.variant == variant]
        assert sorted(failures) == [0] * 4 + [1] * 4


def test_clients_saw_the_scripted_outcomes(full_run: FullRun) -> None:
    for s in full_run.sessions:
        for kind, measured in s.sent:
            expected = 500 if kind.startswith("failure") else 200
            assert measured.status == expected, (s.session_id, kind, measured.body)
            assert (measured.ttft_s is not None) == (kind.endswith("-stream") and expected == 200), kind


def test_request_counts_and_statuses_per_session_match_the_clients(full_run: FullRun) -> None:
    url = full_run.warehouse
    by_session = {
        r["session_id"]: r
        for r in fetch(
            url,
            "select session_id::text, request_count, success_count, failure_count, variant, model_alias "
            "from marts.fct_sessions",
        )
    }
    assert set(by_session) == {s.session_id for s in full_run.sessions}
    for s in full_run.sessions:
        row = by_session[s.session_id]
        assert (row["request_count"], row["failure_count"], row["success_count"]) == (
            len(s.sent), s.failures, len(s.sent) - s.failures
        ), s.session_id  # fmt: skip
        assert row["variant"] == s.variant
    requests = fetch(
        url,
        "select session_id::text, status, is_streamed, error_code, model_alias, attribution "
        "from marts.fct_requests where session_id is not null order by session_id, started_at, request_id",
    )
    got: dict[str, list[tuple[str, bool, str | None]]] = {}
    for r in requests:
        got.setdefault(r["session_id"], []).append((r["status"], r["is_streamed"], r["error_code"]))
        assert r["attribution"] != "unattributed"
    for s in full_run.sessions:
        expected = [
            ("failure", False, "500") if m.status != 200 else ("success", kind.endswith("-stream"), None)
            for kind, m in s.sent
        ]
        assert got[s.session_id] == expected, s.session_id
    # the warm-up used the master key: its rows land, unattributed, never on a session
    [unattributed] = fetch(url, "select count(*) as n from marts.fct_requests where session_id is null")
    assert unattributed["n"] == 8


def test_latency_and_ttft_agree_with_the_clients(full_run: FullRun) -> None:
    rows = fetch(
        full_run.warehouse,
        "select session_id::text, latency_ms, ttft_ms from marts.fct_requests "
        "where session_id is not null order by session_id, started_at, request_id",
    )
    marts: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        marts.setdefault(r["session_id"], []).append(r)
    gaps: list[float] = []
    for s in full_run.sessions:
        for (kind, m), r in zip(s.sent, marts[s.session_id], strict=True):
            pairs = [(m.latency_s * 1000, float(r["latency_ms"]))]
            if m.status == 200 and m.ttft_s is not None:
                pairs.append((m.ttft_s * 1000, float(r["ttft_ms"])))
            else:
                assert r["ttft_ms"] is None, (s.session_id, kind)
            for client_ms, mart_ms in pairs:
                assert -MART_OVER_CLIENT_MS <= client_ms - mart_ms <= CLIENT_OVER_MART_MS, (
                    s.session_id, kind, client_ms, mart_ms
                )  # fmt: skip
                gaps.append(client_ms - mart_ms)
    median = statistics.median(gaps)
    print(
        f"\nclient - mart (ms), {len(gaps)} values: min {min(gaps):.1f}, median {median:.1f}, max {max(gaps):.1f}"
    )
    assert median <= MEDIAN_CLIENT_OVER_MART_MS
    # and the marts see the profiles: streamed TTFT >= the fake's delay for each alias
    ttft = {
        r["variant"]: r
        for r in fetch(
            full_run.warehouse,
            "select variant, min(ttft_ms) as lo, max(ttft_ms) as hi from marts.fct_requests "
            "where session_id is not null and ttft_ms is not null group by variant",
        )
    }
    assert ttft[SLOW]["lo"] >= 500 and ttft[FAST]["lo"] >= 100 and ttft[FAST]["hi"] < 500


def test_prometheus_reconciles_with_the_spend_logs(full_run: FullRun) -> None:
    for s in full_run.sessions:
        assert full_run.prometheus_counts.get(s.key_alias) == len(s.sent), s.key_alias
    rows = {
        r["session_id"]: r
        for r in fetch(
            full_run.warehouse,
            "select session_id::text, spend_log_request_count, prometheus_request_count, drift, "
            "within_tolerance from marts.fct_request_count_reconciliation",
        )
    }
    for s in full_run.sessions:
        row = rows[s.session_id]
        assert (row["spend_log_request_count"], row["prometheus_request_count"], row["drift"]) == (
            len(s.sent), len(s.sent), 0
        ), s.session_id  # fmt: skip
        assert row["within_tolerance"] is True
    [drift] = fetch(
        full_run.warehouse,
        "select count(*) filter (where prometheus_request_drift = 0) as zero, count(*) as n "
        "from marts.fct_sessions",
    )
    assert drift["zero"] == drift["n"] == 2 * SESSIONS_PER_VARIANT


def test_the_comparison_finds_the_faster_variant(full_run: FullRun) -> None:
    rows = {
        r["metric"]: r
        for r in fetch(
            full_run.warehouse,
            "select * from marts.fct_variant_comparison where experiment = %s",
            (EXPERIMENT,),
        )
    }
    ttft = rows["ttft_p50_ms"]
    assert (ttft["variant"], ttft["baseline_variant"]) == (FAST, SLOW)
    assert (ttft["n_variant"], ttft["n_baseline"]) == (SESSIONS_PER_VARIANT, SESSIONS_PER_VARIANT)
    assert ttft["verdict"] == "better"
    # complete separation (every fast session below every slow one): Cliff's delta -1 and the smallest
    # Mann-Whitney p for 8 vs 8 - exactly 2 / C(16, 8) without ties, about 0.001 by the normal
    # approximation scipy uses when two sessions tie (millisecond values do) - which stays below
    # 0.05 / 7 (Holm's first step over the 7 metrics)
    assert ttft["cliffs_delta"] == -1
    assert ttft["p_value"] < 0.05 / 7 and ttft["p_value_holm"] < 0.05
    assert ttft["ci_high"] < -300  # about 400 ms apart (500 vs 100 ms to the first token)
    assert rows["error_rate"]["verdict"] == "no detectable difference"  # 4 failing sessions per side
