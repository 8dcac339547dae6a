"""The demo's story: two harnesses on the same model, one clearly faster to first token.

Experiment ``fireworks-kimi-k2-5-harness-comparison`` (shipped config): Claude Code (baseline) vs
OpenCode, both on Kimi K2.5 with Kimi K2.5 Turbo as background model. OpenCode gets a much lower
time to first token (the statistics should call it ``better``); both see the same model throughput,
so output tokens/s should show ``no detectable difference``. Each variant also gets one session
the statistics must exclude (one aborted, one marked invalid).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from session_cli.demo.traffic import Profile

if TYPE_CHECKING:
    from session_cli.sessions import CreateRequest

EXPERIMENT = "fireworks-kimi-k2-5-harness-comparison"
TASK_CARD = "repo-auth-analysis"
LABEL = "demo"  # the report says plainly that sessions with this label are simulated

PROFILES: dict[str, Profile] = {
    "kimi-k2-5-claude-code": Profile(
        ttft_median_ms=1500,
        usage_shape="anthropic",
        call_type="anthropic_messages",
        system_prompt_tokens=9000,
    ),
    "kimi-k2-5-opencode": Profile(
        ttft_median_ms=800,
        usage_shape="openai",
        call_type="acompletion",
        system_prompt_tokens=8000,
    ),
}


@dataclass(frozen=True)
class PlannedSession:
    variant: str
    status: str  # how the demo finalizes it
    outcome: str | None


def plan(sessions_per_variant: int) -> list[PlannedSession]:
    """Interleaved (A B A B ...), as an operator should run them, then one excluded session per variant."""
    variants = list(PROFILES)
    planned = [PlannedSession(v, "completed", "valid") for _ in range(sessions_per_variant) for v in variants]
    planned.append(PlannedSession(variants[0], "aborted", None))
    planned.append(PlannedSession(variants[1], "completed", "invalid"))
    return planned


def session_request(variant: str, notes: str) -> CreateRequest:
    """How either demo mode opens a session of ``variant`` (``notes`` says which mode)."""
    from session_cli.sessions import CreateRequest

    return CreateRequest(
        experiment=EXPERIMENT,
        variant=variant,
        task_card=TASK_CARD,
        label=LABEL,
        operator="demo",
        notes=notes,
        repo=Path.cwd(),
    )
