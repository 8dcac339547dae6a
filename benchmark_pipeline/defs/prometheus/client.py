"""A small typed client for Prometheus's HTTP API (``/api/v1/query_range``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from session_cli.errors import BenchmarkError

DEFAULT_TIMEOUT_S = 30.0


class PrometheusUnavailableError(BenchmarkError):
    """Prometheus could not be reached (refused, timed out, DNS)."""


class PrometheusQueryError(BenchmarkError):
    """Prometheus answered, but with an error or a payload we cannot use."""


class _MatrixSeries(BaseModel):
    model_config = ConfigDict(extra="ignore")

    metric: dict[str, str]
    values: list[tuple[float, str]]


class _MatrixData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    resultType: Literal["matrix"]
    result: list[_MatrixSeries]


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["success", "error"]
    data: dict[str, Any] | None = None
    errorType: str | None = None
    error: str | None = None
    warnings: list[str] = []


@dataclass(frozen=True)
class Sample:
    ts: datetime
    value: float | None  # None where Prometheus answered NaN or +-Inf


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    samples: list[Sample]


@dataclass(frozen=True)
class RangeResult:
    series: list[Series]
    warnings: list[str]


def parse_value(text: str) -> float | None:
    """Prometheus sends sample values as strings; NaN and infinities become None (unknown, not 0)."""
    value = float(text)
    return value if math.isfinite(value) else None


class PrometheusClient:
    def __init__(self, base_url: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query_range(
        self, promql: str, start: datetime, last: datetime, step_seconds: int, *, name: str = "query"
    ) -> RangeResult:
        """Evaluate ``promql`` at ``start, start + step, ..., last``; ``name`` labels error messages."""
        form = {
            "query": promql,
            "start": _unix(start),
            "end": _unix(last),
            "step": str(step_seconds),
        }
        try:
            response = self._http.post("/api/v1/query_range", data=form)
        except httpx.TransportError as exc:
            raise PrometheusUnavailableError(
                f"Prometheus at {self.base_url} is unreachable while running query {name!r} "
                f"({type(exc).__name__}: {exc or 'no detail'})",
                hint="start Prometheus (docker compose up prometheus) or set PROMETHEUS_URL",
            ) from None
        return self._parse(response, name)

    def _parse(self, response: httpx.Response, name: str) -> RangeResult:
        try:
            body = _Response.model_validate_json(response.content)
        except ValidationError:
            snippet = response.text[:200].replace("\n", " ")
            raise PrometheusQueryError(
                f"Prometheus at {self.base_url} answered query {name!r} with HTTP {response.status_code} "
                f"and a body that is not its API JSON: {snippet!r}",
                hint="check that PROMETHEUS_URL points at Prometheus itself (no path, no proxy)",
            ) from None
        if body.status != "success" or response.status_code >= 400:
            raise PrometheusQueryError(
                f"Prometheus rejected query {name!r} (HTTP {response.status_code}, {body.errorType}): {body.error}",
                hint="fix the promql in configs/prometheus/queries.yaml"
                if body.errorType == "bad_data"
                else "check Prometheus's health and logs",
            )
        try:
            data = _MatrixData.model_validate(body.data)
        except ValidationError as exc:
            raise PrometheusQueryError(
                f"Prometheus answered query {name!r} without a matrix result: {exc.errors()[0]['msg']}"
            ) from None
        series = [
            Series(
                labels=item.metric,
                samples=[
                    Sample(datetime.fromtimestamp(ts, UTC), parse_value(raw)) for ts, raw in item.values
                ],
            )
            for item in data.result
        ]
        return RangeResult(series=series, warnings=body.warnings)


def _unix(ts: datetime) -> str:
    if ts.tzinfo is None:
        raise ValueError(f"timestamp {ts.isoformat()} has no time zone")
    seconds = ts.timestamp()
    return str(int(seconds)) if seconds == int(seconds) else f"{seconds:.3f}"
