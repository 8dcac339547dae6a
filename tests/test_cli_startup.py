"""The CLI path stays light: `--help` and `session env` never load the pipeline stack.

(Timing is measured by benchmarks/cli_startup.py, not asserted here.)
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "dagster",
    "dagster_dbt",
    "dbt",
    "alembic",
    "sqlalchemy",
    "numpy",
    "scipy",
    "pyarrow",
    "httpx",
    "pgserver",
)

PROBE = """
import sys
from session_cli.main import main
try:
    main({args!r})
finally:
    heavy = sorted({{m.split('.')[0] for m in sys.modules}} & set({heavy!r}))
    print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


def loaded_heavy(args: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args, heavy=HEAVY)], capture_output=True, text=True, env=env
    )
    return next(line for line in done.stderr.splitlines() if line.startswith("HEAVY="))[len("HEAVY=") :]


def test_help_loads_nothing_heavy():
    assert loaded_heavy(["--help"]) == ""
    assert loaded_heavy(["session", "--help"]) == ""


def test_session_env_loads_nothing_heavy(tmp_path):
    import os

    env = {**os.environ, "BENCHMARK_HOME": str(tmp_path)}
    assert loaded_heavy(["session", "env", "no-such-session"], env) == ""


CHILD_SIGNALS = """
import signal, subprocess, sys
import session_cli.main as cli
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # what a parent can pass on (see session_cli.main.run)
def spawn(argv):
    mask = subprocess.run(["grep", "SigIgn", "/proc/self/status"], capture_output=True, text=True).stdout
    print(int(mask.split()[1], 16) >> (signal.SIGTERM - 1) & 1)
    return 0
cli.main = spawn
cli.run()
"""


def test_processes_the_cli_starts_can_be_stopped_with_sigterm() -> None:
    """An inherited ignored SIGTERM is reset, so servers and Dagster's log tails can be terminated."""
    done = subprocess.run([sys.executable, "-c", CHILD_SIGNALS], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"  # the SIGTERM bit of the child's ignored-signal mask
