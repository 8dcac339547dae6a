"""Land catalog range queries into ``raw.prometheus_series``, idempotently per window.

For each landing window (at most a day, on whole hours): every catalog query is fetched first
(split under the point limit), then one transaction deletes the window's rows for the catalog's
queries and COPYs the new ones in. A failure before a window's commit leaves that window as it
was (earlier days of a long range stay committed); re-running a window replaces exactly its rows.
An empty result lands nothing (no zero rows). A window for which Prometheus returns nothing at all
while rows are already landed is kept, not wiped (see ``LandingReport.kept_windows``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from benchmark_pipeline.defs.prometheus.catalog import CatalogQuery, QueryCatalog, default_catalog_path
from benchmark_pipeline.defs.prometheus.client import PrometheusClient, Series
from benchmark_pipeline.defs.prometheus.windows import (
    landing_windows,
    partition_key_for,
    plan_query_ranges,
    require_whole_hours,
)
from session_cli.errors import ConfigError

RAW_TABLES_SQL = Path(__file__).parent / "sql" / "raw_tables.sql"
TABLE = "raw.prometheus_series"

log = logging.getLogger(__name__)


@dataclass
class QueryLanding:
    """What one catalog query contributed to a landed range."""

    name: str
    step_seconds: int
    rows: int = 0
    null_values: int = 0
    calls: int = 0
    label_sets: set[tuple[tuple[str, str], ...]] = field(default_factory=set, repr=False)

    @property
    def series(self) -> int:
        return len(self.label_sets)


@dataclass
class LandingReport:
    start: datetime
    end: datetime
    queries: dict[str, QueryLanding] = field(default_factory=dict)
    deleted: int = 0
    warnings: list[str] = field(default_factory=list)
    # windows where Prometheus returned nothing at all but rows were landed before: left untouched
    kept_windows: list[tuple[datetime, datetime]] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(q.rows for q in self.queries.values())

    @property
    def empty_queries(self) -> list[str]:
        return [q.name for q in self.queries.values() if q.rows == 0]


def ensure_raw_tables(database_url: str) -> None:
    """Apply ``sql/raw_tables.sql`` (idempotent ``create ... if not exists``)."""
    ddl = RAW_TABLES_SQL.read_text()
    for attempt in range(2):
        try:
            with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
                conn.execute(ddl)
            return
        except psycopg.errors.UniqueViolation:
            # two runs creating schema "raw" at the same instant: the loser retries and finds it
            if attempt:
                raise


def land_window(
    database_url: str,
    client: PrometheusClient,
    catalog: QueryCatalog,
    start: datetime,
    end: datetime,
    *,
    catalog_path: Path | None = None,
) -> LandingReport:
    """Land every catalog query over ``[start, end)`` (whole hours, UTC-aware) and report counts."""
    require_whole_hours(start, end)
    ensure_raw_tables(database_url)
    report = LandingReport(
        start, end, {q.name: QueryLanding(q.name, catalog.step_for(q)) for q in catalog.queries}
    )
    names = catalog.names()
    with psycopg.connect(database_url, autocommit=True) as conn:
        for window_start, window_end in landing_windows(start, end):
            fetched = [
                (query, _fetch(client, catalog, query, window_start, window_end, report, catalog_path))
                for query in catalog.queries
            ]
            if not any(series_list for _, series_list in fetched):
                kept = _rows_in_window(conn, names, window_start, window_end)
                if kept:
                    # Prometheus no longer holds this window (past its retention, or PROMETHEUS_URL
                    # points elsewhere): replacing would wipe history, so keep what is landed.
                    report.kept_windows.append((window_start, window_end))
                    report.warnings.append(
                        f"Prometheus returned no series for any query in {window_start.isoformat()}.."
                        f"{window_end.isoformat()} but {kept} rows are landed there: kept them "
                        "(window past Prometheus's retention, or the wrong PROMETHEUS_URL?)"
                    )
                    log.warning(report.warnings[-1])
                    continue
            with conn.transaction():
                # overlapping runs (the schedule and a manual backfill) take turns: without this the
                # second's delete misses rows the first has just inserted and its COPY hits the key
                conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
                deleted = conn.execute(
                    f"delete from {TABLE} where query_name = any(%s) and ts >= %s and ts < %s",
                    (names, window_start, window_end),
                ).rowcount
                report.deleted += max(deleted, 0)
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        f"copy {TABLE} (query_name, labels, ts, value, step_seconds, _partition_key) from stdin"
                    ) as copy,
                ):
                    for query, series_list in fetched:
                        landing = report.queries[query.name]
                        step = catalog.step_for(query)
                        for series in series_list:
                            labels = Jsonb(series.labels)
                            for sample in series.samples:
                                copy.write_row(
                                    (
                                        query.name,
                                        labels,
                                        sample.ts,
                                        sample.value,
                                        step,
                                        partition_key_for(sample.ts),
                                    )
                                )
                                landing.rows += 1
                                landing.null_values += sample.value is None
            log.info(
                "landed %s..%s: %d rows, %d deleted",
                window_start.isoformat(),
                window_end.isoformat(),
                sum(len(s.samples) for _, sl in fetched for s in sl),
                deleted,
            )
    return report


def _fetch(
    client: PrometheusClient,
    catalog: QueryCatalog,
    query: CatalogQuery,
    start: datetime,
    end: datetime,
    report: LandingReport,
    catalog_path: Path | None,
) -> list[Series]:
    """All series of one query over ``[start, end)``, stitched across point-limited calls."""
    landing = report.queries[query.name]
    merged: dict[tuple[tuple[str, str], ...], Series] = {}
    for call in plan_query_ranges(start, end, catalog.step_for(query)):
        result = client.query_range(query.promql, call.start, call.last, call.step_seconds, name=query.name)
        landing.calls += 1
        report.warnings.extend(f"{query.name}: {w}" for w in result.warnings)
        for series in result.series:
            _check_labels(query, series, catalog_path)
            key = tuple(sorted(series.labels.items()))
            if key in merged:
                merged[key].samples.extend(series.samples)
            else:
                merged[key] = Series(dict(series.labels), list(series.samples))
    landing.label_sets.update(merged)
    return list(merged.values())


def _rows_in_window(conn: psycopg.Connection, names: list[str], start: datetime, end: datetime) -> int:
    row = conn.execute(
        f"select count(*) from {TABLE} where query_name = any(%s) and ts >= %s and ts < %s",
        (names, start, end),
    ).fetchone()
    return int(row[0]) if row else 0


def _check_labels(query: CatalogQuery, series: Series, catalog_path: Path | None) -> None:
    unexpected = sorted(set(series.labels) - set(query.labels))
    if unexpected:
        path = catalog_path or default_catalog_path()
        raise ConfigError(
            f"{path}: query {query.name!r}: Prometheus returned label(s) {unexpected} not in its labels "
            f"{list(query.labels)} (series {series.labels})",
            hint="aggregate them away with 'sum by (...)' or add them to the query's labels",
        )


def scrape_coverage(
    database_url: str, catalog: QueryCatalog, query_name: str, start: datetime, end: datetime
) -> float | None:
    """Share of the window's evaluation points at which ``query_name`` (an ``up`` query) was >= 1.

    None when the catalog has no such query. 1.0 means Prometheus saw LiteLLM up at every point.
    """
    query = catalog.get(query_name)
    if query is None:
        return None
    expected = int((end - start).total_seconds()) // catalog.step_for(query)
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            f"select count(distinct ts) from {TABLE} where query_name = %s and ts >= %s and ts < %s and value >= 1",
            (query_name, start, end),
        ).fetchone()
    up_points = int(row[0]) if row else 0
    return up_points / expected if expected else None
