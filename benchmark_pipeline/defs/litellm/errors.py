"""Failures of the spend-log ingestion an operator can act on (one line each, with a hint)."""

from __future__ import annotations

from session_cli.errors import BenchmarkError


class SpendLogSourceError(BenchmarkError):
    """LiteLLM's database or API could not be read (unreachable, refused, wrong shape)."""


class SourceNotConfiguredError(SpendLogSourceError):
    """Neither LITELLM_DATABASE_URL nor LITELLM_BASE_URL + LITELLM_MASTER_KEY is set."""


class IngestSettingsError(BenchmarkError):
    """An ingestion setting in the environment is not a valid value."""

    exit_code = 2
