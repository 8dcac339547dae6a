"""What the fake provider answers, independent of HTTP: token counts, tool calls, failures, timing.

Everything here is deterministic so tests can assert hand-computed numbers:

- prompt tokens = ``ceil(c / 4)`` (at least 1), where ``c`` counts the characters of every text
  the request carries (system/instructions, message text, tool results); tool definitions and
  tool-call arguments are not counted;
- cached tokens = ``floor(prompt * cached_prompt_fraction)``, cache writes likewise;
- a text answer is ``output_tokens`` words, one token each; a tool call costs ``ceil(len(args) / 4)``;
- the first output token is sent ``ttft_ms`` (plus ``prefill_ms_per_1k_tokens`` per 1000 uncached
  prompt tokens) after the request arrived, token ``i`` (from 0) ``i / tokens_per_s`` seconds after that.
"""

from __future__ import annotations

import json
import math
import random
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from session_cli.fake_provider.profiles import FAIL_WORD, ModelProfile

Protocol = Literal["chat", "responses", "anthropic"]

# tools a coding agent uses to run a command, most specific first (Claude Code, Codex, Gemini, OpenHands)
_SHELL_TOOL_NAMES = ("bash", "shell", "exec_command", "run_shell_command", "execute_bash", "local_shell")
_COMMAND = "echo harness-bench"
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int  # all input tokens, cached ones included
    cached_tokens: int
    cache_write_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.output_tokens

    @property
    def uncached_input_tokens(self) -> int:
        """Anthropic's ``input_tokens``: the input that was neither read from nor written to the cache."""
        return self.prompt_tokens - self.cached_tokens - self.cache_write_tokens


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True)
class Plan:
    """The answer to one request: either text pieces or one tool call, with its usage."""

    model: str
    text_pieces: tuple[str, ...]
    tool_call: ToolCall | None
    usage: Usage
    fail_status: int | None

    @property
    def output_pieces(self) -> tuple[str, ...]:
        """What is streamed: text words, or the tool-call arguments in up to 4 slices."""
        if self.tool_call is None:
            return self.text_pieces
        args = self.tool_call.arguments_json
        step = max(1, math.ceil(len(args) / 4))
        return tuple(args[i : i + step] for i in range(0, len(args), step))

    @property
    def text(self) -> str:
        return "".join(self.text_pieces)

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_call else "stop"


def _text_of(content: Any) -> list[str]:
    """Text strings inside a message ``content`` of any of the three protocols."""
    if content is None:
        return []
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind in ("text", "input_text", "output_text") and isinstance(part.get("text"), str):
                    texts.append(part["text"])
                elif kind == "tool_result":
                    texts.extend(_text_of(part.get("content")))
    return texts


def request_texts(payload: dict[str, Any], protocol: Protocol) -> list[str]:
    """Every text the request carries (what the prompt-token count is computed from)."""
    texts: list[str] = []
    if protocol == "anthropic":
        texts.extend(_text_of(payload.get("system")))
        for message in payload.get("messages") or []:
            texts.extend(_text_of(message.get("content")))
    elif protocol == "chat":
        for message in payload.get("messages") or []:
            texts.extend(_text_of(message.get("content")))
    else:
        if isinstance(payload.get("instructions"), str):
            texts.append(payload["instructions"])
        items = payload.get("input")
        if isinstance(items, str):
            texts.append(items)
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict):
                continue
            if item.get("type", "message") == "message":
                texts.extend(_text_of(item.get("content")))
            elif isinstance(item.get("output"), str):
                texts.append(item["output"])
    return texts


def count_prompt_tokens(texts: list[str]) -> int:
    return max(1, math.ceil(sum(len(text) for text in texts) / 4))


def has_tool_result(payload: dict[str, Any], protocol: Protocol) -> bool:
    if protocol == "chat":
        return any(m.get("role") in ("tool", "function") for m in payload.get("messages") or [])
    if protocol == "anthropic":
        for message in payload.get("messages") or []:
            content = message.get("content")
            if isinstance(content, list) and any(
                isinstance(block, dict) and block.get("type") == "tool_result" for block in content
            ):
                return True
        return False
    items = payload.get("input")
    return isinstance(items, list) and any(
        isinstance(item, dict) and str(item.get("type", "")).endswith("_output") for item in items
    )


def offered_tools(payload: dict[str, Any], protocol: Protocol) -> list[tuple[str, dict[str, Any]]]:
    """(name, JSON schema of the arguments) of every function tool the request offers."""
    tools: list[tuple[str, dict[str, Any]]] = []
    for tool in payload.get("tools") or []:
        if not isinstance(tool, dict):
            continue
        if protocol == "chat" and isinstance(tool.get("function"), dict):
            fn = tool["function"]
            tools.append((str(fn.get("name")), fn.get("parameters") or {}))
        elif protocol == "anthropic" and "input_schema" in tool:
            tools.append((str(tool.get("name")), tool.get("input_schema") or {}))
        elif protocol == "responses" and tool.get("type") == "function":
            tools.append((str(tool.get("name")), tool.get("parameters") or {}))
    return tools


def _argument_for(name: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    commandish = "command" in name.lower() or name.lower() in ("cmd", "script")
    if kind == "array":
        return ["bash", "-lc", _COMMAND] if commandish else []
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return False
    if kind == "object":
        return {}
    if schema.get("enum"):
        return schema["enum"][0]
    return _COMMAND if commandish else "harness-bench"


def choose_tool_call(tools: list[tuple[str, dict[str, Any]]]) -> ToolCall:
    """A shell-like tool if offered (so an agent runs a harmless command), else the first tool."""
    by_name = {name.lower(): (name, schema) for name, schema in tools}
    name, schema = next((by_name[n] for n in _SHELL_TOOL_NAMES if n in by_name), tools[0])
    properties = schema.get("properties") or {}
    required = [p for p in schema.get("required") or [] if p in properties]
    arguments = {prop: _argument_for(prop, properties[prop]) for prop in required}
    return ToolCall(call_id=f"call_{uuid.uuid4().hex[:24]}", name=name, arguments=arguments)


class FailureDice:
    """One seeded random sequence per model: the n-th request to a model fails the same way every run."""

    def __init__(self) -> None:
        self._rngs: dict[str, random.Random] = {}
        self._lock = threading.Lock()

    def roll(self, model: str, profile: ModelProfile) -> bool:
        if profile.failure_rate <= 0:
            return False
        with self._lock:
            rng = self._rngs.setdefault(model, random.Random(f"{profile.seed}:{model}"))
            return rng.random() < profile.failure_rate


def plan_answer(
    payload: dict[str, Any], protocol: Protocol, model: str, profile: ModelProfile, dice: FailureDice
) -> Plan:
    texts = request_texts(payload, protocol)
    prompt = count_prompt_tokens(texts)
    forced = any(FAIL_WORD in text for text in texts)
    fail_status = profile.failure_status if forced or dice.roll(model, profile) else None
    tools = offered_tools(payload, protocol)
    tool_call = choose_tool_call(tools) if tools and not has_tool_result(payload, protocol) else None
    if tool_call is None:
        words = [_WORDS[i % len(_WORDS)] for i in range(profile.output_tokens)]
        pieces = tuple(word if i == len(words) - 1 else word + " " for i, word in enumerate(words))
        output = len(pieces)
    else:
        pieces = ()
        output = max(1, math.ceil(len(tool_call.arguments_json) / 4))
    usage = Usage(
        prompt_tokens=prompt,
        cached_tokens=math.floor(prompt * profile.cached_prompt_fraction),
        cache_write_tokens=math.floor(prompt * profile.cache_write_fraction),
        output_tokens=output,
    )
    return Plan(model=model, text_pieces=pieces, tool_call=tool_call, usage=usage, fail_status=fail_status)


def piece_offsets_s(profile: ModelProfile, count: int, uncached_prompt_tokens: int = 0) -> list[float]:
    """Seconds after the request's arrival at which each output piece is sent; the first one waits
    ``ttft_ms`` plus ``prefill_ms_per_1k_tokens`` per 1000 uncached prompt tokens."""
    first = (profile.ttft_ms + profile.prefill_ms_per_1k_tokens * uncached_prompt_tokens / 1000.0) / 1000.0
    return [first + i / profile.tokens_per_s for i in range(count)]
