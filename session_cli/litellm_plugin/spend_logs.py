"""The spend-log writer of the database-less mode: a LiteLLM ``CustomLogger``.

Config: ``litellm_settings.callbacks: ["session_cli.litellm_plugin.spend_logs.spend_log_writer"]``.
Rows go to ``"LiteLLM_SpendLogs"`` in ``LITELLM_DATABASE_URL`` (created from LiteLLM's own
migrations when missing), so the ingestion reads them exactly as it reads a database-backed
LiteLLM's: one row per proxy request, a success when the request succeeded (even after retried
attempts), one failure row when it failed (see :class:`SpendLogWriter`).

Each write runs in a worker thread (the event loop never waits on the database) and is committed
before the callback returns. LiteLLM hands a finished request to its loggers from a task it does
not wait for (``asyncio.create_task`` at the end of a stream), so a request that ends just as the
proxy stops could lose its row when the event loop is torn down: the writer therefore tracks every
request from its pre-call hook until its row is written, and the proxy's shutdown waits for them
(up to ``DRAIN_TIMEOUT_S``) before it goes on (:func:`_drain_before_shutdown`). Callbacks still
queued after that are run by LiteLLM's logging worker from an ``atexit`` hook, where no thread can
start any more: those rows are inserted in place. So every row is durable when a graceful shutdown
returns.
Rows are inserted one per request (benchmark traffic is a few requests per second; an insert
takes about a millisecond) with ``on conflict do nothing`` (request_id is the table's only unique
key; naming it as the conflict target would need SELECT on it, which the proxy's role does not have).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from session_cli.litellm_plugin.connection import ReconnectingConnection
from session_cli.litellm_plugin.rows import bare_failure_row, failure_row, success_row

try:  # LiteLLM is only present with the `proxy` extra; the writer is only used inside the proxy
    from litellm.integrations.custom_logger import CustomLogger
    from litellm.proxy.auth.route_checks import RouteChecks
except ImportError:  # pragma: no cover
    CustomLogger = object  # type: ignore[assignment,misc]
    RouteChecks = None  # type: ignore[assignment,misc]

log = logging.getLogger("harness_bench.spend_logs")

SPEND_LOGS_ENV = "LITELLM_DATABASE_URL"
DRAIN_TIMEOUT_S = 15.0  # below `benchmark proxy stop`'s 20 s before SIGKILL
_PENDING_TTL_S = 3600.0  # a request without a row after an hour is not waited for
# LiteLLM's Gemini routes run a chat completion inside: the row comes from that nested call, under a
# call id of its own, so the outer call id would never be settled (and shutdown would wait in vain)
_NESTED_CALL_TYPES = frozenset({"agenerate_content", "agenerate_content_stream"})
_RETRY_DELAYS_S = (0.2, 0.5, 1.0)


class SpendLogStore:
    """Inserts rows into ``"LiteLLM_SpendLogs"``; thread-safe, reconnects, creates the table if missing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = ReconnectingConnection(lambda: url)
        self._columns: dict[str, str] | None = None  # column name -> data type

    def insert(self, rows: Sequence[dict[str, Any]]) -> int:
        """Insert rows (skipping request_ids already present); returns how many were new."""
        if not rows:
            return 0
        with self._db.lock:
            for attempt, delay in enumerate((*_RETRY_DELAYS_S, None)):
                try:
                    return self._insert(rows)
                except psycopg.OperationalError as exc:
                    self._db.reset()
                    if delay is None:
                        raise
                    log.warning("spend-log insert failed (attempt %d): %s; retrying", attempt + 1, exc)
                    time.sleep(delay)
        return 0  # pragma: no cover

    def _insert(self, rows: Sequence[dict[str, Any]]) -> int:
        conn = self._db.get()
        columns = self._table_columns(conn)
        names = [name for name in columns if any(name in row for row in rows)]
        statement = sql.SQL('insert into "LiteLLM_SpendLogs" ({}) values ({}) on conflict do nothing').format(
            sql.SQL(", ").join(sql.Identifier(n) for n in names),
            sql.SQL(", ").join(sql.Placeholder() * len(names)),
        )
        values = [[_adapt(row.get(n), columns[n]) for n in names] for row in rows]
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(statement, values)
            return cur.rowcount if cur.rowcount >= 0 else len(rows)

    def _table_columns(self, conn: psycopg.Connection) -> dict[str, str]:
        if self._columns is None:
            from session_cli.litellm_schema import apply_litellm_migrations

            if apply_litellm_migrations(self.url):
                log.info('created LiteLLM\'s tables (incl. "LiteLLM_SpendLogs") from litellm-proxy-extras')
            found = conn.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'public' and table_name = 'LiteLLM_SpendLogs' order by ordinal_position"
            ).fetchall()
            self._columns = {name: kind for name, kind in found}
        return self._columns

    def close(self) -> None:
        self._db.close()


def _adapt(value: object, data_type: str) -> object:
    if data_type == "jsonb":
        return Jsonb(value if value is not None else {})
    return value


class SpendLogWriter(CustomLogger):  # type: ignore[misc,valid-type]
    """One ``"LiteLLM_SpendLogs"`` row per proxy request, as LiteLLM's own DB logger writes them.

    Successes: on LiteLLM's success event. Failures: once per failed request, when the proxy gives
    up (``async_post_call_failure_hook``: after the router's retries, for refused requests, and for
    streams that break midway), from the request's ``standard_logging_object``, timed from the
    request's start to that moment. LiteLLM's failure *event* is not a row: it fires at the first
    failed attempt, before any retry (a request that then succeeds would be counted twice), and for
    each attempt of nested calls (the Gemini route calls chat completions inside). Its payload is
    only kept as a fallback for a failure hook whose request carries none.
    """

    def __init__(self, store: SpendLogStore) -> None:
        super().__init__()
        self.store = store
        self._attempts: dict[str, tuple[float, dict[str, Any]]] = {}  # call id -> (when, failed-attempt slo)
        self._pending: dict[str, float] = {}  # call id -> when it started, until its row is written
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> SpendLogWriter:
        url = os.environ.get(SPEND_LOGS_ENV)
        if not url:
            raise RuntimeError(
                f"{SPEND_LOGS_ENV} is not set: the database-less spend-log writer needs the database that "
                'holds (or will hold) "LiteLLM_SpendLogs", e.g. postgresql://postgres@127.0.0.1:5432/litellm'
            )
        return cls(SpendLogStore(url))

    async def async_pre_call_hook(self, user_api_key_dict, cache, data, call_type):
        """A request starts: shutdown waits for its row (see :meth:`drain`). Leaves ``data`` as it is."""
        call_id = data.get("litellm_call_id") if isinstance(data, dict) else None
        if isinstance(call_id, str) and getattr(call_type, "value", call_type) not in _NESTED_CALL_TYPES:
            now = time.monotonic()
            with self._lock:
                self._pending[call_id] = now
                if len(self._pending) > 1000:
                    self._pending = {k: v for k, v in self._pending.items() if now - v < _PENDING_TTL_S}
        return None

    def _settle(self, call_id: object) -> None:
        if isinstance(call_id, str):
            with self._lock:
                self._pending.pop(call_id, None)

    def pending(self) -> int:
        """Requests started whose row is not written yet."""
        with self._lock:
            return len(self._pending)

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> int:
        """Wait until every started request has its row (or ``timeout_s``); returns how many are left."""
        deadline = time.monotonic() + timeout_s
        while (left := self.pending()) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if left:
            log.warning(
                "proxy stopping with %d request(s) whose spend-log row was not written after %.0f s",
                left,
                timeout_s,
            )
        return left

    async def _write(self, row: dict[str, Any], call_id: object = None) -> None:
        try:
            try:
                await asyncio.to_thread(self.store.insert, [row])
            except RuntimeError as exc:
                if "interpreter shutdown" not in str(exc):
                    raise
                # LiteLLM's logging worker runs callbacks still queued at exit from an atexit hook,
                # when no new thread may start: insert in place (nothing else is left to block)
                self.store.insert([row])
        except Exception:
            log.exception("could not write the spend-log row of request %s", row.get("request_id"))
        finally:
            self._settle(call_id)

    def _take_attempt(self, call_id: object) -> dict[str, Any] | None:
        with self._lock:
            found = self._attempts.pop(call_id, None) if isinstance(call_id, str) else None
        return found[1] if found else None

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
        call_id = kwargs.get("litellm_call_id")
        self._take_attempt(call_id)  # a retry that worked: no failure row
        try:
            row = success_row(kwargs, response_obj, start_time, end_time)
        except Exception:
            log.exception("could not build the spend-log row of call %s", call_id)
            self._settle(call_id)
            return
        await self._write(row, call_id)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time):
        slo = kwargs.get("standard_logging_object")
        call_id = kwargs.get("litellm_call_id")
        if not (isinstance(slo, dict) and isinstance(call_id, str)):
            return
        now = time.monotonic()
        with self._lock:
            self._attempts[call_id] = (now, slo)
            if len(self._attempts) > 1000:  # nested calls are never claimed: forget after ten minutes
                self._attempts = {k: v for k, v in self._attempts.items() if now - v[0] < 600}

    async def async_post_call_failure_hook(
        self,
        request_data: dict,
        original_exception: Exception,
        user_api_key_dict: Any,
        traceback_str: Any = None,
    ) -> None:
        """The proxy gave up on a request (after retries, or it refused it): its one failure row."""
        route = getattr(user_api_key_dict, "request_route", None)
        if route and not (
            RouteChecks.is_llm_api_route(route=route) or RouteChecks.is_info_route(route=route)
        ):
            return None  # like LiteLLM's DB logger: management routes leave no spend-log row
        call_id = request_data.get("litellm_call_id")
        attempt = self._take_attempt(call_id)
        ended = datetime.now(UTC)
        started = request_data.get("start_time")
        metadata = request_data.get("metadata") or {}
        retries = metadata.get("attempted_retries") if isinstance(metadata, dict) else None
        slo = request_data.get("standard_logging_object") or attempt
        try:
            if isinstance(slo, dict) and slo:
                row = failure_row(slo, started=started, ended=ended, attempted_retries=retries)
            else:
                row = bare_failure_row(
                    request_id=call_id or str(uuid.uuid4()),
                    route=route,
                    model=request_data.get("model"),
                    key_hash=getattr(user_api_key_dict, "api_key", None),
                    key_alias=getattr(user_api_key_dict, "key_alias", None),
                    error=original_exception,
                    started=started or ended,
                    ended=ended,
                )
        except Exception:
            log.exception("could not build the failure row of call %s", call_id)
            self._settle(call_id)
            return None
        await self._write(row, call_id)
        return None


_writer: SpendLogWriter | None = None


def _drain_before_shutdown(writer: SpendLogWriter) -> None:
    """Make the proxy's shutdown wait for the rows of requests that already ended (see the module doc).

    LiteLLM's lifespan calls the module global ``proxy_shutdown_event`` after uvicorn has waited
    for open connections: wrapping it is the one hook that runs then, on the live event loop.
    ``tests/e2e/test_dbless_shutdown.py`` fails if a LiteLLM upgrade moves it.
    """
    try:
        from litellm.proxy import proxy_server
    except ImportError:  # pragma: no cover - only without the proxy extra
        return
    original = getattr(proxy_server, "proxy_shutdown_event", None)
    if original is None or getattr(original, "_drains_spend_logs", False):
        if original is None:
            log.warning(
                "LiteLLM has no proxy_shutdown_event: rows of requests ending at shutdown may be lost"
            )
        return

    async def proxy_shutdown_event(*args: Any, **kwargs: Any) -> None:
        await writer.drain()
        await original(*args, **kwargs)

    proxy_shutdown_event._drains_spend_logs = True  # type: ignore[attr-defined]
    proxy_server.proxy_shutdown_event = proxy_shutdown_event


def __getattr__(name: str) -> Any:
    """``spend_log_writer`` is built on first access (LiteLLM's config load), not at import."""
    global _writer
    if name == "spend_log_writer":
        if _writer is None:
            _writer = SpendLogWriter.from_environment()
            _drain_before_shutdown(_writer)
        return _writer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
