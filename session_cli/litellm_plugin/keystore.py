"""Session keys of the database-less mode, read from ``registry.sessions`` by key hash.

The CLI stores only ``sha256(key)`` (``key_hash``) with ``key_backend = 'local'``. Lookups run in a
worker thread (the proxy's event loop never waits on the database) and are cached for
``HB_KEY_CACHE_TTL_S`` seconds (default 2): a revoked key or a finalized session is refused at
most that long after the registry row changes. Expiry is checked against the clock on every
request, so an expired key is refused at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from session_cli.keys import hash_key
from session_cli.litellm_plugin.connection import ReconnectingConnection

__all__ = ["KeyStore", "KeyStoreUnavailable", "SessionKey", "hash_key"]

DEFAULT_CACHE_TTL_S = 2.0

_LOOKUP = """
select session_id::text as session_id, experiment, variant, task_card, harness, provider, operator,
       model_alias, background_model_alias, status, key_alias, key_hash,
       key_expires_at, key_revoked_at, key_metadata
from registry.sessions
where key_hash = %s and key_backend = 'local'
"""


class KeyStoreUnavailable(Exception):
    """The registry database cannot be reached or is not migrated."""


def cache_ttl_s() -> float:
    raw = os.environ.get("HB_KEY_CACHE_TTL_S")
    return float(raw) if raw else DEFAULT_CACHE_TTL_S


@dataclass(frozen=True)
class SessionKey:
    """What the proxy needs to know about one session key (never the key itself)."""

    key_hash: str
    key_alias: str
    session_id: str
    experiment: str
    variant: str
    task_card: str
    harness: str
    provider: str
    operator: str | None
    status: str
    model_alias: str
    background_model_alias: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    key_metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed_models(self) -> tuple[str, ...]:
        models = [self.model_alias]
        if self.background_model_alias and self.background_model_alias != self.model_alias:
            models.append(self.background_model_alias)
        return tuple(models)

    def refusal(self, now: datetime | None = None) -> str | None:
        """Why this key may not be used right now, or None when it may."""
        now = now or datetime.now(UTC)
        if self.revoked_at is not None:
            return f"session key {self.key_alias} was revoked at {self.revoked_at.isoformat()}"
        if self.expires_at is not None and now >= self.expires_at:
            return f"session key {self.key_alias} expired at {self.expires_at.isoformat()}"
        if self.status != "active":
            return f"session {self.session_id} is {self.status}; its key is no longer valid"
        return None

    def labels(self) -> dict[str, str]:
        return {
            "session_id": self.session_id,
            "experiment": self.experiment,
            "variant": self.variant,
            "task_card": self.task_card,
            "harness": self.harness,
        }

    def metadata(self) -> dict[str, Any]:
        """Key metadata as LiteLLM sees it: the registry's ``key_metadata`` plus the session labels,
        also under ``spend_logs_metadata``, which LiteLLM copies into each success row's
        ``metadata.spend_logs_metadata`` (as it does for a database-backed key's metadata)."""
        labels = self.labels()
        own = self.key_metadata.get("spend_logs_metadata")
        spend_logs_metadata = {**(own if isinstance(own, dict) else {}), **labels}
        return {**self.key_metadata, **labels, "spend_logs_metadata": spend_logs_metadata}


class KeyStore:
    """Cached ``registry.sessions`` lookups by key hash; safe to share across threads."""

    def __init__(
        self,
        url: Callable[[], str],
        ttl_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self.ttl_s = cache_ttl_s() if ttl_s is None else ttl_s
        self._clock = clock
        self._cache: dict[str, tuple[float, SessionKey | None]] = {}
        self._db = ReconnectingConnection(url, row_factory=dict_row)

    async def lookup(self, key_hash: str) -> SessionKey | None:
        """The session key with this hash (None if unknown), at most ``ttl_s`` seconds old."""
        cached = self._cache.get(key_hash)
        if cached is not None and self._clock() - cached[0] < self.ttl_s:
            return cached[1]
        found = await asyncio.to_thread(self._fetch, key_hash)
        self._cache[key_hash] = (self._clock(), found)
        return found

    def peek(self, key_hash: str) -> SessionKey | None:
        """The last known row for this hash, however old (used to label rejected requests)."""
        cached = self._cache.get(key_hash)
        return cached[1] if cached else None

    def _fetch(self, key_hash: str) -> SessionKey | None:
        with self._db.lock:
            for attempt in (1, 2):
                try:
                    conn = self._db.get()
                    row = conn.execute(_LOOKUP, (key_hash,)).fetchone()
                    return _session_key(row) if row else None
                except psycopg.OperationalError as exc:
                    self._db.reset()
                    if attempt == 2:
                        raise KeyStoreUnavailable(
                            f"registry database unreachable: {_first_line(exc)}"
                        ) from exc
                except psycopg.errors.UndefinedTable as exc:
                    self._db.reset()
                    raise KeyStoreUnavailable(
                        "registry.sessions does not exist: run `benchmark config init-db` first"
                    ) from exc
        return None  # pragma: no cover  (the loop always returns or raises)

    def close(self) -> None:
        self._db.close()


def _session_key(row: dict[str, Any]) -> SessionKey:
    return SessionKey(
        key_hash=row["key_hash"],
        key_alias=row["key_alias"],
        session_id=row["session_id"],
        experiment=row["experiment"],
        variant=row["variant"],
        task_card=row["task_card"],
        harness=row["harness"],
        provider=row["provider"],
        operator=row["operator"],
        status=row["status"],
        model_alias=row["model_alias"],
        background_model_alias=row["background_model_alias"],
        expires_at=row["key_expires_at"],
        revoked_at=row["key_revoked_at"],
        key_metadata=dict(row["key_metadata"] or {}),
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
