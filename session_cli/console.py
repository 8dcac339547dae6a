"""Output channels: stdout is for data (JSON, env snippets); everything human goes to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

# soft_wrap: an error stays one line (greppable, copyable) whatever the terminal width
err = Console(stderr=True, highlight=False, soft_wrap=True)
# piped or captured output is not 80 columns wide by nature: keep report tables on one line per row
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)


def print_json(data: Any) -> None:
    """Machine-readable stdout: plain JSON, one document, no colour."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}")


def status(message: str) -> None:
    err.print(message)
