"""Everything read from the environment, in one place.

Database: ``BENCHMARK_DATABASE_URL``, else ``DATABASE_URL``, else the project-local embedded
Postgres under ``$BENCHMARK_HOME`` (see :mod:`session_cli.embedded`).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_LITELLM_BASE_URL = "http://localhost:4000"
DEFAULT_PROMETHEUS_URL = "http://localhost:9090"


def configured_database_url() -> str | None:
    """The database URL the operator configured, or None when the embedded default applies."""
    return os.environ.get("BENCHMARK_DATABASE_URL") or os.environ.get("DATABASE_URL") or None


def database_url() -> str:
    """The warehouse/registry database, starting the embedded Postgres when none is configured."""
    url = configured_database_url()
    if url:
        return url
    from session_cli import embedded  # lazy: only needed for the zero-setup default

    return embedded.ensure_running().database_url("benchmark")


def litellm_base_url() -> str:
    return os.environ.get("LITELLM_BASE_URL", DEFAULT_LITELLM_BASE_URL).rstrip("/")


def litellm_master_key() -> str | None:
    return os.environ.get("LITELLM_MASTER_KEY") or None


def prometheus_url() -> str:
    return os.environ.get("PROMETHEUS_URL", DEFAULT_PROMETHEUS_URL).rstrip("/")


def key_backend() -> str:
    """``litellm`` (LiteLLM's /key/generate, needs its database) or ``local`` (database-less mode)."""
    return os.environ.get("BENCHMARK_KEY_BACKEND", "litellm")


def benchmark_home() -> Path:
    """Private state: session directories (keys), embedded Postgres data, proxy pid files."""
    raw = os.environ.get("BENCHMARK_HOME")
    return Path(raw).expanduser() if raw else Path.home() / ".local" / "state" / "harness-bench"


def sessions_home() -> Path:
    return benchmark_home() / "sessions"


def configs_dir(explicit: Path | None = None) -> Path:
    if explicit is not None:
        return explicit
    return Path(os.environ.get("BENCHMARK_CONFIGS_DIR", "configs"))
