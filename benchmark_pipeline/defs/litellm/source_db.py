"""Primary source: LiteLLM's ``"LiteLLM_SpendLogs"`` table, read directly (read-only).

One run reads one consistent snapshot (a ``repeatable read, read only`` transaction): the pages,
the per-hour counts the reconciliation check compares against, and the watermark all agree.
Pages are keyset ranges on ``("startTime", request_id)`` (LiteLLM's own composite index), each
streamed with binary ``COPY ... TO STDOUT``: no row is decoded in Python.

- A window that holds no landed row yet (a first landing, a backfill) is read in *direct pages*:
  LiteLLM's server renders each page's clean rows in the landing table's own layout and the relay
  streams them, screened block by block, straight into ``raw.litellm_spend_logs`` inside a
  savepoint. The page's other rows (rejected, or with a raw key in ``api_key``) are read again in
  the stage's layout and merged as usual; a page the byte screen flags, or one with a request_id
  landed elsewhere, is rolled back to the savepoint and read whole into the stage.
- Any other window is read a page ahead by a reader thread into the stage, then merged.
"""

from __future__ import annotations

import functools
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
from benchmark_pipeline.utc import naive_utc
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
    rows: int  # rows in the stage, to merge
    screen: bool  # the page may hold secrets: run the per-row screen on it
    landed: int = 0  # rows a direct page COPYed into the landing table


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
    first_landing: bool = False  # no row of the window is landed yet: direct pages


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
        self._selects: st.SourceSelects | None = None
        self._summary: ReadSummary | None = None
        self.rows_read = 0

    def describe(self) -> str:
        return f"LiteLLM's database {redact_url(self.url)}"

    # --- connection ---------------------------------------------------------------------------

    def __enter__(self) -> DatabaseSource:
        try:
            conn = psycopg.connect(
                self.url, connect_timeout=CONNECT_TIMEOUT_S, client_encoding="UTF8", **KEEPALIVES
            )
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
        self._selects = st.source_selects(present)
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
        """Keyset pages over ``start <= "startTime" < end`` (naive UTC bounds); after the last one,
        the :meth:`summary` is computed in the same snapshot.

        Stage pages: a reader thread fetches the next page while the caller merges the current one
        (LiteLLM's server serialises rows while the warehouse upserts, on separate cores). Direct
        pages stream from LiteLLM to the warehouse as the caller lands them: both servers work at
        once, with the relay between them.
        """
        self._summary = None
        if window.first_landing:
            for spec in self._page_specs(window.start, window.end):
                yield Page(spec.number, functools.partial(self._land_direct, spec))
            self._summary = self._summarise(window)
            return
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

    def _page_specs(self, start: datetime, end: datetime) -> Iterator[_PageSpec]:
        """Each keyset page of the window, its bounds found with one index probe."""
        window = sql.SQL('"startTime" >= {} and "startTime" < {}').format(
            sql.Literal(naive_utc(start)), sql.Literal(naive_utc(end))
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
            where = sql.SQL(" ").join([window, lower, upper])
            what = f"reading page {number} of {_span(start, end)}"
            yield _PageSpec(number, where, self.page_rows if bound else None, what)
            if bound is None:
                return
            after = (bound[0], bound[1])

    def _query(self, spec: _PageSpec, layout: str) -> sql.Composed:
        """The page's COPY: ``stage`` (every row, the stage's layout), ``direct`` (the rows that can
        land directly, the landing table's layout) or ``staged_rows`` (the others, the stage's layout)."""
        selects = self._selects
        if selects is None:
            raise RuntimeError("DatabaseSource used outside its `with` block")
        page = sql.SQL(
            "(select {inner} from (select {read} from {table} where {where} offset 0) as l offset 0) as s"
        ).format(
            inner=sql.SQL(selects.inner),
            read=sql.SQL(selects.read),
            table=sql.SQL(st.SOURCE_TABLE),
            where=spec.where,
        )
        if layout == "direct":
            rows = sql.SQL(
                "select {direct} from (select {outer}, s._metadata from {page}) as s where {filter}"
            ).format(
                direct=sql.SQL(selects.direct),
                filter=sql.SQL(st.DIRECT_ROWS),
                outer=sql.SQL(selects.outer),
                page=page,
            )
        else:
            rows = sql.SQL("select {outer} from {page}").format(outer=sql.SQL(selects.outer), page=page)
            if layout == "staged_rows":
                rows = sql.SQL("select * from ({rows}) as s where {filter}").format(
                    rows=rows, filter=sql.SQL(st.STAGED_ROWS)
                )
        return sql.SQL("copy ({}) to stdout (format binary)").format(rows)

    def _blocks(self, query: sql.Composed, what: str) -> Iterator[bytes]:
        """A COPY's data in ~1 MB blocks; a source failure becomes a SpendLogSourceError."""
        block = bytearray()
        with self._reading(what), self.conn.cursor().copy(query) as pipe:
            for chunk in pipe:
                block += chunk
                if len(block) >= BLOCK_BYTES:
                    yield bytes(block)
                    block.clear()
        if block:
            yield bytes(block)

    def _fetch(self, spec: _PageSpec, layout: str, stopping: threading.Event | None = None) -> _Fetched:
        """A page's COPY data in memory, screened for secrets on the way (``stopping``: the reader
        thread's signal that the consumer went away)."""
        blocks: list[bytes] = []
        screen = PageScreen()
        for block in self._blocks(self._query(spec, layout), spec.what):
            blocks.append(block)
            screen.scan(block)
            if stopping is not None and stopping.is_set():
                raise _Stopped
        return _Fetched(self, spec.number, blocks, screen.finish())

    def _land_direct(self, spec: _PageSpec, warehouse: psycopg.Connection) -> Staged:
        """Stream the page's clean rows into the landing table (inside a savepoint), then stage the
        rest; a page that cannot land directly is rolled back and staged whole."""
        screen = PageScreen()
        cursor = warehouse.cursor()
        blocks = self._blocks(self._query(spec, "direct"), spec.what)
        try:
            with warehouse.transaction(), cursor.copy(st.LANDING_COPY_SQL) as sink:
                try:
                    for block in blocks:
                        cleared = screen.scan(block)  # nothing once the page is flagged
                        if cleared:
                            sink.write(cleared)
                finally:
                    # read the page to its end whatever happened: cancelling a COPY would abort
                    # the snapshot's transaction
                    for _ in blocks:
                        pass
                if screen.finish():
                    raise _NotDirect
                sink.write(screen.rest)
        except (_NotDirect, psycopg.errors.UniqueViolation):
            # flagged by the byte screen (its rows take the per-row screen), or a request_id that
            # landed with a startTime outside this window: the stage's merge handles both
            return self._fetch(spec, "stage").copy_into(warehouse)
        landed = max(cursor.rowcount, 0)
        self.rows_read += landed
        total = spec.rows if spec.rows is not None else self._count(spec)
        if landed == total:
            return Staged(0, False, landed)
        rest = self._fetch(spec, "staged_rows").copy_into(warehouse)
        return Staged(rest.rows, rest.screen, landed)

    def _count(self, spec: _PageSpec) -> int:
        with self._reading(f"counting the rows of page {spec.number}"):
            row = self.conn.execute(
                sql.SQL("select count(*) from {table} where {where}").format(
                    table=sql.SQL(st.SOURCE_TABLE), where=spec.where
                )
            ).fetchone()
        return row[0] if row else 0

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
                (naive_utc(start), naive_utc(end)),
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
                    "start": naive_utc(start),
                    "end": naive_utc(end),
                    "lo": naive_utc(landable[0]),
                    "hi": naive_utc(landable[1]),
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


@dataclass(frozen=True)
class _PageSpec:
    """One keyset page: its number, its WHERE clause, its row count when known (a full page), and
    what reading it is called in an error message."""

    number: int
    where: sql.Composable
    rows: int | None
    what: str


class _NotDirect(Exception):
    """The byte screen flagged a direct page."""


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
            for spec in self.source._page_specs(self.window.start, self.window.end):
                if not self._put(self.source._fetch(spec, "stage", self.stopping)):
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


def _span(start: datetime, end: datetime) -> str:
    return f"{naive_utc(start):%Y-%m-%d %H:%M}..{naive_utc(end):%Y-%m-%d %H:%M} UTC"
