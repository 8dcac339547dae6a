"""Samples shaped like LiteLLM 1.106.2's Prometheus exporter, for the live-dashboard PromQL tests.

Label names per metric family are LiteLLM's own (``PrometheusMetricLabels.get_labels`` with the
config in configs/litellm/config.yaml: caller identity ``api_key_alias``, no custom labels);
test_dashboards_promql.py checks them against the installed litellm when it is importable.

Scenario (2026-11-20 UTC, scraped every 15 s from 10:00 to 10:30):
- session key ``SESSION_1`` calls ``kimi-k2-5`` (Fireworks) every 20 s; every 5th request is a 429;
- session key ``SESSION_2`` calls ``glm-5`` (Fireworks) every 30 s; every 7th request is a 500.
Every successful request is streamed (TTFT observed); failures only count in the request counters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_support import OpenMetrics

START = datetime(2026, 11, 20, 10, 0, 0, tzinfo=UTC)
END = START + timedelta(minutes=30)
SCRAPE_S = 15

LABELS: dict[str, tuple[str, ...]] = {
    "litellm_request_total_latency_metric": (
        "model_group", "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias",
        "user", "model", "model_id", "api_provider", "service_tier", "org_id", "org_alias",
    ),
    "litellm_llm_api_latency_metric": (
        "model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model",
        "end_user", "user", "model_id", "api_provider", "service_tier", "org_id", "org_alias",
    ),
    "litellm_llm_api_time_to_first_token_metric": (
        "model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias", "requested_model",
        "end_user", "user", "model_id", "api_provider", "service_tier", "org_id", "org_alias",
    ),
    "litellm_overhead_latency_metric": (
        "model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key", "api_key_alias",
        "model_id",
    ),
    "litellm_proxy_total_requests_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user",
        "status_code", "user_email", "route", "client_ip", "user_agent", "model_id", "api_provider", "org_id",
        "org_alias",
    ),
    "litellm_proxy_failed_requests_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user",
        "user_email", "exception_status", "exception_class", "route", "client_ip", "user_agent", "model_id",
        "api_provider", "org_id", "org_alias",
    ),
    "litellm_input_tokens_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "user_email",
        "requested_model", "model_id", "api_provider", "org_id", "org_alias",
    ),
    "litellm_output_tokens_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user", "user_email",
        "requested_model", "model_id", "api_provider", "org_id", "org_alias",
    ),
}  # fmt: skip

SESSION_1 = "hb-11111111-1111-4111-8111-111111111111"
SESSION_2 = "hb-22222222-2222-4222-8222-222222222222"


@dataclass(frozen=True)
class Caller:
    key_alias: str
    model_group: str
    upstream: str
    every_s: int
    fail_every: int
    fail_status: str
    fail_class: str
    latency_s: tuple[float, ...]  # cycled per request
    ttft_s: tuple[float, ...]

    @property
    def key_hash(self) -> str:
        return hashlib.sha256(f"sk-{self.key_alias}".encode()).hexdigest()


CALLERS = (
    Caller(SESSION_1, "kimi-k2-5", "fireworks_ai/accounts/fireworks/models/kimi-k2p5", 20, 5, "429",
           "Fireworks_aiException.RateLimitError", (1.5, 2.5, 3.5, 4.0), (0.3, 0.5, 0.8)),
    Caller(SESSION_2, "glm-5", "fireworks_ai/accounts/fireworks/models/glm-5", 30, 7, "500",
           "Fireworks_aiException.InternalServerError", (2.0, 4.0, 6.0), (0.4, 0.9)),
)  # fmt: skip


def _values(caller: Caller, family: str, **extra: str) -> dict[str, str]:
    """Every label of ``family`` with the value LiteLLM would write ("None" when it has none)."""
    known = {
        "model_group": caller.model_group,
        "requested_model": caller.model_group,
        "hashed_api_key": caller.key_hash,
        "api_key_alias": caller.key_alias,
        "model": caller.upstream.split("/", 1)[1],
        "litellm_model_name": caller.upstream,
        "model_id": f"id-{caller.model_group}",
        "api_provider": "fireworks_ai",
        "api_base": "https://api.fireworks.ai/inference/v1",
        "route": "/chat/completions",
        "client_ip": "172.18.0.1",
        "user_agent": "opencode/1.18.33",
        **extra,
    }
    return {name: known.get(name, "None") for name in LABELS[family]}


def _requests(caller: Caller) -> list[tuple[datetime, int]]:
    """(end time, sequence number) of every request the caller made in the window."""
    out, t, n = [], START + timedelta(seconds=5), 0
    while t < END:
        out.append((t, n))
        t += timedelta(seconds=caller.every_s)
        n += 1
    return out


def build() -> OpenMetrics:
    om = OpenMetrics()
    scrapes = [
        START + timedelta(seconds=s) for s in range(0, int((END - START).total_seconds()) + 1, SCRAPE_S)
    ]
    for caller in CALLERS:
        requests = _requests(caller)
        failed = [(t, n) for t, n in requests if n % caller.fail_every == caller.fail_every - 1]
        ok = [(t, n) for t, n in requests if (t, n) not in failed]
        latency = [(t, caller.latency_s[n % len(caller.latency_s)]) for t, n in ok]
        ttft = [(t, caller.ttft_s[n % len(caller.ttft_s)]) for t, n in ok]
        for family, events in (
            ("litellm_request_total_latency_metric", latency),
            ("litellm_llm_api_latency_metric", [(t, v - 0.05) for t, v in latency]),
            ("litellm_llm_api_time_to_first_token_metric", ttft),
            ("litellm_overhead_latency_metric", [(t, 0.012) for t, _ in ok]),
        ):
            om.observations(family, _values(caller, family), events, scrape_times=scrapes)

        ok_times, failed_times = [t for t, _ in ok], [t for t, _ in failed]
        for family, events, per_event, extra in (
            ("litellm_proxy_total_requests_metric", ok_times, 1, {"status_code": "200"}),
            ("litellm_proxy_total_requests_metric", failed_times, 1, {"status_code": caller.fail_status}),
            (
                "litellm_proxy_failed_requests_metric",
                failed_times,
                1,
                {"exception_status": caller.fail_status, "exception_class": caller.fail_class},
            ),
            ("litellm_input_tokens_metric", ok_times, 5000, {}),
            ("litellm_output_tokens_metric", ok_times, 500, {}),
        ):
            # a counter at each scrape: everything counted up to then
            points = [(s, per_event * sum(1 for t in events if t <= s)) for s in scrapes]
            om.counter(family, _values(caller, family, **extra), points)
    om.gauge("up", {"job": "litellm", "instance": "litellm:4000"}, [(s, 1) for s in scrapes])
    return om
