"""The Dagster instance on the host: ``DAGSTER_HOME`` if set, else ``$BENCHMARK_HOME/dagster``.

``make dev`` (the UI and daemon) and ``benchmark pipeline run`` (in-process runs) share it, so runs
launched from the CLI show in the UI. Its ``dagster.yaml`` is written from ``configs/dagster/``:

- ``dagster.sqlite.yaml`` by default: SQLite storage under the home directory;
- ``dagster.yaml`` (the compose stack's, dagster-postgres) when ``DAGSTER_PG_HOST`` is set; it
  reads ``DAGSTER_PG_HOST/PORT/DB/USER/PASSWORD`` from the environment, so no password is written.

A ``dagster.yaml`` written by hand (no ``MANAGED_MARKER`` first line) is left alone.

``python -m benchmark_pipeline.instance`` prepares the home and prints its path (the Makefile uses it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from session_cli import settings

if TYPE_CHECKING:
    import dagster as dg

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "dagster"
SQLITE_TEMPLATE = CONFIG_DIR / "dagster.sqlite.yaml"
POSTGRES_TEMPLATE = CONFIG_DIR / "dagster.yaml"
MANAGED_MARKER = "# managed by benchmark_pipeline/instance.py"


def dagster_home() -> Path:
    raw = os.environ.get("DAGSTER_HOME")
    return Path(raw).expanduser() if raw else settings.benchmark_home() / "dagster"


def _template() -> Path:
    return POSTGRES_TEMPLATE if os.environ.get("DAGSTER_PG_HOST") else SQLITE_TEMPLATE


def ensure_dagster_home(home: Path | None = None) -> Path:
    """Create the home directory and (re)write its managed ``dagster.yaml``; returns the home."""
    home = (home or dagster_home()).resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    template = _template()
    if not template.is_file():  # an installed package without the repository's configs/
        return home
    wanted = f"{MANAGED_MARKER} from configs/dagster/{template.name}; edits here are overwritten\n"
    wanted += template.read_text()
    if target.exists():
        current = target.read_text()
        if not current.startswith(MANAGED_MARKER) or current == wanted:
            return home
    target.write_text(wanted)
    return home


def open_instance(home: Path | None = None) -> dg.DagsterInstance:
    """The instance at ``home`` (default: :func:`dagster_home`), prepared first."""
    import dagster as dg

    home = ensure_dagster_home(home)
    os.environ["DAGSTER_HOME"] = str(home)  # runs and the code they load resolve the same instance
    return dg.DagsterInstance.from_config(str(home))


if __name__ == "__main__":
    sys.stdout.write(f"{ensure_dagster_home()}\n")
