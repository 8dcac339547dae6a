"""The Dagster code location: one ``Definitions`` merged from each domain under ``defs/``.

Each domain package (``defs/litellm``, ``defs/prometheus``, ``defs/dbt``, ``defs/stats``) exposes a
module-level ``defs: dagster.Definitions``; resources are shared and bound here.
"""

from __future__ import annotations

import importlib
from typing import Any

import dagster as dg

from benchmark_pipeline.resources import default_resources

DOMAINS = ("litellm", "prometheus", "dbt", "stats")


def build_definitions(resources: dict[str, Any] | None = None) -> dg.Definitions:
    """The code location with ``resources`` (default: configured from the environment as it is now)."""
    domains = [importlib.import_module(f"benchmark_pipeline.defs.{name}").defs for name in DOMAINS]
    return dg.Definitions.merge(*domains, dg.Definitions(resources=resources or default_resources()))


defs = build_definitions()
