"""How dbt nodes become Dagster assets: keys, groups, partitions and automation.

- Models and seeds keep their dbt name as asset key (``fct_requests``); groups follow the folder
  (``staging``, ``intermediate``, ``marts``) and seeds are in ``seeds``.
- Sources carry ``meta.dagster.asset_key`` (``raw_litellm_spend_logs``, ``raw_prometheus_series``,
  ``registry_sessions``, ...), so lineage is one graph from the raw assets to the marts.
- Models tagged ``partitioned`` (time-grained incremental facts) share the raw assets' hourly
  partitions; Dagster passes each run's window to dbt as ``--vars``.
- Automation (declarative, evaluated by the running automation sensor in ``automation.py``):
  partitioned facts run when a raw partition of the last week lands; unpartitioned tables follow
  their parents once those are done (no "all parents present" requirement: hourly partitions from
  2025 are never all present); views are recreated only when missing or their SQL changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from benchmark_pipeline.partitions import hourly_partitions

PARTITIONED_TAG = "partitioned"
# models that read only the registry (dimensions): no Dagster event announces a registry change
REGISTRY_TAG = "registry"
MODEL_GROUPS = ("staging", "intermediate", "marts")
SEED_GROUP = "seeds"
# Partitioned facts react to raw partitions landed (or re-landed) within this window; older
# backfills are launched by hand with the dbt assets selected (see dbt_project/README.md).
AUTOMATION_LOOKBACK = timedelta(days=7)


def is_partitioned(props: Mapping[str, Any]) -> bool:
    return props.get("resource_type") == "model" and PARTITIONED_TAG in (props.get("tags") or [])


def partitioned_condition() -> dg.AutomationCondition:
    """A partition of a time-grained fact runs when a parent table (through the views) updated it,
    within the last week, once the views it reads exist."""
    return (
        dg.AutomationCondition.in_latest_time_window(AUTOMATION_LOOKBACK)
        & dg.AutomationCondition.any_deps_updated().resolve_through_virtual().since_last_handled()
        & ~dg.AutomationCondition.any_deps_missing()
        & ~dg.AutomationCondition.any_deps_in_progress().resolve_through_virtual()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("partitioned_fact")


def table_condition(partitioned: dg.AssetSelection) -> dg.AutomationCondition:
    """An unpartitioned table runs after any parent table updated (looking through views). eager()
    would also wait for every parent partition to be present, which hourly partitions never are;
    only its direct unpartitioned parents (views, tables, seeds) must exist."""
    return (
        dg.AutomationCondition.eager()
        .without(~dg.AutomationCondition.any_deps_missing())
        .resolve_through_virtual()
        & ~dg.AutomationCondition.any_deps_missing().ignore(partitioned)
    ).with_label("table_follows_parents")


def view_condition(views: dg.AssetSelection) -> dg.AutomationCondition:
    """Views, seeds and registry-only dimensions: built when missing (also on the sensor's first
    evaluation) or when their SQL or CSV changed; data updates flow through views without a rebuild,
    and registry changes reach the dimensions through the backstop schedule.

    A view is also rebuilt with any parent view: dbt replaces a view by renaming the old one and
    dropping it with CASCADE, which silently drops the views that read it."""
    return (
        (
            (dg.AutomationCondition.initial_evaluation() & dg.AutomationCondition.missing())
            | (
                dg.AutomationCondition.newly_missing() | dg.AutomationCondition.code_version_changed()
            ).since_last_handled()
            | dg.AutomationCondition.any_deps_updated().allow(views)
        )
        & ~dg.AutomationCondition.in_progress()
    ).with_label("view_missing_or_changed")


class HarnessBenchDbtTranslator(DagsterDbtTranslator):
    def __init__(self, facts: ManifestFacts | None = None) -> None:
        """``facts``: which asset keys are hourly-partitioned (the partitioned facts and the raw
        assets: unpartitioned tables never wait for them) and which are views."""
        facts = facts or ManifestFacts(frozenset(), frozenset())
        self._partitioned = dg.AssetSelection.assets(*sorted(facts.partitioned))
        self._views = dg.AssetSelection.assets(*sorted(facts.views))
        super().__init__(
            settings=DagsterDbtTranslatorSettings(
                enable_asset_checks=True,
                # the landed and the rejected spend-log tables are both written by raw_litellm_spend_logs
                enable_duplicate_source_asset_keys=True,
                # views hold no data: automation looks through them to the tables they read
                enable_dbt_views_as_virtual_assets=True,
            )
        )

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] in ("model", "seed", "snapshot"):
            return dg.AssetKey(dbt_resource_props["name"])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type == "seed":
            return SEED_GROUP
        if resource_type == "model":
            fqn = dbt_resource_props.get("fqn") or []
            for group in MODEL_GROUPS:
                if group in fqn:
                    return group
        return super().get_group_name(dbt_resource_props)

    def get_partitions_def(self, dbt_resource_props: Mapping[str, Any]) -> dg.PartitionsDefinition | None:
        return hourly_partitions if is_partitioned(dbt_resource_props) else None

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        resource_type = dbt_resource_props["resource_type"]
        if resource_type not in ("model", "seed"):
            return None
        if is_partitioned(dbt_resource_props):
            return partitioned_condition()
        materialized = (dbt_resource_props.get("config") or {}).get("materialized")
        tags = dbt_resource_props.get("tags") or []
        if resource_type == "seed" or materialized in ("view", "ephemeral") or REGISTRY_TAG in tags:
            return view_condition(self._views)
        return table_condition(self._partitioned)


@dataclass(frozen=True)
class ManifestFacts:
    partitioned: frozenset[str]
    views: frozenset[str]

    @classmethod
    def read(cls, manifest_path: Path) -> ManifestFacts:
        nodes = json.loads(Path(manifest_path).read_text())["nodes"].values()
        partitioned = {n["name"] for n in nodes if is_partitioned(n)}
        partitioned |= {"raw_litellm_spend_logs", "raw_prometheus_series"}
        views = {
            n["name"]
            for n in nodes
            if n.get("resource_type") == "model" and (n.get("config") or {}).get("materialized") == "view"
        }
        return cls(frozenset(partitioned), frozenset(views))
