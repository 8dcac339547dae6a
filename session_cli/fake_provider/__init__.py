"""A local fake upstream model server for tests and the demo.

Speaks OpenAI ``/v1/chat/completions`` (streamed and not, with a usage chunk), OpenAI
``/v1/responses`` (streamed and not) and Anthropic ``/v1/messages`` (streamed SSE and not), with
per-model latency profiles (time to first token, tokens per second, failure rate, cached-token
share). Deterministic on purpose: prompt tokens are ``ceil(characters / 4)`` of the message text,
the answer is ``output_tokens`` words (one token each), and a magic word in the prompt forces a
failure. A request that offers tools and carries no tool result yet gets one tool call back; once a
tool result is present the answer is plain text, so a harness's two-turn agent loop completes.

Run: ``python -m session_cli.fake_provider --port 9100 --profiles profiles.yaml``.
"""

from session_cli.fake_provider.profiles import FAIL_WORD, ModelProfile, ProfileSet, load_profiles

__all__ = ["FAIL_WORD", "ModelProfile", "ProfileSet", "load_profiles"]
