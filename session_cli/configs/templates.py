"""``{{ name }}`` templates in harness profiles and variant env overrides.

Plain substitution, no logic: a profile is data. Unknown names are rejected at validation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")

# every name a template may use, with what it becomes at `session create`
VARIABLES: dict[str, str] = {
    "base_url": "the LiteLLM proxy base URL, without /v1 (e.g. http://localhost:4000)",
    "base_url_v1": "the proxy base URL with /v1 appended",
    "api_key": "the session's virtual key (environment variables only, never files)",
    "model": "the variant's main model alias",
    "background_model": "the variant's background/small model alias (the main alias if none)",
    "harness_dir": "the harness's isolated config directory inside the session directory",
    "session_dir": "the session's private directory (mode 0700)",
    "session_id": "the benchmark session UUID",
    "key_alias": "the session key's alias",
    "experiment": "the experiment name",
    "variant": "the variant name",
    "task_card": "the task card name",
    "provider": "the provider name",
}
SECRET_VARIABLES = frozenset({"api_key"})


def names_in(value: Any) -> Iterator[tuple[str, str]]:
    """Yield (dotted path, variable name) for every template reference inside ``value``."""

    def walk(node: Any, path: str) -> Iterator[tuple[str, str]]:
        if isinstance(node, str):
            for match in PATTERN.finditer(node):
                yield path, match.group(1)
        elif isinstance(node, Mapping):
            for key, child in node.items():
                child_path = f"{path}.{key}" if path else str(key)
                yield from walk(key, child_path)
                yield from walk(child, child_path)
        elif isinstance(node, list):
            for index, child in enumerate(node):
                yield from walk(child, f"{path}[{index}]")

    yield from walk(value, "")


def render(value: Any, variables: Mapping[str, str]) -> Any:
    """Substitute variables in every string (mapping keys included); other scalars pass through."""
    if isinstance(value, str):
        return PATTERN.sub(lambda m: variables[m.group(1)], value)
    if isinstance(value, Mapping):
        return {render(k, variables): render(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    return value
