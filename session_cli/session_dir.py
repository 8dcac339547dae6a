"""The session's private directory: the key's only home at rest.

``$BENCHMARK_HOME/sessions/<session id>/`` (mode 0700) holds ``key`` (0600), ``session.json``
(0600; the rendered environment with the key as a placeholder) and ``harness/`` (the harness's
isolated config directory with its rendered files). ``finalize`` deletes the whole directory.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from session_cli.errors import BenchmarkError, NotFoundError
from session_cli.settings import sessions_home

KEY_FILE = "key"
META_FILE = "session.json"
HARNESS_DIR = "harness"


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def write_private(path: Path, text: str) -> None:
    """Create ``path`` with mode 0600 from the start (never world-readable, not even briefly)."""
    _mkdir_private(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


@dataclass(frozen=True)
class SessionDir:
    path: Path

    @classmethod
    def for_session(cls, session_id: str) -> SessionDir:
        return cls(sessions_home() / session_id)

    @property
    def harness_dir(self) -> Path:
        return self.path / HARNESS_DIR

    def exists(self) -> bool:
        return (self.path / KEY_FILE).is_file()

    def create(self, key: str, meta: dict[str, Any], files: list[tuple[str, str]]) -> None:
        try:
            _mkdir_private(sessions_home())
            _mkdir_private(self.path)
            _mkdir_private(self.harness_dir)
            write_private(self.path / KEY_FILE, key)
            write_private(self.path / META_FILE, json.dumps(meta, indent=2))
            for relative, text in files:
                write_private(self.harness_dir / relative, text)
        except OSError as exc:
            raise BenchmarkError(
                f"cannot write the session's private directory {self.path}: {exc.strerror}",
                hint="BENCHMARK_HOME must be a writable directory (default ~/.local/state/harness-bench)",
            ) from exc

    def key(self) -> str:
        return (self.path / KEY_FILE).read_text()

    def meta(self) -> dict[str, Any]:
        return json.loads((self.path / META_FILE).read_text())

    def delete(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def resolve_local(session_ref: str) -> SessionDir:
    """Find a session directory by full id or unique prefix, without touching the database."""
    home = sessions_home()
    exact = SessionDir(home / session_ref)
    if exact.exists():
        return exact
    matches = (
        sorted(p for p in home.glob(f"{session_ref}*") if (p / KEY_FILE).is_file()) if home.is_dir() else []
    )
    if len(matches) == 1:
        return SessionDir(matches[0])
    if len(matches) > 1:
        raise NotFoundError(
            f"session id prefix {session_ref!r} matches {len(matches)} sessions",
            hint="give more characters of the id (see `benchmark session list`)",
        )
    raise NotFoundError(
        f"no private directory for session {session_ref!r} under {home}",
        hint="the session was finalized (its key was revoked and deleted), was created with another "
        "BENCHMARK_HOME, or the id is wrong: see `benchmark session list`",
    )
