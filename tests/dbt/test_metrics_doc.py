"""docs/metrics.md is generated from the marts' dbt yml and documents every column the marts have."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.conftest import REPO_ROOT
from tests.dbt.loader import DBT_PROJECT_DIR

SCRIPT = DBT_PROJECT_DIR / "scripts" / "render_metrics_doc.py"


def _renderer():
    spec = importlib.util.spec_from_file_location("render_metrics_doc", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_doc_is_in_step_with_the_yml() -> None:
    module = _renderer()
    assert Path(module.DOC).read_text() == module.render(), (
        "docs/metrics.md is out of date: run `uv run python dbt_project/scripts/render_metrics_doc.py`"
    )


def test_the_statistics_table_is_documented_column_for_column() -> None:
    """marts.fct_variant_comparison is created by the stats asset's DDL, documented in a dbt source yml."""
    ddl = (REPO_ROOT / "benchmark_pipeline/defs/stats/sql/fct_variant_comparison.sql").read_text()
    created = re.findall(r"^    (\w+) (?:text|integer|double precision|bigint|timestamptz)", ddl, re.M)
    [table] = _renderer().statistics_tables()
    assert table["name"] == "fct_variant_comparison"
    assert [c["name"] for c in table["columns"]] == created
    assert all(c.get("description") for c in table["columns"])


def test_every_built_mart_column_is_documented(query: Callable[..., list[dict]]) -> None:
    documented = {
        model["name"]: [c["name"] for c in model.get("columns") or []]
        for model in yaml.safe_load(_renderer().MARTS_YML.read_text())["models"]
    }
    built: dict[str, list[str]] = {}
    for row in query(
        "select table_name, column_name from information_schema.columns where table_schema = 'marts'"
        " order by table_name, ordinal_position"
    ):
        built.setdefault(row["table_name"], []).append(row["column_name"])
    built.pop("fct_variant_comparison", None)  # written by the statistics asset, documented there
    assert set(built) == set(documented)
    for table, columns in built.items():
        assert columns == documented[table], f"marts.{table}: columns and their documented order differ"
    for model in yaml.safe_load(_renderer().MARTS_YML.read_text())["models"]:
        assert model.get("description"), model["name"]
        assert all(c.get("description") for c in model["columns"]), model["name"]
