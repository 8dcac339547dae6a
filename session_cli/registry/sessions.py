"""SQL for ``registry.sessions``: the only module that reads or writes session rows."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from session_cli.errors import NotFoundError, RegistryError

STATUSES = ("active", "completed", "failed", "aborted")
FINAL_STATUSES = ("completed", "failed", "aborted")
OUTCOMES = ("valid", "invalid")

COLUMNS = """session_id::text as session_id, experiment, variant, task_card, harness, provider, model_alias,
    background_model_alias, status, outcome, label, notes, operator, started_at, ended_at,
    git_repo_root, git_branch, git_commit, git_dirty, litellm_base_url, key_backend, key_alias,
    key_hash, key_expires_at, key_revoked_at, config_fingerprints, created_at, updated_at"""


def insert(conn: psycopg.Connection, row: dict[str, Any]) -> dict[str, Any]:
    values = {**row, "config_fingerprints": Jsonb(row["config_fingerprints"])}
    values["key_metadata"] = Jsonb(row.get("key_metadata", {}))
    names = list(values)
    return conn.execute(
        f"insert into registry.sessions ({', '.join(names)}) values ({', '.join('%s' for _ in names)}) "
        f"returning {COLUMNS}",
        list(values.values()),
    ).fetchone()


def get(conn: psycopg.Connection, session_ref: str, *, for_update: bool = False) -> dict[str, Any]:
    """By full id or unique prefix of the id."""
    lock = " for update" if for_update else ""
    rows = conn.execute(
        f"select {COLUMNS} from registry.sessions where session_id::text like %s order by started_at limit 2{lock}",
        (session_ref.lower() + "%",),
    ).fetchall()
    if not rows:
        raise NotFoundError(
            f"no session with id {session_ref!r} in the registry",
            hint="see `benchmark session list`",
        )
    if len(rows) > 1:
        raise NotFoundError(
            f"session id prefix {session_ref!r} matches more than one session",
            hint="give more characters of the id",
        )
    return rows[0]


def list_sessions(
    conn: psycopg.Connection, *, experiment: str | None = None, status: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    return conn.execute(
        f"select {COLUMNS} from registry.sessions "
        "where (%(experiment)s::text is null or experiment = %(experiment)s) "
        "and (%(status)s::text is null or status = %(status)s) "
        "order by started_at desc limit %(limit)s",
        {"experiment": experiment, "status": status, "limit": limit},
    ).fetchall()


def finalize(
    conn: psycopg.Connection,
    session_id: str,
    *,
    status: str,
    outcome: str | None,
    notes: str | None,
    revoked: bool,
) -> dict[str, Any]:
    row = conn.execute(
        "update registry.sessions set status = %(status)s, outcome = %(outcome)s, ended_at = now(), "
        "notes = case when %(notes)s::text is null then notes "
        "             when notes is null or notes = '' then %(notes)s "
        "             else notes || E'\\n' || %(notes)s end, "
        "key_revoked_at = case when %(revoked)s then now() else key_revoked_at end, updated_at = now() "
        f"where session_id = %(id)s and status = 'active' returning {COLUMNS}",
        {"status": status, "outcome": outcome, "notes": notes, "revoked": revoked, "id": session_id},
    ).fetchone()
    if row is None:
        raise RegistryError(f"session {session_id} is not active", hint="it was finalized meanwhile")
    return row


def set_simulated_window(
    conn: psycopg.Connection, session_id: str, started_at: object, ended_at: object
) -> None:
    """Demo only: give a finalized, simulated session the time window its generated traffic covers."""
    conn.execute(
        "update registry.sessions set started_at = %s, ended_at = %s, updated_at = now() "
        "where session_id = %s and status <> 'active'",
        (started_at, ended_at, session_id),
    )
