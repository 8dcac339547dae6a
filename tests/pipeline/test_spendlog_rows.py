"""The test rows have LiteLLM's real shape: checked against the installed LiteLLM's source (no import)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

from tests.pipeline import spendlog_rows as R


def _litellm_file(relative: str) -> Path:
    spec = importlib.util.find_spec("litellm")  # finds the package without importing it (seconds)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("litellm (the proxy extra) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / relative


def _typed_dict_keys(path: Path, name: str) -> list[str]:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == name:
            return [
                s.target.id
                for s in node.body
                if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
            ]
    raise AssertionError(f"{name} not found in {path}")


def test_metadata_has_exactly_litellms_spend_logs_metadata_keys() -> None:
    keys = _typed_dict_keys(_litellm_file("proxy/_types.py"), "SpendLogsMetadata")
    assert set(R.METADATA_KEYS) == set(keys)
    assert set(R.success_row("x")["metadata"]) == set(keys)


def test_rows_set_only_real_columns() -> None:
    payload_keys = set(_typed_dict_keys(_litellm_file("proxy/_types.py"), "SpendLogsPayload"))
    table_only = {"created_at", "updated_at"}  # database defaults, not part of LiteLLM's payload
    for row in R.standard_set() + R.malformed_set():
        assert set(row) - payload_keys <= table_only
