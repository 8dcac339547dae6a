"""The dbt project as Dagster sees it: location, manifest, and a freshness guard on the manifest.

The manifest (``dbt_project/target/manifest.json``) is produced by ``dbt parse``. ``dagster dev``
re-parses on start (``prepare_if_dev``); everywhere else (CI, tests, ``benchmark pipeline run``,
the daemon) the manifest is parsed here when it is missing or older than any project file, so the
asset graph never lags the SQL. A parse takes about 4.5 s and is guarded against concurrent runs.
"""

from __future__ import annotations

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"
_SOURCE_DIRS = ("models", "seeds", "macros", "tests", "analyses")
_SOURCE_FILES = ("dbt_project.yml", "profiles.yml", "packages.yml", "dependencies.yml")


def newest_source_mtime(project_dir: Path = DBT_PROJECT_DIR) -> float:
    """The newest modification time of any file that changes what ``dbt parse`` produces."""
    newest = 0.0
    for name in _SOURCE_FILES:
        path = project_dir / name
        if path.exists():
            newest = max(newest, path.stat().st_mtime)
    for folder in _SOURCE_DIRS:
        for path in (project_dir / folder).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def manifest_is_stale(project: DbtProject) -> bool:
    path = project.manifest_path
    return not path.exists() or path.stat().st_mtime < newest_source_mtime(Path(project.project_dir))


def load_dbt_project() -> DbtProject:
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    project.prepare_if_dev()
    if manifest_is_stale(project):
        project.preparer.prepare(project)
    return project


dbt_project = load_dbt_project()
