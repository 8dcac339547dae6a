"""Session lifecycle: create (key + private directory + registry row) and finalize (revoke + delete)."""

from __future__ import annotations

import getpass
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_cli import gitinfo, settings
from session_cli.configs.loader import ConfigSet
from session_cli.console import warn
from session_cli.db import connect
from session_cli.errors import BenchmarkError, ConfigError, RegistryError
from session_cli.keys import KeyBackend, KeyRequest, backend
from session_cli.registry import sessions as session_rows
from session_cli.registry.sync import require_registry, sync_configs
from session_cli.render import render_harness, session_variables
from session_cli.session_dir import SessionDir

KEY_ALIAS_PREFIX = "hb-"


@dataclass(frozen=True)
class CreateRequest:
    experiment: str
    variant: str
    task_card: str
    harness: str | None = None
    label: str | None = None
    notes: str | None = None
    operator: str | None = None
    duration: str = "8h"
    repo: Path | None = None


def _choices(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"


def resolve(cs: ConfigSet, req: CreateRequest):
    """The experiment, variant, harness and task card a request names, or a one-line ConfigError."""
    experiment = cs.experiments.get(req.experiment)
    if experiment is None:
        raise ConfigError(
            f"--experiment: unknown experiment {req.experiment!r} (experiments: {_choices(cs.experiments)})"
        )
    if req.variant not in experiment.item.variants:
        raise ConfigError(
            f"--variant: {req.variant!r} is not a variant of experiment {req.experiment!r} "
            f"(variants: {', '.join(experiment.item.variants)})"
        )
    task_card = cs.task_cards.get(req.task_card)
    if task_card is None:
        raise ConfigError(
            f"--task-card: unknown task card {req.task_card!r} (task cards: {_choices(cs.task_cards)})"
        )
    variant = cs.variants[req.variant].item
    if req.harness is not None and req.harness != variant.harness:
        raise ConfigError(
            f"--harness: {req.harness!r} does not match variant {req.variant!r}, whose harness profile is "
            f"{variant.harness!r}",
            hint="drop --harness (the variant decides it) or pick a variant that uses that harness",
        )
    return experiment.item, variant, cs.harnesses[variant.harness].item, task_card.item


def create_session(cs: ConfigSet, req: CreateRequest, keys: KeyBackend | None = None) -> dict[str, Any]:
    """Create a session. On any failure nothing is left behind: no row, no directory, no live key."""
    experiment, variant, harness, task_card = resolve(cs, req)
    base_url = settings.litellm_base_url()
    keys = keys or backend(settings.key_backend(), base_url, settings.litellm_master_key())

    with connect() as conn:
        require_registry(conn)
        sync_configs(conn, cs)  # the registry always holds the fingerprints this session runs with

    session_id = str(uuid.uuid4())
    alias = KEY_ALIAS_PREFIX + session_id
    repo = req.repo or (Path(task_card.repo_path) if task_card.repo_path else Path.cwd())
    git = gitinfo.capture(repo)
    if not git.known:
        warn(
            f"{repo} is not inside a git repository with commits: git root/branch/commit recorded as unknown"
        )
    metadata = {
        "harness_bench_session_id": session_id,
        "session_id": session_id,
        "experiment": experiment.name,
        "variant": variant.name,
        "task_card": task_card.name,
        "harness": harness.name,
    }
    issued = keys.issue(
        KeyRequest(
            alias=alias,
            duration=req.duration,
            models=variant.aliases(harness),
            metadata=metadata,
            tags=["harness-bench", f"experiment:{experiment.name}", f"variant:{variant.name}"],
        )
    )
    sdir = SessionDir.for_session(session_id)
    try:
        variables = session_variables(
            base_url=base_url,
            variant=variant,
            harness=harness,
            session_id=session_id,
            session_dir=str(sdir.path),
            harness_dir=str(sdir.harness_dir),
            key_alias=alias,
            experiment=experiment.name,
            task_card=task_card.name,
        )
        rendered = render_harness(harness, variant, variables)
        sdir.create(
            issued.key,
            {
                "session_id": session_id,
                "experiment": experiment.name,
                "variant": variant.name,
                "harness": harness.name,
                "key_alias": alias,
                "env": rendered.env,
                "unset": rendered.unset,
                "files": [f.path for f in rendered.files],
                "launch": harness.launch.command,
            },
            [(f.path, f.text) for f in rendered.files],
        )
        with connect() as conn:
            row = session_rows.insert(
                conn,
                {
                    "session_id": session_id,
                    "experiment": experiment.name,
                    "variant": variant.name,
                    "task_card": task_card.name,
                    "harness": harness.name,
                    "provider": variant.provider,
                    "model_alias": variant.model,
                    "background_model_alias": variant.background_alias(harness),
                    "label": req.label,
                    "notes": req.notes,
                    "operator": req.operator or os.environ.get("BENCHMARK_OPERATOR") or getpass.getuser(),
                    "git_repo_root": git.repo_root,
                    "git_branch": git.branch,
                    "git_commit": git.commit,
                    "git_dirty": git.dirty,
                    "litellm_base_url": base_url,
                    "key_backend": keys.name,
                    "key_alias": alias,
                    "key_hash": issued.key_hash,
                    "key_expires_at": issued.expires_at,
                    "key_metadata": metadata,
                    "config_fingerprints": cs.fingerprints_for(variant.name, experiment.name, task_card.name),
                },
            )
    except BaseException:
        sdir.delete()
        try:
            keys.revoke(alias)
        except BenchmarkError as exc:
            warn(f"could not revoke the key of the failed session ({exc.message}); it expires on its own")
        raise
    row["session_dir"] = str(sdir.path)
    return row


def finalize_session(
    session_ref: str,
    status: str,
    outcome: str | None = None,
    notes: str | None = None,
    *,
    skip_revoke: bool = False,
    keys: KeyBackend | None = None,
) -> dict[str, Any]:
    """Revoke the key, record the end, delete the private directory. Finalizing twice is an error."""
    if status not in session_rows.FINAL_STATUSES:
        raise ConfigError(
            f"--status: {status!r} is not a final status (choices: {', '.join(session_rows.FINAL_STATUSES)})"
        )
    if outcome is not None and outcome not in session_rows.OUTCOMES:
        raise ConfigError(
            f"--outcome: {outcome!r} is not an outcome (choices: {', '.join(session_rows.OUTCOMES)})"
        )
    with connect() as conn:
        require_registry(conn)
        current = session_rows.get(conn, session_ref, for_update=True)
        if current["status"] != "active":
            raise RegistryError(
                f"session {current['session_id']} is already finalized ({current['status']} at "
                f"{current['ended_at']:%Y-%m-%d %H:%M:%S %Z})",
                hint="a session is finalized once; see `benchmark session show`",
            )
        if not skip_revoke:
            keys = keys or backend(
                current["key_backend"], current["litellm_base_url"], settings.litellm_master_key()
            )
            keys.revoke(current["key_alias"])  # raises: the transaction rolls back, the session stays active
        row = session_rows.finalize(
            conn, current["session_id"], status=status, outcome=outcome, notes=notes, revoked=not skip_revoke
        )
    SessionDir.for_session(row["session_id"]).delete()
    return row
