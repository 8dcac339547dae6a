"""Session keys behind one small interface, with two backends.

- ``litellm``: LiteLLM's admin API mints the key (``POST /key/generate``) and revokes it
  (``POST /key/delete``). Needs a database-backed LiteLLM.
- ``local``: database-less mode. The CLI mints the key itself; the project's LiteLLM plugin
  (``session_cli.litellm_plugin``) authenticates it by its sha256 in ``registry.sessions``, and
  revocation is the registry's ``key_revoked_at``.

Either way only the key's sha256 (what LiteLLM logs as ``api_key``) and alias are stored.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from session_cli.errors import KeyIssueError

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def hash_key(key: str) -> str:
    """LiteLLM's identity for a key: sha256 hex of the raw key (spend-log ``api_key``)."""
    return hashlib.sha256(key.encode()).hexdigest()


def parse_duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise KeyIssueError(
            f"--duration: {value!r} is not a duration",
            hint="use a number and one of s, m, h, d (e.g. 30m, 8h, 2d)",
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@dataclass(frozen=True)
class KeyRequest:
    alias: str
    duration: str
    models: list[str]
    metadata: dict[str, Any]
    tags: list[str]


@dataclass(frozen=True)
class IssuedKey:
    key: str = field(repr=False)
    key_hash: str
    expires_at: datetime | None


class KeyBackend(Protocol):
    name: str

    def issue(self, request: KeyRequest) -> IssuedKey: ...

    def revoke(self, alias: str) -> None: ...


class LocalKeys:
    """Database-less mode: mint ``sk-hb-...`` here; the registry row is the key's only record."""

    name = "local"

    def issue(self, request: KeyRequest) -> IssuedKey:
        key = "sk-hb-" + secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + parse_duration(request.duration)
        return IssuedKey(key=key, key_hash=hash_key(key), expires_at=expires)

    def revoke(self, alias: str) -> None:
        """Nothing to call: finalize sets ``key_revoked_at``, which the plugin honours."""


def _litellm_message(response: Any) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:300] or response.reason_phrase
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if body.get("detail"):
            detail = body["detail"]
            return str(detail.get("error", detail) if isinstance(detail, dict) else detail)
    return str(body)[:300]


class LiteLLMKeys:
    """LiteLLM's admin API (documented contract: /key/generate, /key/delete)."""

    name = "litellm"

    def __init__(self, base_url: str, master_key: str | None, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.master_key = master_key
        self.timeout = timeout

    def _post(self, path: str, payload: dict[str, Any]) -> Any:
        import httpx  # imported here: `session env` and `--help` never need it

        if not self.master_key:
            raise KeyIssueError(
                "LITELLM_MASTER_KEY is not set: the admin API needs it to mint session keys",
                hint="export LITELLM_MASTER_KEY (see .env.example), or use BENCHMARK_KEY_BACKEND=local "
                "with the database-less proxy",
            )
        url = f"{self.base_url}{path}"
        try:
            return httpx.post(
                url,
                json=payload,
                headers={"Authorization": f"Bearer {self.master_key}"},
                timeout=self.timeout,
            )
        except httpx.HTTPError as exc:
            raise KeyIssueError(
                f"cannot reach LiteLLM at {self.base_url}: {type(exc).__name__}: {exc}",
                hint="start the proxy (`make up` or `benchmark proxy start`) or set LITELLM_BASE_URL",
            ) from exc

    def issue(self, request: KeyRequest) -> IssuedKey:
        response = self._post(
            "/key/generate",
            {
                "key_alias": request.alias,
                "duration": request.duration,
                "models": request.models,
                "metadata": request.metadata,
                "tags": request.tags,
            },
        )
        if response.status_code >= 400:
            raise KeyIssueError(
                f"LiteLLM refused /key/generate ({response.status_code}): {_litellm_message(response)}",
                hint="check LITELLM_MASTER_KEY and that LiteLLM runs with its database (DB-backed mode)",
            )
        body = response.json()
        key = body.get("key")
        if not isinstance(key, str) or not key:
            raise KeyIssueError(
                "LiteLLM's /key/generate answer carries no key", hint="check the proxy version"
            )
        expires = body.get("expires")
        expires_at = datetime.fromisoformat(expires.replace("Z", "+00:00")) if expires else None
        if expires_at is not None and expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        return IssuedKey(key=key, key_hash=hash_key(key), expires_at=expires_at)

    def revoke(self, alias: str) -> None:
        response = self._post("/key/delete", {"key_aliases": [alias]})
        if response.status_code == 404:
            return  # already gone: revoked is revoked
        if response.status_code >= 400:
            raise KeyIssueError(
                f"LiteLLM refused /key/delete for {alias} ({response.status_code}): {_litellm_message(response)}",
                hint="retry when LiteLLM is reachable, or finalize with --skip-revoke "
                "(the key then stays valid until it expires)",
            )


def backend(name: str, base_url: str, master_key: str | None) -> KeyBackend:
    if name == "litellm":
        return LiteLLMKeys(base_url, master_key)
    if name == "local":
        return LocalKeys()
    raise KeyIssueError(
        f"BENCHMARK_KEY_BACKEND: unknown key backend {name!r} (choices: litellm, local)",
        hint="litellm = LiteLLM mints keys (needs its database); local = database-less proxy mode",
    )
