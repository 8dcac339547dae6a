"""The code location the Dagster containers load (configs/dagster/workspace.yaml): it imports, and every
schedule and sensor starts running by itself, so `make up` alone keeps the marts current (nobody has to
switch automation on in the UI after a fresh start or a `make reset`)."""

from __future__ import annotations

import importlib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_workspace_code_location_turns_every_schedule_and_sensor_on() -> None:
    import dagster as dg

    workspace = yaml.safe_load((REPO / "configs/dagster/workspace.yaml").read_text())
    module = importlib.import_module(workspace["load_from"][0]["python_module"]["module_name"])
    repository = module.defs.get_repository_def()
    schedules, sensors = repository.schedule_defs, repository.sensor_defs
    assert schedules and sensors, "the stack relies on schedules and sensors to land data and build marts"
    off = [s.name for s in schedules if s.default_status != dg.DefaultScheduleStatus.RUNNING]
    off += [s.name for s in sensors if s.default_status != dg.DefaultSensorStatus.RUNNING]
    assert not off, f"these start stopped in the compose stack (set default_status=RUNNING): {off}"
