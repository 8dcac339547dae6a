"""CLI start-up: wall time of `benchmark --help` and `benchmark session env` (target: well under 0.5 s).

Usage: uv run python benchmarks/cli_startup.py [--runs 15]
Creates a throwaway session directory under a temporary BENCHMARK_HOME (no database needed: `session env`
reads only the private directory) and times each command as a fresh process, median of N runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def time_command(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    home = Path(tempfile.mkdtemp(prefix="hb-startup-"))
    sid = "00000000-0000-4000-8000-000000000000"
    sdir = home / "sessions" / sid
    (sdir / "harness").mkdir(parents=True)
    (sdir / "key").write_text("sk-hb-benchmark")
    (sdir / "session.json").write_text(
        json.dumps(
            {
                "session_id": sid,
                "experiment": "e",
                "variant": "v",
                "harness": "claude-code",
                "key_alias": "hb-" + sid,
                "env": {"ANTHROPIC_AUTH_TOKEN": "{{ api_key }}", "ANTHROPIC_MODEL": "kimi-k2-5"},
                "unset": [],
                "files": [],
            }
        )
    )
    env = {**os.environ, "BENCHMARK_HOME": str(home)}
    script = shutil.which("benchmark") or str(Path(".venv/bin/benchmark"))
    try:
        for label, cmd in (
            ("benchmark --help", [script, "--help"]),
            ("benchmark session env", [script, "session", "env", sid]),
            ("uv run benchmark session env", ["uv", "run", "--no-sync", "benchmark", "session", "env", sid]),
        ):
            median, worst = time_command(cmd, env, runs)
            print(f"{label:32s} median {median * 1000:6.0f} ms   max {worst * 1000:6.0f} ms   ({runs} runs)")
    finally:
        shutil.rmtree(home)


if __name__ == "__main__":
    main()
