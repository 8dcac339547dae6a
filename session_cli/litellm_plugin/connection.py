"""One lazily opened autocommit connection, reopened after it breaks; shared by the plugin's stores."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg


class ReconnectingConnection:
    """Callers hold ``lock`` around :meth:`get` and their statements, and :meth:`reset` on errors."""

    def __init__(self, url: Callable[[], str], **connect_kwargs: Any) -> None:
        self._url = url
        self._kwargs = {"autocommit": True, "connect_timeout": 5, **connect_kwargs}
        self._conn: psycopg.Connection | None = None
        self.lock = threading.Lock()

    def get(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._url(), **self._kwargs)
        return self._conn

    def reset(self) -> None:
        """Close and forget the connection; the next :meth:`get` opens a new one."""
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def close(self) -> None:
        with self.lock:
            self.reset()
