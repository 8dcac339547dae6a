"""Secondary source: LiteLLM's ``GET /spend/logs/v2``, for a LiteLLM whose database you cannot reach.

The endpoint (LiteLLM 1.106.2) filters ``start_date <= "startTime" <= end_date`` (both inclusive,
``YYYY-MM-DD HH:MM:SS`` UTC), sorts by ``startTime`` only, pages with LIMIT/OFFSET
(``page`` from 1, ``page_size`` 1..1000) and caps its ``total`` at 10,000. Offset paging over a sort
with ties can skip or repeat rows, so this client never relies on it when it can avoid it: a
window whose ``total`` exceeds one page is split in halves (down to one second) until each piece
fits in a single page. Only a single second holding more than a page of rows is paged, and then
the distinct ``request_id`` count must equal ``total`` or the run fails. Rows are filtered to the
half-open window client-side (the server's end bound is inclusive) and de-duplicated.

Every row becomes a stage row exactly like the database source's, so both land identical rows.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from benchmark_pipeline.defs.litellm import statements as st
from benchmark_pipeline.defs.litellm.columns import COLUMNS, STAGED
from benchmark_pipeline.defs.litellm.errors import SpendLogSourceError
from benchmark_pipeline.defs.litellm.source_db import Page, ReadSummary, Staged, Window
from benchmark_pipeline.utc import naive_utc

SOURCE_NAME = "litellm_api"
ENDPOINT = "/spend/logs/v2"
MAX_PAGE_SIZE = 1000
DATE_FMT = "%Y-%m-%d %H:%M:%S"
HOUR = timedelta(hours=1)
SECOND = timedelta(seconds=1)

_STAGE_TYPES = {
    "text": "text",
    "timestamp": "timestamp",
    "bigint": "int8",
    "integer": "int4",
    "float": "float8",
}
STAGE_COPY_TYPES = [_STAGE_TYPES[c.kind] for c in STAGED] + ["text", "text", "text", "timestamp"]


class ApiSource:
    """Reads spend logs through LiteLLM's admin API. Use as a context manager."""

    name = SOURCE_NAME

    def __init__(
        self,
        base_url: str,
        master_key: str,
        *,
        page_size: int = MAX_PAGE_SIZE,
        timeout_s: float = 60.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._master_key = master_key
        self.page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self.timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.Client | None = None
        self._counts: dict[datetime, int] = {}
        self.rows_read = 0
        self.requests = 0

    def describe(self) -> str:
        return f"LiteLLM's API {self.base_url}{ENDPOINT}"

    def __enter__(self) -> ApiSource:
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {self._master_key}"},
            timeout=self.timeout_s,
            transport=self._transport,
        )
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # --- HTTP ---------------------------------------------------------------------------------

    def _get(self, start: datetime, end: datetime, page: int, page_size: int) -> dict[str, Any]:
        if self._client is None:
            raise RuntimeError("ApiSource used outside its `with` block")
        params = {
            "start_date": start.strftime(DATE_FMT),
            "end_date": end.strftime(DATE_FMT),
            "page": page,
            "page_size": page_size,
            "sort_by": "startTime",
            "sort_order": "asc",
        }
        where = f"GET {self.base_url}{ENDPOINT} ({params['start_date']}..{params['end_date']}, page {page})"
        self.requests += 1
        try:
            response = self._client.get(ENDPOINT, params=params)
        except httpx.HTTPError as exc:
            raise SpendLogSourceError(
                f"{where} failed: {type(exc).__name__}: {exc}",
                hint="check LITELLM_BASE_URL and that the proxy is up; nothing of this run was landed",
            ) from exc
        if response.status_code in (401, 403):
            raise SpendLogSourceError(
                f"{where} was refused ({response.status_code}): the master key is not accepted",
                hint="set LITELLM_MASTER_KEY to the proxy's master key",
            )
        if response.status_code != 200:
            raise SpendLogSourceError(
                f"{where} answered {response.status_code}: {response.text[:200]}",
                hint="a LiteLLM without its database cannot serve spend logs; nothing of this run was landed",
            )
        try:
            body = response.json()
            body["data"], body["total"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SpendLogSourceError(
                f"{where} did not answer the documented shape {{data, total, page, page_size, total_pages}}",
                hint="is LITELLM_BASE_URL a LiteLLM proxy (1.106 or newer)?",
            ) from exc
        return body

    def _fetch(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every row with start <= startTime < end (the server returns [start, end])."""
        first = self._get(start, end, 1, self.page_size)
        total = int(first["total"])
        capped = bool(first.get("total_is_capped"))
        if total <= self.page_size and not capped:
            rows = list(first["data"])
        elif end - start > SECOND:
            middle = start + timedelta(seconds=int((end - start).total_seconds()) // 2)
            return self._fetch(start, middle) + self._fetch(middle, end)
        else:
            rows = self._page_through(start, end, first, total)
        return [row for row in rows if _in_window(row, start, end)]

    def _page_through(
        self, start: datetime, end: datetime, first: dict[str, Any], total: int
    ) -> list[dict[str, Any]]:
        """A single second with more than a page of rows: offset pages, verified by distinct ids."""
        by_id: dict[str, dict[str, Any]] = {}
        pages = -(-total // self.page_size)
        for page in range(1, pages + 1):
            body = first if page == 1 else self._get(start, end, page, self.page_size)
            for row in body["data"]:
                by_id[str(row.get("request_id"))] = row
        if len(by_id) != total:
            raise SpendLogSourceError(
                f"{self.describe()}: {total} rows share {start:%Y-%m-%d %H:%M:%S} UTC but offset paging "
                f"returned {len(by_id)} distinct request_ids (the endpoint's sort has ties)",
                hint="read LiteLLM's database directly (LITELLM_DATABASE_URL): it has no such limit",
            )
        return list(by_id.values())

    # --- the source interface -----------------------------------------------------------------

    def pages(self, window: Window) -> Iterator[Page]:
        """One page per hour of the window (each fetched in as many requests as its size needs)."""
        start, end = naive_utc(window.start), naive_utc(window.end)
        self._counts = {}
        seen: set[str] = set()
        hour = start
        number = 0
        while hour < end:
            stop = min(hour + HOUR, end)
            rows = [r for r in self._fetch(hour, stop) if _claim(r, seen)]
            number += 1
            self.rows_read += len(rows)
            stage_rows = [stage_row(r, hour) for r in rows]
            for r in stage_rows:
                bucket = (r[START_INDEX] or hour).replace(minute=0, second=0, microsecond=0)
                self._counts[bucket] = self._counts.get(bucket, 0) + 1
            yield Page(number, _writer(stage_rows))
            hour = stop

    def summary(self) -> ReadSummary:
        """Rows per startTime hour as fetched (the API has no snapshot to count in), and no
        watermark: the API has no created_at, so the live path re-checks a trailing window instead."""
        return ReadSummary(dict(self._counts), None)

    def count_hour(self, hour: datetime) -> tuple[int, bool]:
        """Rows with hour <= startTime <= hour + 1h (the endpoint's inclusive bounds), and whether capped."""
        body = self._get(naive_utc(hour), naive_utc(hour) + HOUR, 1, 1)
        return int(body["total"]), bool(body.get("total_is_capped"))

    def latest_start(self) -> datetime | None:
        """The newest startTime in the last day (freshness check)."""
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        if self._client is None:
            raise RuntimeError("ApiSource used outside its `with` block")
        body = self._get(now - timedelta(days=1), now + HOUR, 1, 1)  # ascending: read the last page
        total = int(body["total"])
        if total == 0:
            return None
        last = self._get(now - timedelta(days=1), now + HOUR, total, 1) if total > 1 else body
        times = [_parse_time(r.get("startTime")) for r in last["data"]]
        return max((t for t in times if t is not None), default=None)


START_INDEX = [c.name for c in STAGED].index("startTime")


def _claim(row: dict[str, Any], seen: set[str]) -> bool:
    """De-duplicate across the windows of one run (rows without an id are all kept)."""
    rid = row.get("request_id")
    if not isinstance(rid, str) or not rid.strip():
        return True
    if rid in seen:
        return False
    seen.add(rid)
    return True


def _in_window(row: dict[str, Any], start: datetime, end: datetime) -> bool:
    ts = _parse_time(row.get("startTime"))
    return ts is None or start <= ts < end  # an unusable startTime stays with the window it came from


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        ts = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return naive_utc(ts)


def _iso_ms(ts: datetime) -> str:
    """The payload's time format, identical to the database source's to_char(..., ISO_MS)."""
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}


def stage_row(row: dict[str, Any], window_start: datetime) -> tuple[Any, ...]:
    """One API row as a stage row: the typed columns, then _payload, _metadata_kind, _pre_reason,
    _window_start. The payload is the same JSON the database source builds; a value that cannot be
    parsed is kept as it came (the row is rejected with the reason)."""
    typed: dict[str, Any] = {}
    payload: dict[str, Any] = {}
    problems: list[str] = []
    time_problem = False
    for col in COLUMNS:
        value = row.get(col.name)
        if col.kind == "timestamp":
            parsed = _parse_time(value)
            if value is not None and parsed is None:
                problems.append(f"{col.name} {json.dumps(value)[:80]} is not an ISO-8601 time")
                time_problem = True
            typed[col.name] = parsed
            payload[col.name] = _iso_ms(parsed) if parsed is not None else value
        elif col.kind == "json":
            if col.name == "request_tags" and isinstance(value, str):
                # the endpoint hydrates metadata but serves request_tags as the column's JSON text
                with contextlib.suppress(ValueError):
                    value = json.loads(value)
            payload[col.name] = value
        elif col.kind in ("bigint", "integer", "float"):
            number = _number(value, float if col.kind == "float" else int, col.name, problems)
            typed[col.name] = number
            payload[col.name] = number if number is not None else value
        else:
            text = None if value is None else str(value)
            typed[col.name] = text
            payload[col.name] = text
    pre_reason = None
    if problems:
        pre_reason = ("unparsable_timestamp: " if time_problem else "unparsable_number: ") + "; ".join(
            problems
        )
    metadata = payload.get("metadata")
    kind = None if metadata is None else _KINDS.get(type(metadata), "number")
    return (
        *(typed[c.name] for c in STAGED),
        json.dumps(payload),
        kind,
        pre_reason,
        window_start,
    )


def _number(value: Any, kind: type, name: str, problems: list[str]) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        problems.append(f"{name} {value!r} is not a number")
        return None
    try:
        return kind(value)
    except (TypeError, ValueError):
        problems.append(f"{name} {json.dumps(value)[:80]} is not a number")
        return None


@dataclass
class _Writer:
    rows: list[tuple[Any, ...]]

    def __call__(self, warehouse: psycopg.Connection) -> Staged:
        if not self.rows:
            return Staged(0, False)
        with warehouse.cursor().copy(st.stage_copy_sql(st.API_STAGE_COLUMNS)) as copy:
            copy.set_types(STAGE_COPY_TYPES)
            for row in self.rows:
                copy.write_row(row)
        warehouse.execute(st.CLASSIFY_STAGE_SQL)
        # API pages are small (the endpoint is slow long before they get large): always screened
        return Staged(len(self.rows), True)


def _writer(rows: list[tuple[Any, ...]]) -> _Writer:
    return _Writer(rows)
