"""Grafana dashboards as data: load ``dashboards/*.json``, list every query, and render a query the way
Grafana would before sending it to its datasource, so tests can run it against a real Postgres or a
real Prometheus.

Only the macros and variable syntaxes below are supported; anything else in a query is an error, so a
dashboard cannot use a Grafana feature these tests do not exercise.

SQL (Grafana's Postgres datasource, ``grafana-postgresql-datasource``):
- ``$__timeFilter(col)`` -> ``col BETWEEN '<from>' AND '<to>'`` (RFC 3339, UTC, like Grafana)
- ``$__timeFrom()`` / ``$__timeTo()`` -> ``'<from>'`` / ``'<to>'``
- ``$var``, ``${var}``, ``[[var]]``: a single value as is; several values (multi-value or "All")
  as ``'a','b'`` with quotes doubled, which is Grafana's default SQL formatting.

PromQL (Prometheus datasource):
- ``$__rate_interval``, ``$__interval``, ``$__range`` -> durations chosen by the test
- ``$var`` etc.: one value regex-escaped, several as ``(a|b)``; "All" uses the variable's ``allValue``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS_DIR = REPO_ROOT / "dashboards"
DATASOURCES_FILE = REPO_ROOT / "configs/grafana/provisioning/datasources/datasources.yaml"
DASHBOARD_PROVIDERS_FILE = REPO_ROOT / "configs/grafana/provisioning/dashboards/dashboards.yaml"

SQL_TYPES = {"grafana-postgresql-datasource", "postgres"}
PROMETHEUS_TYPES = {"prometheus"}

# ${name}, ${name:format}, [[name]], $name (a name starts with a letter or underscore)
_VAR_RE = re.compile(
    r"\$\{(?P<braced>\w+)(?::(?P<fmt>[\w-]+))?\}|\[\[(?P<bracket>\w+)\]\]|\$(?P<plain>[A-Za-z_]\w*)"
)
_SQL_MACRO_RE = re.compile(r"\$__(?P<name>\w+)\((?P<args>[^()]*)\)")


class DashboardQueryError(AssertionError):
    """A dashboard query cannot be rendered or does not return what the panel needs."""


@dataclass(frozen=True)
class Target:
    """One query of one panel (or of a template variable when ``panel`` starts with ``variable``)."""

    dashboard_uid: str
    dashboard_file: str
    panel: str
    ref_id: str
    datasource_type: str
    datasource_uid: str
    query: str
    instant: bool = False
    fmt: str = "table"

    @property
    def id(self) -> str:
        return f"{self.dashboard_uid}/{self.panel}/{self.ref_id}"

    @property
    def is_sql(self) -> bool:
        return self.datasource_type in SQL_TYPES

    @property
    def is_promql(self) -> bool:
        return self.datasource_type in PROMETHEUS_TYPES


@dataclass(frozen=True)
class Dashboard:
    path: Path
    model: dict[str, Any]

    @property
    def uid(self) -> str:
        return str(self.model.get("uid", ""))

    @property
    def title(self) -> str:
        return str(self.model.get("title", ""))

    def panels(self) -> Iterator[dict[str, Any]]:
        """Every panel except rows, including panels nested in collapsed rows."""
        for panel in self.model.get("panels", []):
            if panel.get("type") == "row":
                yield from panel.get("panels", [])
            else:
                yield panel

    def variables(self) -> list[dict[str, Any]]:
        return list(self.model.get("templating", {}).get("list", []))

    def variable(self, name: str) -> dict[str, Any]:
        for var in self.variables():
            if var.get("name") == name:
                return var
        raise KeyError(f"{self.path.name}: no template variable {name!r}")

    def targets(self) -> list[Target]:
        found: list[Target] = []
        for panel in self.panels():
            panel_ds = panel.get("datasource") or {}
            for target in panel.get("targets", []):
                ds = target.get("datasource") or panel_ds
                query = target.get("rawSql") if ds.get("type") in SQL_TYPES else target.get("expr")
                found.append(
                    Target(
                        dashboard_uid=self.uid,
                        dashboard_file=self.path.name,
                        panel=str(panel.get("title", f"panel {panel.get('id')}")),
                        ref_id=str(target.get("refId", "")),
                        datasource_type=str(ds.get("type", "")),
                        datasource_uid=str(ds.get("uid", "")),
                        query=str(query or ""),
                        instant=bool(target.get("instant")) and not target.get("range"),
                        fmt=str(target.get("format", "table")),
                    )
                )
        return found

    def variable_targets(self) -> list[Target]:
        found = []
        for var in self.variables():
            if var.get("type") != "query":
                continue
            ds = var.get("datasource") or {}
            query = var.get("query")
            if isinstance(query, dict):
                query = query.get("query", "")
            found.append(
                Target(
                    dashboard_uid=self.uid,
                    dashboard_file=self.path.name,
                    panel=f"variable {var.get('name')}",
                    ref_id=str(var.get("name")),
                    datasource_type=str(ds.get("type", "")),
                    datasource_uid=str(ds.get("uid", "")),
                    query=str(query or ""),
                )
            )
        return found


def load_dashboards(directory: Path = DASHBOARDS_DIR) -> list[Dashboard]:
    dashboards = []
    for path in sorted(directory.glob("*.json")):
        try:
            model = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DashboardQueryError(f"{path}: not valid JSON: {exc}") from None
        dashboards.append(Dashboard(path, model))
    return dashboards


def all_targets(dashboards: Sequence[Dashboard] | None = None) -> list[Target]:
    return [t for d in dashboards or load_dashboards() for t in (*d.variable_targets(), *d.targets())]


def provisioned_datasources() -> dict[str, str]:
    """uid -> type of the datasources Grafana is provisioned with."""
    spec = yaml.safe_load(DATASOURCES_FILE.read_text())
    return {ds["uid"]: ds["type"] for ds in spec.get("datasources", [])}


def referenced_variables(query: str) -> set[str]:
    names = set()
    for m in _VAR_RE.finditer(query):
        name = m.group("braced") or m.group("bracket") or m.group("plain")
        if not name.startswith("__"):
            names.add(name)
    return names


# ----------------------------------------------------------------------------- rendering


def _utc(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"time {ts!r} has no time zone; use UTC")
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sql_quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _substitute_variables(
    text: str, values: Mapping[str, Sequence[str] | str], *, multi_format, where: str
) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group("braced") or m.group("bracket") or m.group("plain")
        if name.startswith("__"):
            return m.group(0)  # a macro, handled by the caller
        if m.group("fmt"):
            raise DashboardQueryError(
                f"{where}: variable format ${{{name}:{m.group('fmt')}}} is not supported here"
            )
        if name not in values:
            raise DashboardQueryError(f"{where}: variable ${name} has no value (defined: {sorted(values)})")
        value = values[name]
        if isinstance(value, str):
            return value
        return multi_format(list(value))

    return _VAR_RE.sub(repl, text)


def render_sql(
    query: str,
    variables: Mapping[str, Sequence[str] | str],
    *,
    time_from: datetime,
    time_to: datetime,
    where: str = "query",
) -> str:
    """The SQL Grafana's Postgres datasource would run for ``query``."""
    start, end = _utc(time_from), _utc(time_to)

    def macro(m: re.Match[str]) -> str:
        name, args = m.group("name"), m.group("args").strip()
        if name == "timeFilter":
            if not args:
                raise DashboardQueryError(f"{where}: $__timeFilter() needs a column")
            return f"{args} BETWEEN '{start}' AND '{end}'"
        if name == "timeFrom" and not args:
            return f"'{start}'"
        if name == "timeTo" and not args:
            return f"'{end}'"
        raise DashboardQueryError(
            f"{where}: Grafana macro $__{name}({args}) is not supported by the dashboard tests"
        )

    rendered = _SQL_MACRO_RE.sub(macro, query)
    rendered = _substitute_variables(
        rendered, variables, multi_format=lambda vs: ",".join(_sql_quote(v) for v in vs), where=where
    )
    leftover = re.search(r"\$__\w+", rendered)
    if leftover:
        raise DashboardQueryError(f"{where}: unsupported Grafana macro {leftover.group(0)}")
    return rendered


def render_promql(
    expr: str,
    variables: Mapping[str, Sequence[str] | str],
    *,
    rate_interval: str,
    interval: str,
    range_: str,
    where: str = "query",
) -> str:
    """The PromQL Grafana's Prometheus datasource would send for ``expr``."""
    builtins = {"__rate_interval": rate_interval, "__interval": interval, "__range": range_}

    def builtin(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in builtins:
            raise DashboardQueryError(
                f"{where}: Grafana variable ${name} is not supported by the dashboard tests"
            )
        return builtins[name]

    rendered = re.sub(r"\$\{?(__\w+)\}?", builtin, expr)

    def multi(values: list[str]) -> str:
        # regex-escaped, with the backslash itself escaped for the PromQL string literal
        escaped = [re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\\\1", v) for v in values]
        return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"

    return _substitute_variables(rendered, variables, multi_format=multi, where=where)
