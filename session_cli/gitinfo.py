"""Where the harness runs: git repository root, branch, commit and dirtiness (or unknown)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitInfo:
    repo_root: str | None
    branch: str | None
    commit: str | None
    dirty: bool | None

    @property
    def known(self) -> bool:
        return self.commit is not None


UNKNOWN = GitInfo(None, None, None, None)


def _git(path: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def capture(path: Path) -> GitInfo:
    """Git facts for ``path``; UNKNOWN outside a repository (the caller warns)."""
    root = _git(path, "rev-parse", "--show-toplevel")
    if root is None:
        return UNKNOWN
    commit = _git(path, "rev-parse", "HEAD")  # None in a repository without commits
    branch = _git(path, "rev-parse", "--abbrev-ref", "HEAD")
    status = _git(path, "status", "--porcelain", "--untracked-files=normal")
    return GitInfo(
        repo_root=root,
        branch=None if branch in (None, "HEAD") else branch,
        commit=commit,
        dirty=None if status is None else bool(status),
    )
