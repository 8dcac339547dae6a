"""Every PromQL query in dashboards/*.json (panels and template variables) runs against a real Prometheus
(Debian package) holding samples shaped like LiteLLM's exporter (litellm_metrics.py), once with every
variable on "All" and once with one model alias and one session key selected, and returns series with
values. A misspelled metric or label name returns nothing and fails here.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import litellm_metrics as lm
import prometheus_support
import pytest
from grafana_dashboards import DashboardQueryError, Target, all_targets, load_dashboards, render_promql

DASHBOARDS = load_dashboards()
PROMQL_TARGETS = [t for t in all_targets(DASHBOARDS) if t.is_promql and not t.panel.startswith("variable ")]
VARIABLE_TARGETS = [t for t in all_targets(DASHBOARDS) if t.is_promql and t.panel.startswith("variable ")]

# the panels' window: the last 20 minutes of the scenario, 1-minute resolution
RANGE_START = lm.END - timedelta(minutes=20)
RANGE_END = lm.END
STEP_S = 60
BUILTINS = {"rate_interval": "1m", "interval": "1m", "range_": "20m"}
# one selection that must show data on every panel: SESSION_1 has latency, TTFT, tokens and failures
SELECTED = {"model_group": "kimi-k2-5", "api_key_alias": lm.SESSION_1}

_LABEL_VALUES_RE = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[prometheus_support.PrometheusInstance]:
    if prometheus_support.prometheus_binaries() is None:
        message = "prometheus/promtool missing (apt-get install -y --no-install-recommends prometheus)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    instance = prometheus_support.start_prometheus(lm.build(), tmp_path_factory.mktemp("stack_prometheus"))
    yield instance
    instance.stop()


def _api(prometheus, path: str, params: dict) -> dict:
    response = httpx.get(f"{prometheus.url}{path}", params=params, timeout=30)
    body = response.json()
    if response.status_code != 200 or body.get("status") != "success":
        raise DashboardQueryError(
            f"Prometheus {path} {params}: {response.status_code} {body.get('error', body)}"
        )
    return body["data"]


def label_values(prometheus, query: str, variables: dict, where: str) -> list[str]:
    rendered = render_promql(query, variables, where=where, **BUILTINS)
    m = _LABEL_VALUES_RE.match(rendered.strip())
    if m is None:
        raise DashboardQueryError(
            f"{where}: only label_values(selector, label) variables are supported: {query}"
        )
    params: dict = {"start": lm.START.timestamp(), "end": lm.END.timestamp()}
    if m.group("selector"):
        params["match[]"] = m.group("selector")
    return _api(prometheus, f"/api/v1/label/{m.group('label')}/values", params)


def variable_values(prometheus, dashboard_uid: str, mode: str) -> dict[str, list[str] | str]:
    """Resolve the dashboard's variables in order: "all" -> the variable's allValue; "selected" -> SELECTED."""
    dashboard = next(d for d in DASHBOARDS if d.uid == dashboard_uid)
    values: dict[str, list[str] | str] = {}
    for var in dashboard.variables():
        target = next(
            t for t in VARIABLE_TARGETS if t.dashboard_uid == dashboard_uid and t.ref_id == var["name"]
        )
        found = label_values(prometheus, target.query, values, target.id)
        assert found, f"{target.id}: no values"
        if mode == "all":
            assert var.get("includeAll") and var.get("allValue"), (
                f"{target.id}: live variables need an All value"
            )
            values[var["name"]] = var["allValue"]
        else:
            chosen = SELECTED[var["name"]]
            assert chosen in found, f"{target.id}: {chosen!r} not among {found}"
            values[var["name"]] = [chosen]
    return values


def run_promql(prometheus, target: Target, values: dict[str, list[str] | str]) -> list[dict]:
    expr = render_promql(target.query, values, where=target.id, **BUILTINS)
    if target.instant:
        data = _api(prometheus, "/api/v1/query", {"query": expr, "time": RANGE_END.timestamp()})
        series = [{"metric": r["metric"], "values": [r["value"]]} for r in data["result"]]
    else:
        params = {
            "query": expr,
            "start": RANGE_START.timestamp(),
            "end": RANGE_END.timestamp(),
            "step": STEP_S,
        }
        data = _api(prometheus, "/api/v1/query_range", params)
        series = data["result"]
    finite = [s for s in series if any(math.isfinite(float(v)) for _, v in s["values"])]
    if not finite:
        raise DashboardQueryError(
            f"{target.dashboard_file}: panel {target.panel!r} ({target.ref_id}) returned no series with values: {expr}"
        )
    return finite


@pytest.mark.parametrize("mode", ["all", "selected"])
@pytest.mark.parametrize("target", PROMQL_TARGETS, ids=lambda t: t.id)
def test_promql_target_returns_series(prometheus, target: Target, mode: str) -> None:
    series = run_promql(prometheus, target, variable_values(prometheus, target.dashboard_uid, mode))
    if mode == "selected":
        for s in series:
            for label in ("model_group", "requested_model"):
                assert s["metric"].get(label, SELECTED["model_group"]) == SELECTED["model_group"], (
                    target.id,
                    s,
                )
            assert s["metric"].get("api_key_alias", lm.SESSION_1) == lm.SESSION_1, (target.id, s)


def test_variable_queries_list_both_sessions(prometheus) -> None:
    for target in VARIABLE_TARGETS:
        values = label_values(prometheus, target.query, {"model_group": ".*"}, target.id)
        expected = {"kimi-k2-5", "glm-5"} if target.ref_id == "model_group" else {lm.SESSION_1, lm.SESSION_2}
        assert set(values) == expected, target.id


def test_known_answers(prometheus) -> None:
    """A few panels checked against the scenario by hand (instant, over the last 20 minutes)."""
    values = variable_values(prometheus, "hb-live-errors", "selected")
    by_title = {t.panel: t for t in PROMQL_TARGETS if t.dashboard_uid == "hb-live-errors"}
    failures = run_promql(prometheus, by_title["Failures in the time range"], values)
    # SESSION_1 fails every 5th request (one every 100 s): about 12 in 20 minutes (increase() extrapolates)
    assert [(s["metric"]["exception_class"], s["metric"]["exception_status"]) for s in failures] == [
        ("Fireworks_aiException.RateLimitError", "429")
    ]
    assert 10 <= float(failures[0]["values"][0][1]) <= 14
    ratio = run_promql(prometheus, by_title["Error ratio (time range)"], values)
    assert float(ratio[0]["values"][0][1]) == pytest.approx(0.2, abs=0.03)


def test_a_missing_metric_fails(prometheus) -> None:
    broken = Target("hb-test", "broken.json", "broken", "A", "prometheus", "hb-prometheus",
                    "sum(rate(litellm_request_total_latency_metric_bucket_typo[$__rate_interval]))")  # fmt: skip
    with pytest.raises(DashboardQueryError, match="no series"):
        run_promql(prometheus, broken, {})


def test_a_misspelled_label_fails_with_a_selection(prometheus) -> None:
    broken = Target("hb-test", "broken.json", "broken", "A", "prometheus", "hb-prometheus",
                    'sum(rate(litellm_proxy_total_requests_metric_total{model_group=~"$model_group"}[5m]))')  # fmt: skip
    with pytest.raises(DashboardQueryError, match="no series"):
        run_promql(prometheus, broken, {"model_group": ["kimi-k2-5"]})


def test_render_promql_matches_grafana_formatting() -> None:
    rendered = render_promql(
        'rate(x{a=~"$a", b=~"$b", c=~"${c}"}[$__rate_interval]) [$__range]',
        {"a": ".*", "b": ["v1.2", "w"], "c": ["x"]},
        rate_interval="1m",
        interval="15s",
        range_="20m",
    )
    assert rendered == r'rate(x{a=~".*", b=~"(v1\\.2|w)", c=~"x"}[1m]) [20m]'


def test_fixture_labels_match_installed_litellm() -> None:
    """The label names above are LiteLLM's: compare with the installed package (proxy extra) if present."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    try:
        from litellm.types.integrations.prometheus import PrometheusMetricLabels
    except ImportError:
        pytest.skip("litellm is not installed (uv sync --all-extras installs the proxy extra)")
    for family, labels in lm.LABELS.items():
        assert tuple(PrometheusMetricLabels.get_labels(family)) == labels, family
