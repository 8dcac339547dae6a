"""litellm domain: LiteLLM spend logs landed per hourly partition (see README.md).

``defs`` is built on first access, so the plain modules here (columns, statements, sources,
landing) import without Dagster: the CLI and the demo use them and must start fast.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from benchmark_pipeline.defs.litellm.definitions import defs

        return defs
    raise AttributeError(name)
