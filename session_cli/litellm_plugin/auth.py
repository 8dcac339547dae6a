"""``general_settings.custom_auth`` for the database-less mode.

Accepts the master key (as LiteLLM does: proxy admin, logged under LiteLLM's master-key alias so
neither the key nor its hash reaches spend logs or metrics) and session keys minted by the CLI:
the key's sha256 must match a ``registry.sessions`` row with ``key_backend = 'local'`` whose
session is ``active``, not revoked and not expired, and the request may only call the session's
``model_alias`` or ``background_model_alias``, on LLM and info routes.

The identity returned carries ``api_key`` = the key hash (spend-log ``api_key``, Prometheus
``hashed_api_key``), ``key_alias`` (``metadata.user_api_key_alias``, ``api_key_alias``), the
session metadata (session_id, experiment, variant, task_card, harness), the experiment as team
and the operator as user.

With ``custom_auth`` LiteLLM skips its own key checks (``custom_auth_run_common_checks`` unset),
so every check that matters for a session key is made here.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from session_cli import settings
from session_cli.litellm_plugin.keystore import KeyStore, KeyStoreUnavailable, SessionKey, hash_key

if TYPE_CHECKING:
    from fastapi import Request
    from litellm.proxy._types import UserAPIKeyAuth


def _registry_url() -> str:
    return settings.database_url()


key_store = KeyStore(url=_registry_url)


class _Denied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def custom_auth(request: Request, api_key: str) -> UserAPIKeyAuth:
    """LiteLLM's hook: return the caller's identity or raise (401/403; 503 if the registry is down)."""
    from litellm.proxy._types import ProxyErrorTypes, ProxyException

    try:
        return await _authenticate(request, api_key)
    except _Denied as denied:
        kind = ProxyErrorTypes.auth_error
        raise ProxyException(message=denied.message, type=kind, param="None", code=denied.status) from None
    except KeyStoreUnavailable as exc:
        raise ProxyException(
            message=f"cannot check the session key: {exc}",
            type=ProxyErrorTypes.auth_error,
            param="None",
            code=503,
        ) from exc


async def _authenticate(request: Request, api_key: str) -> UserAPIKeyAuth:
    from litellm.constants import LITELLM_PROXY_MASTER_KEY_ALIAS
    from litellm.proxy import proxy_server
    from litellm.proxy._types import LiteLLMRoutes, LitellmUserRoles, UserAPIKeyAuth
    from litellm.proxy.auth.auth_utils import get_request_route
    from litellm.proxy.auth.route_checks import RouteChecks

    route = get_request_route(request)
    key = (api_key or "").strip()
    if key[:7].lower() == "bearer ":
        key = key[7:].strip()

    master = proxy_server.master_key
    if isinstance(master, str) and master and key and secrets.compare_digest(key.encode(), master.encode()):
        return UserAPIKeyAuth(
            api_key=LITELLM_PROXY_MASTER_KEY_ALIAS,
            user_role=LitellmUserRoles.PROXY_ADMIN,
            user_id=proxy_server.litellm_proxy_admin_name,
            request_route=route,
        )
    if route in LiteLLMRoutes.public_routes.value:
        return UserAPIKeyAuth(user_role=LitellmUserRoles.INTERNAL_USER_VIEW_ONLY, request_route=route)
    if not key:
        raise _Denied(401, "no API key: send the session key as 'Authorization: Bearer <key>' or 'x-api-key'")

    session = await key_store.lookup(hash_key(key))
    if session is None:
        raise _Denied(401, "unknown API key: not a session key of this benchmark (database-less mode)")
    refusal = session.refusal()
    if refusal:
        raise _Denied(401, refusal)
    if not (RouteChecks.is_llm_api_route(route=route) or RouteChecks.is_info_route(route=route)):
        raise _Denied(403, f"session keys may only call model routes, not {route}")
    for model in await _requested_models(request, route):
        if model not in session.allowed_models:
            allowed = ", ".join(session.allowed_models)
            raise _Denied(
                403, f"session key {session.key_alias} may not call model {model!r} (allowed: {allowed})"
            )
    return _identity(session, route)


def _identity(session: SessionKey, route: str) -> UserAPIKeyAuth:
    from litellm.proxy._types import LitellmUserRoles, UserAPIKeyAuth

    return UserAPIKeyAuth(
        api_key=session.key_hash,
        key_alias=session.key_alias,
        key_name=session.key_alias,
        models=list(session.allowed_models),
        expires=session.expires_at,
        metadata=session.metadata(),
        team_id=session.experiment,
        team_alias=session.experiment,
        user_id=session.operator,
        user_role=LitellmUserRoles.INTERNAL_USER,
        request_route=route,
    )


async def _requested_models(request: Request, route: str) -> list[str]:
    """The model alias(es) a request targets (body ``model``, or the path for Gemini routes)."""
    from litellm.proxy.auth.auth_utils import get_model_from_request
    from litellm.proxy.common_utils.http_parsing_utils import _read_request_body

    body: dict[str, Any] = {}
    if request.method in ("POST", "PUT", "PATCH"):
        body = await _read_request_body(request) or {}
    model = get_model_from_request(
        request_data=body,
        route=route,
        request_headers=dict(request.headers),
        request_query_params=dict(request.query_params),
        request=request,
    )
    if model is None:
        return []
    return [model] if isinstance(model, str) else [str(m) for m in model]
