"""Options every command shares, and small output helpers."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from session_cli import settings

ConfigsDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--configs-dir",
        envvar="BENCHMARK_CONFIGS_DIR",
        help="Config root holding providers/ harnesses/ variants/ experiments/ task-cards/ litellm/.",
        show_default="configs/",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def load(configs_dir: Path | None):
    from session_cli.configs.loader import load_configs

    return load_configs(settings.configs_dir(configs_dir))


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if value else "-"


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
