"""Resources shared by every domain, configured from the environment.

- ``warehouse``: the benchmark database (``BENCHMARK_DATABASE_URL``, else ``DATABASE_URL``, else
  the embedded Postgres) holding ``registry``, ``raw`` and the dbt schemas.
- ``litellm_source``: LiteLLM's own database (``LITELLM_DATABASE_URL``) and/or its API
  (``LITELLM_BASE_URL`` + ``LITELLM_MASTER_KEY``).
- ``prometheus``: ``PROMETHEUS_URL``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg
from psycopg.rows import dict_row

from session_cli import settings


class WarehouseResource(dg.ConfigurableResource):
    """The benchmark database. ``database_url`` empty means: resolve like the CLI does."""

    database_url: str = ""

    def url(self) -> str:
        return self.database_url or settings.database_url()

    @contextmanager
    def connect(self, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        with psycopg.connect(self.url(), autocommit=autocommit, row_factory=dict_row) as conn:
            yield conn


class LiteLLMSourceResource(dg.ConfigurableResource):
    """Where spend logs come from: LiteLLM's database (preferred) or its REST API.

    Empty fields resolve from the environment when used (``LITELLM_DATABASE_URL``,
    ``LITELLM_BASE_URL``, ``LITELLM_MASTER_KEY``), so secrets never sit in resource config, which
    the Dagster UI displays. ``source``: ``""`` picks the database when a URL is set, else the API
    when a master key is set; ``"database"`` or ``"api"`` force one (``BENCHMARK_LITELLM_SOURCE``).
    """

    database_url: str = ""
    base_url: str = ""
    master_key: str = ""
    source: str = ""

    def resolved_database_url(self) -> str:
        return self.database_url or os.environ.get("LITELLM_DATABASE_URL", "")

    def resolved_base_url(self) -> str:
        return (self.base_url or settings.litellm_base_url()).rstrip("/")

    def resolved_master_key(self) -> str:
        return self.master_key or settings.litellm_master_key() or ""

    def kind(self) -> str | None:
        """``"database"``, ``"api"`` or None (nothing configured)."""
        wanted = (self.source or os.environ.get("BENCHMARK_LITELLM_SOURCE", "")).strip().lower()
        if wanted in ("database", "api"):
            return wanted
        if self.resolved_database_url():
            return "database"
        if self.resolved_master_key():
            return "api"
        return None


class PrometheusResource(dg.ConfigurableResource):
    base_url: str = settings.DEFAULT_PROMETHEUS_URL


def default_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        # URLs and keys resolve from the environment at use time: none is copied into resource
        # config (shown in the Dagster UI, stored with every run)
        "warehouse": WarehouseResource(),
        "litellm_source": LiteLLMSourceResource(),
        "prometheus": PrometheusResource(base_url=settings.prometheus_url()),
    }
