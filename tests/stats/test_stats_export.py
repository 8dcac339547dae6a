"""``benchmark export``: every format, the experiment filter, streaming batches, no secrets, no partial files."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from session_cli.commands import export
from session_cli.commands.report import MartsMissingError
from session_cli.main import app

REQUEST_COLUMNS = [
    "request_id",
    "session_id",
    "attribution",
    "experiment",
    "variant",
    "key_alias",  # the alias is not a secret (it names the session); key_hash is dropped
    "started_at",
    "latency_ms",
    "ttft_ms",
    "is_streamed",
    "input_tokens",
    "cost_usd",
    "status",
    "error_code",
    "tags",
]


@pytest.fixture
def db(marts_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("BENCHMARK_DATABASE_URL", marts_db)
    return marts_db


def invoke(*args: str):
    return CliRunner().invoke(app, ["export", *args])


def test_csv_requests_exact(db: str, tmp_path: Path) -> None:
    out = tmp_path / "requests.csv"
    result = invoke("requests", "--format", "csv", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "wrote 4 rows of marts.fct_requests" in result.stderr
    rows = list(csv.reader(io.StringIO(out.read_text())))
    assert rows[0] == REQUEST_COLUMNS
    assert rows[1] == [
        "req-1",
        "00000000-0000-4000-8000-000000000001",
        "key_hash",
        "exp-a",
        "fast",
        "hb-alias",
        "2026-11-24T09:00:00.000000Z",
        "1234.5",
        "200",
        "true",
        "100",
        "0.000125",  # numeric printed exactly
        "success",
        "",  # NULL -> empty
        '["a","b"]',
    ]
    assert rows[2][7:14] == ["800", "", "false", "0", "0", "failure", "429"]  # 0 stays 0, unknown is empty
    assert rows[3][1] == "" and rows[3][2] == "unattributed"
    assert [r[0] for r in rows[1:]] == ["req-1", "req-2", "req-3", "req-4"]  # ordered by started_at
    assert "a" * 64 not in out.read_text()  # the key hash column is never exported


def test_json_requests_filtered(db: str, tmp_path: Path) -> None:
    out = tmp_path / "requests.json"
    result = invoke("requests", "-f", "json", "-o", str(out), "--experiment", "exp-a", "--batch-rows", "1")
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert [d["request_id"] for d in doc] == ["req-1", "req-2"]
    first = doc[0]
    assert list(first) == REQUEST_COLUMNS
    assert first["cost_usd"] == 0.000125 and first["is_streamed"] is True and first["tags"] == ["a", "b"]
    assert first["started_at"] == "2026-11-24T09:00:00+00:00"
    assert doc[1]["ttft_ms"] is None and doc[1]["input_tokens"] == 0


def test_parquet_requests_types_and_values(db: str, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "requests.parquet"
    result = invoke("requests", "-f", "parquet", "-o", str(out), "--batch-rows", "3")  # two batches
    assert result.exit_code == 0, result.output
    table = pq.read_table(out)
    assert table.column_names == REQUEST_COLUMNS
    schema = table.schema
    assert schema.field("started_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("latency_ms").type == pa.float64()
    assert schema.field("cost_usd").type == pa.float64()  # numeric -> double
    assert schema.field("input_tokens").type == pa.int64()
    assert schema.field("is_streamed").type == pa.bool_()
    assert schema.field("session_id").type == pa.string()  # uuid -> text
    rows = table.to_pylist()
    assert len(rows) == 4
    assert rows[0]["started_at"] == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert rows[0]["cost_usd"] == 0.000125 and rows[0]["tags"] == '["a","b"]'
    assert rows[1]["ttft_ms"] is None and rows[1]["input_tokens"] == 0
    assert rows[3]["session_id"] == "00000000-0000-4000-8000-000000000002"


def test_comparison_and_sessions_exports(db: str, tmp_path: Path) -> None:
    out = tmp_path / "cmp.csv"
    assert invoke("comparison", "-o", str(out), "-e", "exp-d").exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 7 and {r["variant"] for r in rows} == {"solo"}
    assert rows[0]["metric"] == "active_duration_s"  # ordered by experiment, variant, metric
    sessions = tmp_path / "sessions.json"
    assert invoke("sessions", "-f", "json", "-o", str(sessions)).exit_code == 0
    assert len(json.loads(sessions.read_text())) == 21


def test_csv_to_stdout(db: str) -> None:
    result = invoke("comparison", "-o", "-", "-e", "exp-a")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("experiment,variant,baseline_variant,metric")
    assert len(result.stdout.splitlines()) == 1 + 14


def test_empty_filter_warns_and_writes_header(db: str, tmp_path: Path) -> None:
    out = tmp_path / "none.json"
    result = invoke("requests", "-f", "json", "-o", str(out), "-e", "nope")
    assert result.exit_code == 0
    assert json.loads(out.read_text()) == []
    assert "no rows in marts.fct_requests for experiment 'nope'" in result.stderr


def test_missing_mart_leaves_no_file(db: str, tmp_path: Path) -> None:
    out = tmp_path / "variants.csv"
    result = invoke("variants", "-o", str(out))  # marts.fct_variant_summary is not built in these tests
    assert isinstance(result.exception, MartsMissingError)
    assert result.exception.message == "marts.fct_variant_summary does not exist in this database"
    assert "benchmark pipeline run" in (result.exception.hint or "")
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_the_previous_file(db: str, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "requests.parquet"
    out.write_text("previous")

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(export, "_arrow_type", boom)
    result = invoke("requests", "-f", "parquet", "-o", str(out))
    assert isinstance(result.exception, RuntimeError)
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["requests.parquet"]  # no temporary file left


def test_parquet_refuses_stdout(db: str) -> None:
    result = invoke("requests", "-f", "parquet", "-o", "-")
    assert isinstance(result.exception, export.ExportError)
    assert "parquet cannot be written to stdout" in result.exception.message


def test_denied_columns_cover_secrets_and_content() -> None:
    assert {"api_key", "key_hash", "messages", "response"} <= export.DENIED_COLUMNS


def test_no_heavy_imports_at_module_top() -> None:
    import subprocess
    import sys

    code = (
        "import sys, session_cli.main; "
        "print(sorted(m for m in ('numpy','scipy','dagster','pyarrow','dbt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
