"""LiteLLM plugin for the database-less mode: session-key auth and spend-log rows without Prisma.

LiteLLM loads these by dotted path from its config (``configs/litellm/config.dbless.yaml``)::

    general_settings:
      custom_auth: session_cli.litellm_plugin.auth.custom_auth
    litellm_settings:
      callbacks: ["session_cli.litellm_plugin.spend_logs.spend_log_writer", "prometheus"]

LiteLLM 1.106.2 (``litellm.proxy.types_utils.utils.get_instance_fn``) first looks for a file
``<config dir>/session_cli/litellm_plugin/auth.py`` and otherwise imports the module by name, so
the paths work from any config directory as long as ``session_cli`` is importable (it is, in the
project's venv). Nothing here runs outside the proxy process: the CLI never imports this package.

- :mod:`.keystore`: session keys by sha256 from ``registry.sessions`` (``BENCHMARK_DATABASE_URL``),
  cached for ``HB_KEY_CACHE_TTL_S`` seconds (default 2), so revocation lands within that time.
- :mod:`.auth`: ``custom_auth``: master key, or an active, unrevoked, unexpired session key
  calling one of its allowed model aliases.
- :mod:`.rows`: spend-log rows (LiteLLM's own builder for successes; the same shape for failures
  and for rejected requests), with every content column emptied.
- :mod:`.spend_logs`: the ``CustomLogger`` that writes those rows into ``"LiteLLM_SpendLogs"`` in
  ``LITELLM_DATABASE_URL``.
"""
