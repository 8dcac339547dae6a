"""A fake of LiteLLM's key admin API, following its documented contract (tests only).

LiteLLM's database-backed key endpoints cannot run on these machines (Prisma engines download
from an unreachable host), so session key issuance is tested against this fake:

- ``POST /key/generate`` (Bearer master key): body ``key_alias``, ``duration``, ``models``,
  ``metadata``, ``tags``; answers ``key`` (``sk-...``), ``token`` (sha256 of the key), ``key_alias``,
  ``expires`` (ISO-8601), ``models``, ``metadata``.
- ``POST /key/delete``: ``{"keys": [...]}`` or ``{"key_aliases": [...]}``; 404 when none matched.
- ``GET /key/info?key=...``; ``GET /health/liveliness``.
Errors use LiteLLM's shape: ``{"error": {"message", "type", "param", "code"}}``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@dataclass
class FakeLiteLLMAdmin:
    master_key: str = "sk-master-test"
    keys: dict[str, dict[str, Any]] = field(default_factory=dict)  # token (hash) -> record
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_next: list[tuple[int, str]] = field(default_factory=list)  # (status, message) queue
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def active_aliases(self) -> set[str]:
        return {r["key_alias"] for r in self.keys.values()}

    def start(self) -> FakeLiteLLMAdmin:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, message: str, kind: str = "bad_request_error") -> None:
                self._send(
                    status,
                    {"error": {"message": message, "type": kind, "param": "None", "code": str(status)}},
                )

            def _authorized(self) -> bool:
                if self.headers.get("authorization") != f"Bearer {fake.master_key}":
                    self._error(401, "Authentication Error, invalid master key", "auth_error")
                    return False
                return True

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                if url.path == "/health/liveliness":
                    self._send(200, "I'm alive!")
                    return
                if url.path == "/key/info" and self._authorized():
                    key = parse_qs(url.query).get("key", [""])[0]
                    token = (
                        key
                        if re.fullmatch(r"[0-9a-f]{64}", key)
                        else hashlib.sha256(key.encode()).hexdigest()
                    )
                    record = fake.keys.get(token)
                    if record is None:
                        self._error(404, "Key not found")
                    else:
                        self._send(200, {"key": token, "info": record})
                    return
                if url.path not in ("/key/info",):
                    self._error(404, "Not Found")

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                fake.requests.append(("POST", self.path, body))
                if not self._authorized():
                    return
                if fake.fail_next:
                    status, message = fake.fail_next.pop(0)
                    self._error(status, message)
                    return
                if self.path == "/key/generate":
                    key = "sk-" + secrets.token_urlsafe(24)
                    token = hashlib.sha256(key.encode()).hexdigest()
                    expires = None
                    if body.get("duration"):
                        number, unit = int(body["duration"][:-1]), body["duration"][-1]
                        expires = (datetime.now(UTC) + timedelta(**{_UNITS[unit]: number})).isoformat()
                    record = {
                        "key_alias": body.get("key_alias"),
                        "models": body.get("models", []),
                        "metadata": body.get("metadata", {}),
                        "tags": body.get("tags", []),
                        "expires": expires,
                    }
                    fake.keys[token] = record
                    self._send(200, {"key": key, "token": token, **record})
                elif self.path == "/key/delete":
                    aliases = set(body.get("key_aliases") or [])
                    hashes = {hashlib.sha256(k.encode()).hexdigest() for k in body.get("keys") or []}
                    doomed = [t for t, r in fake.keys.items() if t in hashes or r["key_alias"] in aliases]
                    if not doomed:
                        self._error(
                            404, f"Failed to delete all keys. Keys not found: {sorted(aliases | hashes)}"
                        )
                        return
                    for token in doomed:
                        del fake.keys[token]
                    self._send(200, {"deleted_keys": body.get("key_aliases") or body.get("keys")})
                else:
                    self._error(404, "Not Found")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
