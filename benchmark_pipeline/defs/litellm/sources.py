"""Pick and open the spend-log source the ``litellm_source`` resource describes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark_pipeline.defs.litellm.errors import SourceNotConfiguredError
from benchmark_pipeline.defs.litellm.settings import IngestSettings
from benchmark_pipeline.defs.litellm.source_api import ApiSource
from benchmark_pipeline.defs.litellm.source_db import DatabaseSource

if TYPE_CHECKING:
    from benchmark_pipeline.resources import LiteLLMSourceResource

NOT_CONFIGURED = (
    "no LiteLLM spend-log source is configured: set LITELLM_DATABASE_URL (LiteLLM's own database, "
    "preferred) or LITELLM_BASE_URL + LITELLM_MASTER_KEY (its /spend/logs/v2 API)"
)


def open_source(resource: LiteLLMSourceResource, settings: IngestSettings) -> DatabaseSource | ApiSource:
    """The configured source, not yet entered (use it as a context manager)."""
    kind = resource.kind()
    if kind == "database":
        url = resource.resolved_database_url()
        if not url:
            raise SourceNotConfiguredError(
                "BENCHMARK_LITELLM_SOURCE=database but LITELLM_DATABASE_URL is not set",
                hint="set LITELLM_DATABASE_URL to LiteLLM's database (a read-only role is enough)",
            )
        return DatabaseSource(url, page_rows=settings.page_rows)
    if kind == "api":
        key = resource.resolved_master_key()
        if not key:
            raise SourceNotConfiguredError(
                "BENCHMARK_LITELLM_SOURCE=api but LITELLM_MASTER_KEY is not set",
                hint="the /spend/logs/v2 endpoint needs the proxy's master key",
            )
        return ApiSource(resource.resolved_base_url(), key)
    raise SourceNotConfiguredError(NOT_CONFIGURED, hint="see benchmark_pipeline/defs/litellm/README.md")
