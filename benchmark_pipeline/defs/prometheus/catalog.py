"""The Prometheus query catalog (``configs/prometheus/queries.yaml``): what ``raw_prometheus_series`` lands.

Each query has a stable ``name`` (the ``query_name`` column downstream), a ``description``, the
``promql`` evaluated by ``query_range`` (no Grafana ``$`` variables: the step and windows are
written out), the ``labels`` its result series may carry, a ``unit`` and a ``step_seconds``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from session_cli.errors import ConfigError

SECONDS_PER_HOUR = 3600
DEFAULT_STEP_SECONDS = 60
CATALOG_RELATIVE_PATH = Path("prometheus") / "queries.yaml"
_REPO_CONFIGS = Path(__file__).resolve().parents[3] / "configs"

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class CatalogQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    description: str = Field(min_length=1)
    promql: str = Field(min_length=1)
    labels: tuple[str, ...]
    unit: Literal["seconds", "per_second", "count", "ratio", "boolean"]
    step_seconds: int | None = None

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "must start with a lowercase letter and hold only lowercase letters, digits and _"
            )
        return value

    @field_validator("promql")
    @classmethod
    def _no_dashboard_variables(cls, value: str) -> str:
        if "$" in value:
            raise ValueError(
                "must not use Grafana variables ($__range, $__rate_interval, ...): write windows out"
            )
        return value.strip()

    @field_validator("labels")
    @classmethod
    def _labels_are_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for label in value:
            if not _LABEL.match(label) or label.startswith("__"):
                raise ValueError(f"{label!r} is not a label name a query result keeps")
        if len(set(value)) != len(value):
            raise ValueError(f"duplicate label in {list(value)}")
        return value

    @field_validator("step_seconds")
    @classmethod
    def _step_divides_hour(cls, value: int | None) -> int | None:
        if value is not None and (value <= 0 or SECONDS_PER_HOUR % value != 0):
            raise ValueError("must be a positive divisor of 3600 so points align with hourly partitions")
        return value


class CatalogDefaults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step_seconds: int = DEFAULT_STEP_SECONDS

    @field_validator("step_seconds")
    @classmethod
    def _step_divides_hour(cls, value: int) -> int:
        if value <= 0 or SECONDS_PER_HOUR % value != 0:
            raise ValueError("must be a positive divisor of 3600 so points align with hourly partitions")
        return value


class QueryCatalog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    defaults: CatalogDefaults = CatalogDefaults()
    queries: tuple[CatalogQuery, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> QueryCatalog:
        seen: set[str] = set()
        for query in self.queries:
            if query.name in seen:
                raise ValueError(f"query name {query.name!r} appears twice")
            seen.add(query.name)
        return self

    def step_for(self, query: CatalogQuery) -> int:
        return query.step_seconds or self.defaults.step_seconds

    def names(self) -> list[str]:
        return [q.name for q in self.queries]

    def get(self, name: str) -> CatalogQuery | None:
        return next((q for q in self.queries if q.name == name), None)


def default_catalog_path() -> Path:
    """``$BENCHMARK_CONFIGS_DIR/prometheus/queries.yaml``, else the repository's ``configs/``."""
    configured = os.environ.get("BENCHMARK_CONFIGS_DIR")
    base = Path(configured).expanduser() if configured else _REPO_CONFIGS
    return base / CATALOG_RELATIVE_PATH


def load_catalog(path: Path | None = None) -> QueryCatalog:
    """Read and validate the catalog; any problem is one :class:`ConfigError` line naming file, query, field."""
    path = path or default_catalog_path()
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: Prometheus query catalog not found", hint="set BENCHMARK_CONFIGS_DIR or restore it"
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{path}: expected a mapping with 'version' and 'queries', got {type(raw).__name__}"
        )
    try:
        return QueryCatalog.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, raw, exc), hint=f"fix {path} and re-run") from None


def _describe(path: Path, raw: dict[str, Any], exc: ValidationError) -> str:
    """First validation error as ``file: query 'name': field 'x': message (got value)``."""
    # an unknown key is usually a misspelt known one: report it before the "missing" it causes
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = list(error["loc"])
    where: list[str] = []
    if loc[:1] == ["queries"] and len(loc) >= 2 and isinstance(loc[1], int):
        index = loc[1]
        queries = raw.get("queries")
        entry = queries[index] if isinstance(queries, list) and index < len(queries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        where.append(f"query {name!r}" if isinstance(name, str) else f"query #{index + 1}")
        loc = loc[2:]
    elif loc[:1] == ["defaults"]:
        where.append("defaults")
        loc = loc[1:]
    field = ".".join(str(part) for part in loc)
    if field:
        where.append(f"field {field!r}")
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown field"
    elif error["type"] == "missing":
        message = "required field is missing"
    got = error.get("input")
    suffix = f" (got {got!r})" if error["type"] not in ("missing", "extra_forbidden") and _short(got) else ""
    return f"{path}: {': '.join(where) + ': ' if where else ''}{message}{suffix}"


def _short(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and len(repr(value)) <= 80
