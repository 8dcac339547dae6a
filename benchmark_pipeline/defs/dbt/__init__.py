"""dbt domain: the dbt project's models, seeds and tests as assets and asset checks, the registry
tables as external assets, and the automation that keeps the marts following ingestion.

``defs`` is built on first access (``definitions.py``), so light helpers such as
:mod:`benchmark_pipeline.defs.dbt.env` import without loading dbt, Dagster or the manifest.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from benchmark_pipeline.defs.dbt.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
