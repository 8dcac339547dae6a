"""A real Prometheus for tests, loaded with samples at known timestamps.

Debian's ``prometheus`` package (installed by ``.ci/run``) provides ``prometheus`` and ``promtool``.
Samples are written as OpenMetrics text, turned into TSDB blocks with
``promtool tsdb create-blocks-from openmetrics``, and served by a ``prometheus`` process on a free
loopback port with a fresh data directory. No scraping happens: the data is exactly what you wrote.

Typical use (``tests/`` is on ``sys.path`` through ``tests/conftest.py``, so import it top-level)::

    import prometheus_support
    from prometheus_support import OpenMetrics, at

    prometheus_factory = prometheus_support.prometheus_factory  # registers the fixture here

    def test_something(prometheus_factory):
        om = OpenMetrics()
        om.counter("litellm_proxy_total_requests_metric", {"api_key_alias": "s1"},
                   [(at("2025-06-01T10:00:00Z"), 0), (at("2025-06-01T10:00:15Z"), 3)])
        prom = prometheus_factory(om)            # or prometheus_factory("...openmetrics text...")
        httpx.get(f"{prom.url}/api/v1/query", params={...})

Outside pytest, ``start_prometheus(text, workdir)`` returns a :class:`PrometheusInstance`; call
``.stop()`` (or use ``running_prometheus(...)`` as a context manager). For a module-scoped server,
call ``require_prometheus()`` then ``start_prometheus(..., tmp_path_factory.mktemp(...))``.

Helpers: ``litellm_labels(metric, **values)`` gives LiteLLM 1.106.2's full label set for a metric
(``"None"`` for unset labels, as the exporter writes); ``OpenMetrics.observations`` turns individual
latency events into the cumulative histogram a scrape would see; ``example_litellm_hour()`` is an
hour of traffic whose PromQL answers are worked out in its docstring.

Mind the version gap: tests run Debian's Prometheus 2.42; the compose stack runs 3.x, where range
selectors are left-open (``[5m]`` holds one sample fewer at a 15 s scrape). Values at the edges of
traffic differ slightly between the two; steady-state rates and quantiles do not.

Facts this module relies on (Prometheus 2.42): OpenMetrics timestamps are in seconds; the input
must end with ``# EOF``; a counter family ``foo`` has samples ``foo_total``; time-based retention
is measured from the newest block, and we pass a century anyway so old test data is never dropped.
"""

from __future__ import annotations

import ctypes
import math
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

# LiteLLM's default latency buckets (litellm/types/integrations/prometheus.py, LATENCY_BUCKETS)
LITELLM_LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 420.0,
    600.0, math.inf,
)  # fmt: skip

READY_TIMEOUT_S = 30.0

# The label names LiteLLM 1.106.2 puts on each metric family (PrometheusMetricLabels in
# litellm/types/integrations/prometheus.py), so test series look like the real exporter's.
LITELLM_METRIC_LABELS: dict[str, tuple[str, ...]] = {
    "litellm_request_total_latency_metric": (
        "model_group", "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team",
        "team_alias", "user", "model", "model_id", "api_provider", "service_tier",
    ),
    "litellm_llm_api_latency_metric": (
        "model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias",
        "requested_model", "end_user", "user", "model_id", "api_provider", "service_tier",
    ),
    "litellm_llm_api_time_to_first_token_metric": (
        "model_group", "model", "hashed_api_key", "api_key_alias", "team", "team_alias",
        "requested_model", "end_user", "user", "model_id", "api_provider", "service_tier",
    ),
    "litellm_overhead_latency_metric": (
        "model_group", "api_provider", "api_base", "litellm_model_name", "hashed_api_key",
        "api_key_alias", "model_id",
    ),
    "litellm_proxy_total_requests_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user",
        "status_code", "user_email", "route", "client_ip", "user_agent", "model_id", "api_provider",
    ),
    "litellm_proxy_failed_requests_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "requested_model", "team", "team_alias", "user",
        "user_email", "exception_status", "exception_class", "route", "client_ip", "user_agent",
        "model_id", "api_provider",
    ),
    "litellm_input_tokens_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user",
        "user_email", "requested_model", "model_id", "api_provider",
    ),
    "litellm_output_tokens_metric": (
        "end_user", "hashed_api_key", "api_key_alias", "model", "team", "team_alias", "user",
        "user_email", "requested_model", "model_id", "api_provider",
    ),
}  # fmt: skip


def litellm_labels(metric: str, **values: str) -> dict[str, str]:
    """The full label set LiteLLM writes for ``metric``: given values, ``"None"`` for the rest.

    ``litellm_labels("litellm_proxy_total_requests_metric", api_key_alias="s1", status_code="200")``
    """
    names = LITELLM_METRIC_LABELS.get(metric)
    if names is None:
        raise ValueError(f"no LiteLLM label list for {metric!r}; known: {sorted(LITELLM_METRIC_LABELS)}")
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ValueError(f"{metric} has no label(s) {unknown}; it has {list(names)}")
    return {name: values.get(name, "None") for name in names}


Labels = Mapping[str, str]
Timestamp = float | int | datetime


def prometheus_binaries() -> tuple[str, str] | None:
    """Paths of ``prometheus`` and ``promtool``, or None when either is missing."""
    prometheus, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if prometheus is None or promtool is None:
        return None
    return prometheus, promtool


def at(iso: str) -> float:
    """Unix seconds for an ISO-8601 UTC timestamp (``"2025-06-01T10:00:00Z"``)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def _seconds(ts: Timestamp) -> float:
    if isinstance(ts, datetime):
        if ts.tzinfo is None:
            raise ValueError(f"timestamp {ts!r} has no time zone; use UTC")
        return ts.timestamp()
    return float(ts)


def _format_value(value: float) -> str:
    """Numbers the way prometheus_client writes them (``1.0``, ``+Inf``), so ``le`` labels match."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _render_labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _format_ts(ts: Timestamp) -> str:
    seconds = _seconds(ts)
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


@dataclass
class _Family:
    name: str
    kind: str  # counter | gauge | histogram
    lines: list[tuple[float, str]] = field(default_factory=list)  # (timestamp, sample line)


class OpenMetrics:
    """Builds OpenMetrics text: families are kept contiguous and samples ordered by time per series.

    Each method takes ``points``: ``(timestamp, value)`` pairs, timestamps as unix seconds or aware
    datetimes. Histograms take cumulative bucket counts per point (see :meth:`histogram`).
    """

    def __init__(self) -> None:
        self._families: dict[str, _Family] = {}

    def _family(self, name: str, kind: str) -> _Family:
        family = self._families.setdefault(name, _Family(name, kind))
        if family.kind != kind:
            raise ValueError(f"metric family {name!r} is already a {family.kind}, not a {kind}")
        return family

    def _add(self, family: _Family, sample: str, labels: Labels, points: Iterable[tuple[Timestamp, float]]):
        for ts, value in points:
            line = f"{sample}{_render_labels(labels)} {_format_value(value)} {_format_ts(ts)}"
            family.lines.append((_seconds(ts), line))
        return self

    def counter(self, name: str, labels: Labels, points: Iterable[tuple[Timestamp, float]]) -> OpenMetrics:
        """A counter family ``name`` (without ``_total``); samples are written as ``name_total``."""
        if name.endswith("_total"):
            raise ValueError(f"counter family {name!r}: pass the name without the _total suffix")
        return self._add(self._family(name, "counter"), f"{name}_total", labels, points)

    def gauge(self, name: str, labels: Labels, points: Iterable[tuple[Timestamp, float]]) -> OpenMetrics:
        return self._add(self._family(name, "gauge"), name, labels, points)

    def histogram(
        self,
        name: str,
        labels: Labels,
        points: Iterable[tuple[Timestamp, Sequence[float], float]],
        buckets: Sequence[float] = LITELLM_LATENCY_BUCKETS,
    ) -> OpenMetrics:
        """A histogram: each point is ``(timestamp, cumulative_counts, sum)``.

        ``cumulative_counts[i]`` is the count of observations <= ``buckets[i]``; the last bucket must
        be ``+Inf`` and its count is also written as ``name_count``.
        """
        if not buckets or not math.isinf(buckets[-1]):
            raise ValueError(f"histogram {name!r}: the last bucket must be +Inf")
        family = self._family(name, "histogram")
        for ts, counts, total in points:
            if len(counts) != len(buckets):
                raise ValueError(f"histogram {name!r}: {len(counts)} counts for {len(buckets)} buckets")
            if any(b > a for a, b in zip(counts[1:], counts, strict=False)):
                raise ValueError(f"histogram {name!r}: bucket counts must be cumulative, got {counts}")
            for bound, count in zip(buckets, counts, strict=True):
                self._add(family, f"{name}_bucket", {**labels, "le": _format_value(bound)}, [(ts, count)])
            self._add(family, f"{name}_count", labels, [(ts, counts[-1])])
            self._add(family, f"{name}_sum", labels, [(ts, total)])
        return self

    def observations(
        self,
        name: str,
        labels: Labels,
        observations: Iterable[tuple[Timestamp, float]],
        *,
        scrape_times: Iterable[Timestamp],
        buckets: Sequence[float] = LITELLM_LATENCY_BUCKETS,
    ) -> OpenMetrics:
        """A histogram built from individual ``(time, observed_value)`` events, sampled at ``scrape_times``.

        What a scraper would have seen: at each scrape time, the cumulative bucket counts and sum of
        every observation made at or before it.
        """
        events = sorted((_seconds(ts), v) for ts, v in observations)
        points = []
        for scrape in sorted(_seconds(t) for t in scrape_times):
            seen = [v for ts, v in events if ts <= scrape]
            counts = [sum(1 for v in seen if v <= bound) for bound in buckets]
            points.append((scrape, counts, sum(seen)))
        return self.histogram(name, labels, points, buckets)

    def text(self) -> str:
        out: list[str] = []
        for family in self._families.values():
            out.append(f"# TYPE {family.name} {family.kind}")
            # series stay contiguous (stable sort by series line prefix), ordered by time inside
            by_series: dict[str, list[tuple[float, str]]] = {}
            for ts, line in family.lines:
                series = line.rsplit(" ", 2)[0]
                by_series.setdefault(series, []).append((ts, line))
            for samples in by_series.values():
                out.extend(line for _, line in sorted(samples, key=lambda s: s[0]))
        out.append("# EOF")
        return "\n".join(out) + "\n"


@dataclass
class PrometheusInstance:
    """A running Prometheus serving the blocks built from the given OpenMetrics text."""

    url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class PrometheusSupportError(RuntimeError):
    """The test Prometheus could not be prepared or started."""


def _die_with_parent() -> None:
    """Linux: SIGTERM the server when the test process dies, so a killed pytest leaves no orphans."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build_blocks(openmetrics_text: str, data_dir: Path, promtool: str = "promtool") -> None:
    """Write TSDB blocks for the samples in ``openmetrics_text`` into ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    source = data_dir.parent / f"{data_dir.name}.om"
    text = openmetrics_text if openmetrics_text.rstrip().endswith("# EOF") else openmetrics_text + "# EOF\n"
    source.write_text(text)
    result = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(data_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise PrometheusSupportError(f"promtool rejected {source}: {detail[-1] if detail else 'no output'}")


def start_prometheus(
    openmetrics: str | OpenMetrics | None,
    workdir: Path,
    *,
    extra_args: Sequence[str] = (),
    scrape_config: str | None = None,
) -> PrometheusInstance:
    """Start Prometheus on a free 127.0.0.1 port over a fresh data dir in ``workdir``.

    ``openmetrics`` (text or an :class:`OpenMetrics` builder; None for an empty server) is loaded
    first. ``scrape_config``: the prometheus.yml to run with (default: no scrape jobs; see
    :func:`start_scraping_prometheus`). Returns once ``/-/ready`` answers 200. Raises :class:`PrometheusSupportError` if the
    binaries are missing or the server does not come up (with the end of its log).
    """
    binaries = prometheus_binaries()
    if binaries is None:
        raise PrometheusSupportError(
            "prometheus/promtool not found: apt-get install prometheus (see .ci/run)"
        )
    prometheus, promtool = binaries
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    if data_dir.exists():
        raise PrometheusSupportError(f"{data_dir} already exists: give each instance its own workdir")
    text = openmetrics.text() if isinstance(openmetrics, OpenMetrics) else openmetrics
    if text:
        build_blocks(text, data_dir, promtool)
    else:
        data_dir.mkdir()
    config = workdir / "prometheus.yml"
    config.write_text(scrape_config or "global:\n  scrape_interval: 15s\nscrape_configs: []\n")

    last_error = ""
    for _attempt in range(3):  # the free port can be taken between probe and bind: retry
        port = _free_port()
        log_path = workdir / f"prometheus-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    prometheus,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={data_dir}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=100y",
                    *extra_args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        instance = PrometheusInstance(f"http://127.0.0.1:{port}", data_dir, log_path, process)
        if _wait_ready(instance):
            return instance
        instance.stop()
        last_error = instance.log_tail(5)
        if "address already in use" not in last_error:
            break
    raise PrometheusSupportError(f"prometheus did not become ready; log tail:\n{last_error}")


def _wait_ready(instance: PrometheusInstance) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if instance.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{instance.url}/-/ready", timeout=1.0).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return False


def start_scraping_prometheus(
    target: str,
    workdir: Path,
    *,
    job: str = "litellm",
    metrics_path: str = "/metrics/",
    interval_s: float = 1.0,
) -> PrometheusInstance:
    """Start an empty Prometheus that scrapes ``target`` (``host:port``) every ``interval_s`` seconds as
    job ``job`` (``litellm``: the name the query catalog's ``litellm_scrape_up`` reads), path
    ``metrics_path`` (LiteLLM serves ``/metrics/``). The target may come up after Prometheus does."""
    interval = f"{int(interval_s * 1000)}ms"
    config = (
        f"global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\n  evaluation_interval: 15s\n"
        f"scrape_configs:\n  - job_name: {job}\n    metrics_path: {metrics_path}\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    return start_prometheus(None, workdir, scrape_config=config)


@contextmanager
def running_prometheus(openmetrics: str | OpenMetrics | None, workdir: Path) -> Iterator[PrometheusInstance]:
    instance = start_prometheus(openmetrics, workdir)
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[Callable[[str | OpenMetrics | None], PrometheusInstance]]:
    """Factory fixture: ``prometheus_factory(openmetrics)`` -> a running instance, stopped after the test.

    Skips the test when the Debian ``prometheus`` package is missing locally; in CI (``CI`` set) a
    missing package is a failure, because ``.ci/run`` installs it.
    """
    require_prometheus()
    started: list[PrometheusInstance] = []

    def start(openmetrics: str | OpenMetrics | None) -> PrometheusInstance:
        instance = start_prometheus(openmetrics, tmp_path / f"prometheus-{len(started)}")
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def require_prometheus() -> None:
    """Skip (locally) or fail (in CI, where ``.ci/run`` installs it) when Prometheus is missing."""
    import os

    if prometheus_binaries() is None:
        message = "prometheus/promtool missing (apt-get install -y --no-install-recommends prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


# --- a reusable dataset with hand-computed answers -------------------------------------------------

EXAMPLE_START = "2025-06-01T10:00:00Z"
EXAMPLE_KEY_ALIAS = "bench-session-a"
EXAMPLE_IDLE_KEY_ALIAS = "bench-session-old"
EXAMPLE_MODEL_GROUP = "claude-sonnet"
# per 15 s scrape during the active half hour: 1 request in (0.25, 0.5] s, 2 in (0.5, 1], 1 in (1, 2]
EXAMPLE_LATENCIES = (0.3, 0.7, 0.8, 1.5)


def example_litellm_hour(t0: str = EXAMPLE_START) -> OpenMetrics:
    """One hour of LiteLLM traffic around ``t0`` (default 2025-06-01 10:00 UTC), scraped every 15 s.

    - Key alias ``bench-session-a`` on model group ``claude-sonnet``: every series is born at t0-10m
      at 0; from t0 to t0+30m each scrape adds 3 requests, 4 latency observations
      (:data:`EXAMPLE_LATENCIES`), 300 input and 60 output tokens; flat afterwards until t0+90m.
      So over t0+5m..t0+30m: ``rate(...[5m])`` = 0.2 req/s, 20 input and 4 output tokens/s;
      p50 latency = 0.75 s and p95 = 1.8 s wherever the 5m window holds traffic (t0+1m..t0+34m),
      NaN where it holds none; 360 requests in total.
    - Key alias ``bench-session-old``: a request counter flat at 50 from t0-70m to t0+90m.
    - ``up{job="litellm", instance="litellm:4000"}`` = 1 from t0-70m to t0+44m45s (last scrape),
      so instant queries see it up to t0+49m (5 minute lookback).
    - No TTFT, upstream-latency, overhead or failure series at all.
    """
    start = at(t0)
    scrapes = [start - 600 + 15 * i for i in range(0, 100 * 4 + 1)]  # t0-10m .. t0+90m
    active_steps = [max(0, min(120, int((ts - start) // 15))) for ts in scrapes]  # scrapes since t0, capped

    om = OpenMetrics()
    alias, group = EXAMPLE_KEY_ALIAS, EXAMPLE_MODEL_GROUP
    ident = {"api_key_alias": alias, "hashed_api_key": "0" * 64, "requested_model": group}
    om.counter(
        "litellm_proxy_total_requests_metric",
        litellm_labels(
            "litellm_proxy_total_requests_metric", **ident, status_code="200", route="/chat/completions"
        ),
        [(ts, 3 * k) for ts, k in zip(scrapes, active_steps, strict=True)],
    )
    for metric, per_scrape in (("litellm_input_tokens_metric", 300), ("litellm_output_tokens_metric", 60)):
        om.counter(
            metric,
            litellm_labels(metric, **ident, model="anthropic/claude-sonnet-4"),
            [(ts, per_scrape * k) for ts, k in zip(scrapes, active_steps, strict=True)],
        )
    per_scrape_counts = [sum(1 for v in EXAMPLE_LATENCIES if v <= b) for b in LITELLM_LATENCY_BUCKETS]
    om.histogram(
        "litellm_request_total_latency_metric",
        litellm_labels("litellm_request_total_latency_metric", **ident, model_group=group),
        [
            (ts, [c * k for c in per_scrape_counts], round(sum(EXAMPLE_LATENCIES) * k, 6))
            for ts, k in zip(scrapes, active_steps, strict=True)
        ],
    )
    old_scrapes = [start - 4200 + 15 * i for i in range(0, 160 * 4 + 1)]  # t0-70m .. t0+90m
    om.counter(
        "litellm_proxy_total_requests_metric",
        litellm_labels(
            "litellm_proxy_total_requests_metric",
            api_key_alias=EXAMPLE_IDLE_KEY_ALIAS,
            requested_model=group,
            status_code="200",
        ),
        [(ts, 50) for ts in old_scrapes],
    )
    om.gauge(
        "up",
        {"job": "litellm", "instance": "litellm:4000"},
        [(ts, 1) for ts in old_scrapes if ts <= start + 44 * 60 + 45],
    )
    return om
