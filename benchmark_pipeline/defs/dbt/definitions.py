"""The dbt domain's Definitions: the dbt project's models, seeds and tests as assets and asset checks, the registry
tables as external assets, and the automation that keeps the marts following ingestion.

Resources: ``dbt`` (``DbtCliResource`` on ``dbt_project/``) is bound here; ``warehouse`` is shared.
"""

import sys
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from benchmark_pipeline.defs.dbt.assets import dbt_models, dbt_partitioned_models
from benchmark_pipeline.defs.dbt.automation import (
    dbt_automation_sensor,
    dbt_backstop_job,
    dbt_backstop_schedule,
)
from benchmark_pipeline.defs.dbt.project import dbt_project
from benchmark_pipeline.defs.dbt.registry import registry_assets


def dbt_executable() -> str:
    """The ``dbt`` installed beside this interpreter, so a venv's script works without the venv on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


defs = dg.Definitions(
    assets=[dbt_partitioned_models, dbt_models, *registry_assets],
    jobs=[dbt_backstop_job],
    schedules=[dbt_backstop_schedule],
    sensors=[dbt_automation_sensor],
    resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
)
