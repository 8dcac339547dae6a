"""Run the ``benchmark`` CLI in-process and capture its two channels."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from session_cli.main import main


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    capsys.readouterr()  # drop anything captured before
    code = main(list(args))
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)
