"""OpenAI message formats in full: what a turn indexes, and what it keeps to give it back exactly.

A plain message (``role``, string ``content``, optional ``name``) is stored in the turn's own
columns. Anything richer is kept verbatim next to them, under :data:`MESSAGE_KEY` in the turn's
metadata, and :meth:`engram.Turn.to_message` gives it back as it came:

* chat completions: an assistant's ``tool_calls`` (``content`` may be null), a ``tool``
  message's ``tool_call_id``, ``content`` as a list of parts (``text``, ``image_url``,
  ``input_audio``, ``file``, ``refusal``), the ``developer`` role (stored as ``system``) and the
  legacy ``function`` role and ``function_call`` (stored as ``tool`` / on the assistant);
* Responses API input items (what the OpenAI Agents SDK keeps in a session): items with a
  ``type`` such as ``message``, ``function_call``, ``function_call_output`` or ``reasoning``.

The turn's ``content`` is the text a person would search for: the text parts, the tool
called with its arguments (``get_weather(city: Paris)``), the tool's output, a reasoning
summary. That text is what full-text search, vectors, facts and contexts see.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engram.errors import ValidationError
from engram.model.limits import MAX_CONTENT_BYTES

#: The metadata key under which a turn keeps the parts of its message its columns cannot hold.
MESSAGE_KEY = "_engram_message"
#: Keys Engram itself reads from a chat message (not part of the message given back); of an
#: item with a ``type``, only ``timestamp``.
ENGRAM_KEYS = frozenset({"timestamp", "metadata", "id"})
#: Keys of a chat-completions message (a message without ``type``); others are refused as typos.
CHAT_KEYS = frozenset({"role", "content", "name", "tool_calls", "tool_call_id", "function_call", "refusal", "audio"})
#: Roles of the OpenAI formats that Engram stores under one of its own.
ROLE_ALIASES = {"developer": "system", "function": "tool"}
#: Keys whose string values are the searchable text of an item of an unknown type.
_TEXT_KEYS = ("name", "arguments", "text", "output", "query", "queries", "summary", "refusal", "transcript", "result")


@dataclass(frozen=True, slots=True)
class Described:
    """What a message becomes: the turn's role, name and text, and what to keep verbatim."""

    role: object
    name: object
    text: object  # validated by check_text, like a plain message's content
    kept: dict[str, Any] | None


def describe(message: Mapping[str, Any], where: str) -> Described:
    """Split one message into the turn's columns and the verbatim rest (``kept``)."""
    kind = message.get("type")
    if kind is None:
        unknown = set(message) - CHAT_KEYS - ENGRAM_KEYS
        if unknown:
            raise ValidationError(
                f"{where} has unknown field(s) {', '.join(sorted(map(str, unknown)))}; "
                f"allowed: {', '.join(sorted(CHAT_KEYS | ENGRAM_KEYS))} (or an item with a 'type')"
            )
        role, text = _chat(message, where)
    elif kind == "message":
        role, text = message.get("role"), _content_text(message.get("content"), f"{where}.content")
    else:
        role, text = _item(message, str(kind), where)
    if kind is not None and not (isinstance(text, str) and text.strip()):
        text = f"[{kind}]"  # an item with no words (an empty message): still an item
    # an item's own "id" and "metadata" are the item's; Engram reads only its "timestamp"
    fields = {k: v for k, v in message.items() if k not in (ENGRAM_KEYS if kind is None else {"timestamp"})}
    plain = kind is None and set(fields) <= {"role", "content", "name"} and not isinstance(fields.get("content"), list)
    if plain and fields.get("role") not in ROLE_ALIASES:
        return Described(role, message.get("name"), text, None)
    content_is_text = isinstance(fields.get("content"), str) and fields["content"] == text
    if content_is_text:
        del fields["content"]  # kept once, in the turn's content
    kept = {"fields": fields, "content_is_text": content_is_text}
    _check_size(kept, where)
    name = message.get("name") if message.get("role") != "function" else None
    return Described(ROLE_ALIASES.get(str(role), role), name, text, kept)


def _chat(message: Mapping[str, Any], where: str) -> tuple[object, object]:
    role, content = message.get("role"), message.get("content")
    if "tool_call_id" in message and not isinstance(message["tool_call_id"], str):
        raise ValidationError(f"{where}.tool_call_id must be a string (the id of the call it answers)")
    if not isinstance(content, list) and not {"tool_calls", "function_call", "refusal"} & set(message):
        return role, content  # a plain message: check_text says what is wrong with it
    parts = [_content_text(content, f"{where}.content")]
    calls = message.get("tool_calls")
    if calls is not None:
        if role != "assistant":
            raise ValidationError(f"{where}.tool_calls: only an assistant message calls tools")
        if not isinstance(calls, list) or not calls:
            raise ValidationError(f"{where}.tool_calls must be a non-empty list")
        for index, call in enumerate(calls):
            parts.append(_call_text(call, f"{where}.tool_calls[{index}]"))
    if message.get("function_call") is not None:
        parts.append(_function_text(message["function_call"], f"{where}.function_call"))
    if isinstance(message.get("refusal"), str):
        parts.append(message["refusal"])
    return role, "\n".join(p for p in parts if p)


def _call_text(call: object, where: str) -> str:
    if not isinstance(call, Mapping) or not isinstance(call.get("id"), str):
        raise ValidationError(f"{where} must be an object with an 'id' and a 'function'")
    if "function" in call:
        return _function_text(call["function"], f"{where}.function")
    return " ".join(_strings(call)) or str(call.get("type", "tool call"))


def _function_text(function: object, where: str) -> str:
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise ValidationError(f"{where} must be an object with a string 'name' and 'arguments'")
    arguments = function.get("arguments", "")
    if not isinstance(arguments, str):
        raise ValidationError(f"{where}.arguments must be a string (JSON, as the model wrote it)")
    return call_text(function["name"], arguments)


def call_text(name: str, arguments: str) -> str:
    """A tool call as a person reads it: ``get_weather(city: Paris, days: 3)``."""
    try:
        parsed = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return f"{name}({arguments})"
    if isinstance(parsed, dict):
        shown = ", ".join(f"{key}: {_plain(value)}" for key, value in parsed.items())
    else:
        shown = _plain(parsed)
    return f"{name}({shown})"


def _plain(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _content_text(content: object, where: str) -> str:
    """The text of a content: a string, or the parts' texts one per line."""
    if isinstance(content, str) or content is None:
        return content or ""
    if not isinstance(content, list):
        raise ValidationError(f"{where} must be a string or a list of parts, not {type(content).__name__}")
    lines = []
    for index, part in enumerate(content):
        if not isinstance(part, Mapping) or not isinstance(part.get("type"), str):
            raise ValidationError(f"{where}[{index}] must be an object with a 'type'")
        lines.append(_part_text(part))
    return "\n".join(line for line in lines if line)


def _part_text(part: Mapping[str, Any]) -> str:
    kind = part["type"]
    for key in ("text", "refusal", "transcript"):
        if isinstance(part.get(key), str):
            return str(part[key])
    if kind in ("file", "input_file"):
        file = part.get("file", part)
        name = file.get("filename") if isinstance(file, Mapping) else None
        return f"[file: {name}]" if name else "[file]"
    if "image" in kind:
        return "[image]"
    if "audio" in kind:
        return "[audio]"
    return f"[{kind}]"


def _item(item: Mapping[str, Any], kind: str, where: str) -> tuple[str, str]:
    """A Responses API item other than a message: who produced it and its searchable text."""
    if kind == "function_call":
        name, arguments = item.get("name"), item.get("arguments", "")
        if not isinstance(name, str) or not isinstance(arguments, str):
            raise ValidationError(f"{where}: a function_call needs a string 'name' and 'arguments'")
        return "assistant", call_text(name, arguments)
    if kind.endswith("_output"):
        output = item.get("output")
        text = output if isinstance(output, str) else _content_text(output, f"{where}.output") if isinstance(output, list) else ""
        return "tool", text or " ".join(_strings(item)) or f"[{kind}]"
    if kind == "reasoning":
        summary = item.get("summary")
        text = _content_text(summary, f"{where}.summary") if isinstance(summary, list) else ""
        return "assistant", text or "[reasoning]"
    return "assistant", " ".join(_strings(item)) or f"[{kind}]"


def _strings(value: object) -> list[str]:
    """The string values under the text-bearing keys of a nested object, in order."""
    found: list[str] = []
    if isinstance(value, Mapping):
        for key in _TEXT_KEYS:
            inner = value.get(key)
            if isinstance(inner, str):
                found.append(inner)
            elif inner is not None:
                found += _strings(inner)
        for key, inner in value.items():
            if key not in _TEXT_KEYS and isinstance(inner, (Mapping, list)):
                found += _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            found += [inner] if isinstance(inner, str) else _strings(inner)
    return found


def _check_size(kept: dict[str, Any], where: str) -> None:
    try:
        size = len(json.dumps(kept, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{where} is not JSON-serialisable: {exc}") from exc
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{where} is not valid UTF-8") from exc
    if size > MAX_CONTENT_BYTES:
        raise ValidationError(
            f"{where} is {size:,} bytes beyond its text; the limit is {MAX_CONTENT_BYTES:,} bytes per message"
        )


def message_of(role: str, content: str, name: str | None, metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The message a turn was given as (the inverse of :func:`describe`)."""
    kept = metadata.get(MESSAGE_KEY)
    if isinstance(kept, Mapping) and isinstance(kept.get("fields"), Mapping):
        message = dict(kept["fields"])
        if kept.get("content_is_text"):
            message["content"] = content
        return message
    message = {"role": role, "content": content}
    if name is not None:
        message["name"] = name
    return message
