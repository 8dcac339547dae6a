"""Scripted sessions: create -> run the harness command with the session's environment -> finalize.

This is how operators collect enough sessions for the statistics: ``--repeat N`` per variant, and
``--interleave`` to alternate variants (A B A B ...) so time-of-day effects on the provider spread
evenly instead of landing on one variant.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from session_cli.configs.loader import ConfigSet
from session_cli.render import with_key
from session_cli.session_dir import SessionDir
from session_cli.sessions import CreateRequest, create_session, finalize_session, resolve

GRACE_SECONDS = 10  # after SIGTERM at the timebox, before SIGKILL

# the operator's secrets never reach the harness: it talks to the proxy with its session key only
OPERATOR_SECRETS = frozenset({
    "LITELLM_MASTER_KEY", "BENCHMARK_DATABASE_URL", "DATABASE_URL", "LITELLM_DATABASE_URL", "DIRECT_URL",
    "BENCHMARK_TEST_DATABASE_URL", "DAGSTER_PG_PASSWORD", "POSTGRES_PASSWORD",
})  # fmt: skip


@dataclass(frozen=True)
class RunOutcome:
    session_id: str
    variant: str
    exit_code: int | None
    status: str
    duration_s: float
    timed_out: bool


def plan(variants: list[str], repeat: int, interleave: bool) -> list[str]:
    """The order sessions run in: ``A A B B`` by default, ``A B A B`` with interleave."""
    if interleave:
        return [v for _ in range(repeat) for v in variants]
    return [v for v in variants for _ in range(repeat)]


def session_environment(
    session_id: str, base: dict[str, str] | None = None, withhold: frozenset[str] = OPERATOR_SECRETS
) -> dict[str, str]:
    """The environment a harness runs with: ``base`` minus the operator's secrets and the profile's
    unsets, plus the session's rendered env."""
    sdir = SessionDir.for_session(session_id)
    meta = sdir.meta()
    env = dict(os.environ if base is None else base)
    for name in (*withhold, *meta["unset"]):
        env.pop(name, None)
    env.update(with_key(meta["env"], sdir.key()))
    return env


def _run(command: list[str], env: dict[str, str], cwd: Path, timeout_s: float | None, quiet_stdout: bool):
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=2 if quiet_stdout else None,  # keep our stdout clean for --json
        start_new_session=True,  # its own process group, so the timebox stops the whole tree
    )
    try:
        return proc.wait(timeout=timeout_s), False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        return proc.returncode, True
    except BaseException:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        raise


def run_sessions(
    cs: ConfigSet,
    *,
    experiment: str,
    variants: list[str],
    task_card: str,
    command: list[str],
    repeat: int = 1,
    interleave: bool = False,
    label: str | None = None,
    timeout_s: float | None = None,
    repo: Path | None = None,
    quiet_stdout: bool = False,
    on_event: Callable[[str, dict], None] = lambda kind, data: None,
) -> list[RunOutcome]:
    """Run the planned sessions one after another; Ctrl-C finalizes the running one as aborted."""
    card = cs.task_cards[task_card].item if task_card in cs.task_cards else None
    workdir = repo or (Path(card.repo_path) if card and card.repo_path else Path.cwd())
    if timeout_s is None and card is not None:
        timeout_s = card.timebox_minutes * 60
    for variant in variants:  # fail before the first session, not halfway through the batch
        resolve(cs, CreateRequest(experiment=experiment, variant=variant, task_card=task_card))
    # and no upstream provider key either: the harness must not be able to bypass the proxy
    withheld = OPERATOR_SECRETS | {p.item.api_key_env for p in cs.providers.values()}
    outcomes: list[RunOutcome] = []
    order = plan(variants, repeat, interleave)
    for index, variant in enumerate(order, start=1):
        row = create_session(
            cs,
            CreateRequest(
                experiment=experiment, variant=variant, task_card=task_card, label=label, repo=workdir
            ),
        )
        sid = row["session_id"]
        on_event("start", {"index": index, "total": len(order), "session_id": sid, "variant": variant})
        env = session_environment(sid, withhold=withheld)
        env.update(
            {
                "BENCHMARK_SESSION_ID": sid,
                "BENCHMARK_EXPERIMENT": experiment,
                "BENCHMARK_VARIANT": variant,
                "BENCHMARK_TASK_CARD": task_card,
                "BENCHMARK_PROMPT": card.starting_prompt if card else "",
            }
        )
        started = time.monotonic()
        try:
            code, timed_out = _run(command, env, workdir, timeout_s, quiet_stdout)
        except KeyboardInterrupt:
            finalize_session(sid, "aborted", notes="interrupted by the operator during `session run`")
            raise
        except OSError as exc:
            finalize_session(sid, "failed", notes=f"could not start {command[0]!r}: {exc.strerror}")
            raise
        duration = time.monotonic() - started
        status = "completed" if code == 0 and not timed_out else "failed"
        note = (
            f"timebox of {timeout_s:g} s reached; stopped"
            if timed_out
            else f"`session run`: exit status {code}"
        )
        finalize_session(sid, status, notes=note)
        outcome = RunOutcome(sid, variant, code, status, round(duration, 3), timed_out)
        outcomes.append(outcome)
        on_event("end", outcome.__dict__)
    return outcomes
