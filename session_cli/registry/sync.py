"""Upsert the validated config set into ``registry.*`` with a content fingerprint per row.

A changed config shows as a new fingerprint on its row; every fingerprint ever synced stays in
``registry.config_history`` so a session's recorded fingerprints always resolve to the spec it ran
with. Rows for configs removed from YAML are kept: past sessions reference them.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg.types.json import Jsonb

from session_cli.configs.loader import ConfigSet, display
from session_cli.errors import RegistryError


@dataclass(frozen=True)
class SyncResult:
    inserted: int
    changed: int
    unchanged: int


def require_registry(conn: psycopg.Connection) -> None:
    row = conn.execute("select to_regclass('registry.sessions') is not null as ok").fetchone()
    if not row or not _first(row):
        raise RegistryError(
            "the registry is not initialised in this database (no table registry.sessions)",
            hint="run `benchmark config init-db`",
        )


def _first(row: object) -> object:
    return next(iter(row.values())) if isinstance(row, dict) else row[0]  # type: ignore[index]


def _upsert(conn: psycopg.Connection, table: str, kind: str, name: str, fp: str, columns: dict) -> str:
    existing = conn.execute(f"select fingerprint from registry.{table} where name = %s", (name,)).fetchone()
    names = ["name", *columns, "fingerprint"]
    values = [name, *columns.values(), fp]
    placeholders = ", ".join(["%s"] * len(names))
    updates = ", ".join(f"{c} = excluded.{c}" for c in names[1:])
    conn.execute(
        f"insert into registry.{table} ({', '.join(names)}) values ({placeholders}) "
        f"on conflict (name) do update set {updates}, synced_at = now() "
        f"where registry.{table}.fingerprint is distinct from excluded.fingerprint",
        values,
    )
    conn.execute(
        "insert into registry.config_history (kind, name, fingerprint, spec) values (%s, %s, %s, %s) "
        "on conflict do nothing",
        (kind, name, fp, columns["spec"]),
    )
    if existing is None:
        return "inserted"
    return "unchanged" if _first(existing) == fp else "changed"


def sync_configs(conn: psycopg.Connection, cs: ConfigSet) -> SyncResult:
    """Upsert every config; one transaction (the caller's). Returns counts by outcome."""
    outcomes: list[str] = []

    def spec(loaded) -> Jsonb:
        return Jsonb(loaded.item.model_dump(mode="json"))

    for name, p in cs.providers.items():
        outcomes.append(
            _upsert(
                conn,
                "providers",
                "provider",
                name,
                p.fingerprint,
                {
                    "route_name": p.item.route_name,
                    "api_key_env": p.item.api_key_env,
                    "protocols": list(p.item.protocols),
                    "models": Jsonb({a: m.model_dump(mode="json") for a, m in p.item.models.items()}),
                    "source_path": display(p.path),
                    "spec": spec(p),
                },
            )
        )
    for name, h in cs.harnesses.items():
        outcomes.append(
            _upsert(
                conn,
                "harness_profiles",
                "harness",
                name,
                h.fingerprint,
                {
                    "protocol": h.item.protocol,
                    "model_roles": list(h.item.model_roles),
                    "source_path": display(h.path),
                    "spec": spec(h),
                },
            )
        )
    for name, v in cs.variants.items():
        outcomes.append(
            _upsert(
                conn,
                "variants",
                "variant",
                name,
                v.fingerprint,
                {
                    "provider": v.item.provider,
                    "model_alias": v.item.model,
                    "background_model_alias": v.item.background_model,
                    "harness": v.item.harness,
                    "tags": Jsonb(v.item.tags),
                    "source_path": display(v.path),
                    "spec": spec(v),
                },
            )
        )
    for name, e in cs.experiments.items():
        outcomes.append(
            _upsert(
                conn,
                "experiments",
                "experiment",
                name,
                e.fingerprint,
                {
                    "description": e.item.description,
                    "baseline_variant": e.item.baseline_variant,
                    "source_path": display(e.path),
                    "spec": spec(e),
                },
            )
        )
        conn.execute("delete from registry.experiment_variants where experiment = %s", (name,))
        with conn.cursor() as cur:
            cur.executemany(
                "insert into registry.experiment_variants (experiment, variant, position, is_baseline) "
                "values (%s, %s, %s, %s)",
                [
                    (name, variant, i + 1, variant == e.item.baseline_variant)
                    for i, variant in enumerate(e.item.variants)
                ],
            )
    for name, t in cs.task_cards.items():
        outcomes.append(
            _upsert(
                conn,
                "task_cards",
                "task_card",
                name,
                t.fingerprint,
                {
                    "goal": t.item.goal,
                    "starting_prompt": t.item.starting_prompt,
                    "stop_condition": t.item.stop_condition,
                    "timebox_minutes": t.item.timebox_minutes,
                    "repo_path": t.item.repo_path,
                    "notes": t.item.notes,
                    "source_path": display(t.path),
                    "spec": spec(t),
                },
            )
        )
    return SyncResult(
        inserted=outcomes.count("inserted"),
        changed=outcomes.count("changed"),
        unchanged=outcomes.count("unchanged"),
    )
