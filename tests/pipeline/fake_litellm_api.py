"""A fake of LiteLLM's ``GET /spend/logs/v2`` serving the rows of a real ``"LiteLLM_SpendLogs"`` table.

The contract, as LiteLLM 1.106.2 implements it (``spend_management_endpoints.ui_view_spend_logs``):

- ``Authorization: Bearer <master key>`` (401 otherwise);
- ``start_date`` and ``end_date`` required, ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD``, UTC, and
  both inclusive: ``"startTime" >= start_date and "startTime" <= end_date``;
- ``page`` from 1, ``page_size`` 1..1000, ``sort_by=startTime`` (only), ``sort_order`` asc/desc,
  LIMIT/OFFSET paging with no tie-breaker;
- ``total`` counts at most 10,000 rows (``total_is_capped`` beyond);
- ``data``: the list columns (no content columns, no created_at), ``request_duration_ms``
  filled from endTime - startTime when NULL, ``metadata`` as a JSON value (the endpoint hydrates
  it), ``request_tags`` as the column's JSON text (query_raw serves jsonb as text; only metadata is
  hydrated), times as ISO-8601 with an offset.

``extra_rows`` lets a test add rows the table could not hold (an unparsable ``startTime``): each is
served by every request whose window contains its ``at`` time.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from psycopg.rows import dict_row

COUNT_CAP = 10_000
LIST_COLUMNS = """request_id, call_type, api_key, spend, total_tokens, prompt_tokens, completion_tokens,
    "startTime", "endTime", "completionStartTime", model, model_id, model_group, custom_llm_provider,
    api_base, "user", metadata, cache_hit, cache_key, request_tags::text as request_tags, team_id,
    organization_id, end_user, requester_ip_address, session_id, status, mcp_namespaced_tool_name,
    agent_id, litellm_call_id,
    coalesce(request_duration_ms, (extract(epoch from ("endTime" - "startTime")) * 1000)::integer)
        as request_duration_ms"""


class FakeSpendLogsApi:
    def __init__(self, database_url: str, *, master_key: str) -> None:
        self.database_url = database_url
        self.master_key = master_key
        self.extra_rows: list[tuple[datetime, dict[str, Any]]] = []
        self.requests: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def log_message(self, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the endpoint -----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        url = urlsplit(h.path)
        if url.path != "/spend/logs/v2":
            return _send(h, 404, {"detail": "Not Found"})
        if h.headers.get("Authorization") != f"Bearer {self.master_key}":
            return _send(h, 401, {"error": {"message": "Authentication Error, invalid proxy server token"}})
        q = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append(q)
        try:
            start, end = _date(q["start_date"]), _date(q["end_date"])
            page = int(q.get("page", "1"))
            size = int(q.get("page_size", "50"))
        except (KeyError, ValueError) as exc:
            return _send(h, 400, {"detail": f"bad request: {exc}"})
        if page < 1 or not 1 <= size <= 1000:
            return _send(h, 422, {"detail": "page >= 1 and 1 <= page_size <= 1000"})
        if q.get("sort_by", "startTime") != "startTime":
            return _send(h, 400, {"detail": "this fake sorts by startTime only"})
        order = "asc" if q.get("sort_order", "desc").lower() == "asc" else "desc"
        with psycopg.connect(self.database_url, row_factory=dict_row) as conn:
            window = {"start": start.replace(tzinfo=None), "end": end.replace(tzinfo=None)}
            (total,) = (
                conn.execute(
                    'select count(*) from (select 1 from "LiteLLM_SpendLogs" '
                    'where "startTime" >= %(start)s and "startTime" <= %(end)s limit %(cap)s) as x',
                    {**window, "cap": COUNT_CAP + 1},
                )
                .fetchone()
                .values()
            )
            rows = conn.execute(
                f'select {LIST_COLUMNS} from "LiteLLM_SpendLogs" '
                f'where "startTime" >= %(start)s and "startTime" <= %(end)s order by "startTime" {order} '
                "limit %(limit)s offset %(offset)s",
                {**window, "limit": size, "offset": (page - 1) * size},
            ).fetchall()
        data = [_serialise(r) for r in rows]
        extra = [row for at, row in sorted(self.extra_rows, key=lambda x: x[0]) if start <= at <= end]
        if extra and page == 1:
            data += extra
            total += len(extra)
        capped = total > COUNT_CAP
        total = min(total, COUNT_CAP)
        _send(
            h,
            200,
            {
                "data": data,
                "total": total,
                "page": page,
                "page_size": size,
                "total_pages": (total + size - 1) // size,
                "total_is_capped": capped,
            },
        )


def _date(value: str) -> datetime:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"Invalid date format: {value}")


def _serialise(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            value = value.replace(tzinfo=UTC).isoformat()
        out[key] = value
    return out


def _send(h: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    h.send_response(status)
    h.send_header("Content-Type", "application/json")
    h.send_header("Content-Length", str(len(payload)))
    h.end_headers()
    h.wfile.write(payload)
