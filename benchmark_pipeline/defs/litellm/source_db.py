"""Primary source: LiteLLM's ``"LiteLLM_SpendLogs"`` table, read directly (read-only).

One run reads one consistent snapshot (a ``repeatable read, read only`` transaction): the pages,
the per-hour counts the reconciliation check compares against, and the watermark all agree.
Pages are keyset ranges on ``("startTime", request_id)`` (LiteLLM's own composite index), each
streamed with binary ``COPY ... TO STDOUT`` straight into the warehouse's stage table: no row is
decoded in Python.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from benchmark_pipeline.defs.litellm import statements as st
from benchmark_pipeline.defs.litellm.errors import SpendLogSourceError
from benchmark_pipeline.defs.litellm.screen import PageScreen
from session_cli.db import redact_url

SOURCE_NAME = "litellm_db"
CONNECT_TIMEOUT_S = 10
# a dead server must fail the run, not hang it: TCP keepalives notice a vanished peer in ~40 s
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 10, "keepalives_count": 3}
MINUS_INFINITY = "-infinity"
BLOCK_BYTES = 1 << 20


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Staged:
    rows: int
    screen: bool  # the page may hold secrets: run the per-row screen on it


@dataclass
class Page:
    """One page of a window; ``copy_into`` writes it into the warehouse stage table."""

    number: int
    copy_into: Callable[[psycopg.Connection], Staged]


@dataclass(frozen=True)
class Window:
    """What one landing reads: ``start <= startTime < end``, and what the watermark needs."""

    start: datetime
    end: datetime
    previous_watermark: datetime | None = None
    landable: tuple[datetime, datetime] | None = None  # the partition range rows can land in
    max_age: timedelta = timedelta(hours=24)  # a row is written at most this long after its startTime


@dataclass(frozen=True)
class ReadSummary:
    """Known once every page is read: rows per startTime hour (naive UTC) and the new watermark."""

    hourly_counts: dict[datetime, int]
    watermark: datetime | None


class DatabaseSource:
    """Reads spend logs from LiteLLM's database. Use as a context manager (one snapshot)."""

    name = SOURCE_NAME

    def __init__(self, url: str, *, page_rows: int = 25_000) -> None:
        self.url = url
        self.page_rows = page_rows
        self._conn: psycopg.Connection | None = None
        self._outer = self._inner = ""
        self._summary: ReadSummary | None = None
        self.rows_read = 0

    def describe(self) -> str:
        return f"LiteLLM's database {redact_url(self.url)}"

    # --- connection ---------------------------------------------------------------------------

    def __enter__(self) -> DatabaseSource:
        try:
            conn = psycopg.connect(self.url, connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES)
        except psycopg.OperationalError as exc:
            raise SpendLogSourceError(
                f"cannot connect to {self.describe()}: {_first_line(exc)}",
                hint="check LITELLM_DATABASE_URL and that LiteLLM's Postgres is up; nothing was landed",
            ) from exc
        self._conn = conn
        with self._reading("opening a read-only snapshot"):
            conn.execute("set transaction isolation level repeatable read, read only")
            present = {
                row[0]
                for row in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = current_schema() and table_name = 'LiteLLM_SpendLogs'"
                )
            }
        if not present:
            self.close()
            raise SpendLogSourceError(
                f'{self.describe()} has no "LiteLLM_SpendLogs" table',
                hint="LITELLM_DATABASE_URL must point at the database LiteLLM itself writes to",
            )
        self._outer, self._inner = st.source_copy_select(present)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    @property
    def conn(self) -> psycopg.Connection:
        if self._conn is None:
            raise RuntimeError("DatabaseSource used outside its `with` block")
        return self._conn

    def _reading(self, what: str) -> _Reading:
        return _Reading(self, what)

    # --- reading a window ---------------------------------------------------------------------

    def pages(self, window: Window) -> Iterator[Page]:
        """Keyset pages over ``start <= "startTime" < end`` (naive UTC bounds).

        A reader thread fetches the next page while the caller merges the current one: LiteLLM's
        server serialises rows while the warehouse upserts, so the two overlap on separate cores.
        After the last page it computes the :meth:`summary` in the same snapshot.
        """
        self._summary = None
        reader = _PageReader(self, window)
        reader.start()
        try:
            while True:
                fetched = reader.take()
                if fetched is None:
                    return
                yield Page(fetched.number, fetched.copy_into)
        finally:
            reader.stop()

    def _page_queries(self, start: datetime, end: datetime) -> Iterator[tuple[int, sql.Composed]]:
        """(page number, COPY statement) for each keyset page of the window."""
        window = sql.SQL('"startTime" >= {} and "startTime" < {}').format(
            sql.Literal(_naive(start)), sql.Literal(_naive(end))
        )
        after: tuple[datetime, str] | None = None
        number = 0
        while True:
            number += 1
            lower = (
                sql.SQL('and ("startTime", request_id) > ({}, {})').format(
                    sql.Literal(after[0]), sql.Literal(after[1])
                )
                if after
                else sql.SQL("")
            )
            with self._reading(f"finding page {number} of {_span(start, end)}"):
                bound = self.conn.execute(
                    sql.SQL(
                        'select "startTime", request_id from {table} where {window} {lower} '
                        'order by "startTime", request_id offset {skip} limit 1'
                    ).format(
                        table=sql.SQL(st.SOURCE_TABLE),
                        window=window,
                        lower=lower,
                        skip=sql.Literal(self.page_rows - 1),
                    )
                ).fetchone()
            upper = (
                sql.SQL('and ("startTime", request_id) <= ({}, {})').format(
                    sql.Literal(bound[0]), sql.Literal(bound[1])
                )
                if bound
                else sql.SQL("")
            )
            yield (
                number,
                sql.SQL(
                    "copy (select {outer} from (select {inner} from {table} where {window} {lower} {upper}) as s)"
                    " to stdout (format binary)"
                ).format(
                    outer=sql.SQL(self._outer),
                    inner=sql.SQL(self._inner),
                    table=sql.SQL(st.SOURCE_TABLE),
                    window=window,
                    lower=lower,
                    upper=upper,
                ),
            )
            if bound is None:
                return
            after = (bound[0], bound[1])

    def _fetch(self, number: int, query: sql.Composed, what: str, stopping: threading.Event) -> _Fetched:
        """One page's binary COPY data in ~1 MB blocks, screened for secrets on the way."""
        blocks: list[bytes] = []
        block = bytearray()
        screen = PageScreen()
        with self._reading(what), self.conn.cursor().copy(query) as pipe:
            for chunk in pipe:
                block += chunk
                if len(block) >= BLOCK_BYTES:
                    blocks.append(bytes(block))
                    screen.scan(blocks[-1])
                    block.clear()
                    if stopping.is_set():
                        raise _Stopped
        if block:
            blocks.append(bytes(block))
            screen.scan(blocks[-1])
        return _Fetched(self, number, blocks, screen.finish())

    def summary(self) -> ReadSummary:
        if self._summary is None:
            raise RuntimeError("summary() before every page was read")
        return self._summary

    def _summarise(self, window: Window) -> ReadSummary:
        landable = window.landable or (window.start, window.end)
        return ReadSummary(
            self.hourly_counts(window.start, window.end),
            self.next_watermark(
                window.start, window.end, window.previous_watermark, landable, window.max_age
            ),
        )

    def hourly_counts(self, start: datetime, end: datetime) -> dict[datetime, int]:
        """Rows per startTime hour in the snapshot: what the reconciliation check expects."""
        with self._reading(f"counting rows of {_span(start, end)}"):
            rows = self.conn.execute(
                f"""select date_trunc('hour', "startTime") as hour, count(*)
                from {st.SOURCE_TABLE} where "startTime" >= %s and "startTime" < %s group by 1""",
                (_naive(start), _naive(end)),
            ).fetchall()
        return {hour: count for hour, count in rows}

    def next_watermark(
        self,
        start: datetime,
        end: datetime,
        previous: datetime | None,
        landable: tuple[datetime, datetime],
        max_age: timedelta = timedelta(hours=24),
    ) -> datetime | None:
        """The largest change time such that every row changed at or before it is now landed.

        Rows changed after ``previous`` whose startTime lies outside the landed window (but inside
        the landable partition range) are not landed by this run: the watermark stops just before
        the first of them. (A row that commits late, with a change time below the watermark, is
        found by the live sensor's per-hour counts over the lookback, not by moving this back.)
        """
        since: Any = previous if previous is not None else MINUS_INFINITY
        # rows that started more than max_age before the watermark are not written any more (see
        # settings.py): bounding on startTime keeps this an index range scan, not a table scan
        oldest: Any = previous - max_age if previous is not None else MINUS_INFINITY
        with self._reading("computing the watermark"):
            observed, first_outside = self.conn.execute(
                f"""select max(changed), min(changed) filter (
                        where changed > %(since)s
                          and ("startTime" < %(start)s or "startTime" >= %(end)s)
                          and "startTime" >= %(lo)s and "startTime" < %(hi)s)
                from (select greatest(created_at, updated_at) as changed, "startTime"
                      from {st.SOURCE_TABLE} where "startTime" >= %(oldest)s) as x""",
                {
                    "oldest": oldest,
                    "since": since,
                    "start": _naive(start),
                    "end": _naive(end),
                    "lo": _naive(landable[0]),
                    "hi": _naive(landable[1]),
                },
            ).fetchone()
        if observed is None:
            return None
        if first_outside is None:
            return observed
        return first_outside - timedelta(milliseconds=1)  # timestamp(3): the instant before it

    # --- live path (short autocommit queries, outside any run) ---------------------------------

    def changed_hours(
        self, watermark: datetime | None, lookback: timedelta, max_age: timedelta
    ) -> list[ChangedHour]:
        """startTime hours holding rows changed after ``watermark - lookback``. LiteLLM has no index
        on created_at: the scan is bounded by startTime (indexed) to rows at most ``max_age`` older
        than that, instead of reading the whole table every tick."""
        since: Any = watermark - lookback if watermark is not None else MINUS_INFINITY
        after: Any = watermark if watermark is not None else MINUS_INFINITY
        oldest: Any = watermark - lookback - max_age if watermark is not None else MINUS_INFINITY
        with self._reading("looking for changed rows"):
            rows = self.conn.execute(
                f"""select date_trunc('hour', "startTime") as hour,
                        count(*) filter (where changed > %(after)s) as new_rows,
                        max(changed) as max_changed
                from (select greatest(created_at, updated_at) as changed, "startTime"
                      from {st.SOURCE_TABLE} where "startTime" >= %(oldest)s) as x
                where changed > %(since)s
                group by 1 order by 1""",
                {"since": since, "after": after, "oldest": oldest},
            ).fetchall()
        return [ChangedHour(hour, new_rows, max_changed) for hour, new_rows, max_changed in rows]

    def max_changed(self, max_age: timedelta) -> datetime | None:
        """The latest change time among rows started within ``max_age`` of the newest one."""
        with self._reading("reading the latest change time"):
            row = self.conn.execute(
                f"""select max(greatest(created_at, updated_at)) from {st.SOURCE_TABLE}
                where "startTime" >= (select max("startTime") from {st.SOURCE_TABLE}) - %s""",
                (max_age,),
            ).fetchone()
        return row[0] if row else None


@dataclass(frozen=True)
class ChangedHour:
    hour: datetime  # naive UTC
    new_rows: int  # rows changed after the watermark
    max_changed: datetime


@dataclass
class _Fetched:
    source: DatabaseSource
    number: int
    blocks: list[bytes]
    screen: bool

    def copy_into(self, warehouse: psycopg.Connection) -> Staged:
        cursor = warehouse.cursor()
        with cursor.copy(st.stage_copy_sql(st.DB_STAGE_COLUMNS)) as sink:
            for block in self.blocks:
                sink.write(block)
        self.blocks = []  # free the page's memory as soon as it is staged
        rows = max(cursor.rowcount, 0)
        self.source.rows_read += rows
        return Staged(rows, self.screen)


class _Stopped(Exception):
    """The consumer went away (it failed): the reader stops at the next block."""


class _PageReader(threading.Thread):
    """Reads pages one ahead of the consumer; its errors are raised in the consumer's thread."""

    def __init__(self, source: DatabaseSource, window: Window) -> None:
        super().__init__(name="spend-log-page-reader", daemon=True)
        self.source = source
        self.window = window
        self.queue: queue.Queue[_Fetched | BaseException | None] = queue.Queue(maxsize=1)
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            start, end = self.window.start, self.window.end
            for number, query in self.source._page_queries(start, end):
                what = f"reading page {number} of {_span(start, end)}"
                fetched = self.source._fetch(number, query, what, self.stopping)
                if not self._put(fetched):
                    return
            # counts and watermark while the consumer merges the last page (same snapshot)
            self.source._summary = self.source._summarise(self.window)
            self._put(None)
        except _Stopped:
            return
        except BaseException as exc:  # handed over and raised in the consumer
            self._put(exc)

    def _put(self, item: _Fetched | BaseException | None) -> bool:
        while not self.stopping.is_set():
            try:
                self.queue.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def take(self) -> _Fetched | None:
        while True:
            try:
                item = self.queue.get(timeout=1.0)
                break
            except queue.Empty:
                if not self.is_alive():  # died without a word: never wait forever
                    raise RuntimeError("the spend-log page reader stopped unexpectedly") from None
        if isinstance(item, BaseException):
            raise item
        return item

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


class _Reading:
    """Turns any database error while reading the source into one readable SpendLogSourceError."""

    def __init__(self, source: DatabaseSource, what: str) -> None:
        self.source = source
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> None:
        if exc is None or not isinstance(exc, psycopg.Error):
            return
        raise SpendLogSourceError(
            f"{self.source.describe()} failed while {self.what} "
            f"({self.source.rows_read} rows staged so far): {_first_line(exc)}",
            hint="nothing of this run was landed and the watermark did not move; the next run re-reads the window",
        ) from exc


def _naive(ts: datetime) -> datetime:
    """LiteLLM stores UTC in ``timestamp without time zone``: compare with naive UTC values."""
    if ts.tzinfo is not None:
        from datetime import UTC

        return ts.astimezone(UTC).replace(tzinfo=None)
    return ts


def _span(start: datetime, end: datetime) -> str:
    return f"{_naive(start):%Y-%m-%d %H:%M}..{_naive(end):%Y-%m-%d %H:%M} UTC"
