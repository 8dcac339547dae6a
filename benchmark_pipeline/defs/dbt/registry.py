"""The registry tables as external assets: written by the ``benchmark`` CLI, read by dbt sources.

They are never materialized by Dagster; declaring them gives the dbt sources' ``meta.dagster.asset_key``
a home in the ``registry`` group, so the lineage graph starts at the registry as well as at raw.
"""

from __future__ import annotations

import dagster as dg

REGISTRY_TABLES = {
    "registry_sessions": "registry.sessions: one row per benchmark session (key alias and key hash, never the key).",
    "registry_variants": "registry.variants: one row per variant config (latest synced version).",
    "registry_experiments": "registry.experiments: one row per experiment config.",
    "registry_experiment_variants": "registry.experiment_variants: one row per (experiment, variant) listed.",
    "registry_task_cards": "registry.task_cards: one row per task card config.",
}

registry_assets = [
    dg.AssetSpec(
        key=key,
        description=description,
        group_name="registry",
        kinds={"postgres"},
        metadata={"dagster/table_name": description.split(":", 1)[0]},
    )
    for key, description in REGISTRY_TABLES.items()
]
