"""Errors the operator can act on: one line naming the file, field or row and the value, plus a hint."""

from __future__ import annotations


class BenchmarkError(Exception):
    """Base class: rendered by the CLI as one readable line plus an optional hint."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(BenchmarkError):
    """A config file is malformed or inconsistent with the others."""

    exit_code = 2


class RegistryError(BenchmarkError):
    """The registry database is unreachable, not migrated, or a row is missing or in the wrong state."""


class NotFoundError(RegistryError):
    """An id or name does not exist."""


class KeyIssueError(BenchmarkError):
    """The key backend (LiteLLM admin API or the local key store) refused or failed."""


class DatabaseUnavailableError(BenchmarkError):
    """No database could be reached or started."""
