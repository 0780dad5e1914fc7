"""Language models over the OpenAI-compatible chat API (optional extra ``[openai]``); never on the hot path.

JSON replies are extracted (fences and prose stripped), validated with a pydantic model and, when
invalid, repaired by a turn quoting the error. :class:`OpenAICompatibleLLM` and the deterministic
fake :class:`ScriptedLLM` share that loop, so tests exercise the code that production runs.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

import pydantic

from engram.errors import ProviderError, ValidationError, require
from engram.providers.tokens import ApproximateCounter

if TYPE_CHECKING:
    import httpx

ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)
Structured = Literal["json_schema", "json_object", "none"]
Message = dict[str, str]
Script = Sequence[str] | Callable[[list[Message]], str]
_Schema = tuple[str, type[pydantic.BaseModel]] | None  # (name, model) for complete_json

_MODES: tuple[Structured, ...] = ("json_schema", "json_object", "none")
_RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
_FORMAT_WORDS = ("response_format", "response format", "json_schema", "json_object")
_MAX_WAIT = 60.0  # seconds: a longer Retry-After is capped, not obeyed
_FENCE = re.compile(r"```[\w-]*[ \t]*\n?(.*?)```", re.DOTALL)
_COUNTER = ApproximateCounter()


@dataclass
class LLMUsage:
    """What a model cost, counted (from the server's ``usage`` field where it sends one).

    Attributes:
        calls: completions received, repair turns included.
        prompt_tokens: prompt tokens of those completions.
        completion_tokens: completion tokens of those completions.
        failures: ``complete_*`` calls that ended in :class:`ProviderError`.
        retries: requests sent again: after a rate limit, server error or timeout, and repair turns.
    """

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: int = 0
    retries: int = 0


@runtime_checkable
class LLM(Protocol):
    """A chat model that answers text, or JSON validated against a pydantic model."""

    model_id: str
    usage: LLMUsage

    def complete_json(
        self,
        messages: Sequence[Mapping[str, str]],
        schema: type[ModelT],
        *,
        name: str,
        temperature: float = 0.0,
        max_tokens: int = 1024,
    ) -> ModelT:
        """An instance of ``schema`` parsed from the reply; raises :class:`ProviderError`."""
        ...

    def complete_text(
        self, messages: Sequence[Mapping[str, str]], *, temperature: float = 0.0, max_tokens: int = 512
    ) -> str:
        """The reply's text, stripped; raises :class:`ProviderError`."""
        ...


class ReplyError(ValueError):
    """A reply held no JSON, or JSON the schema rejects; the message is shown to the model."""


def parse_json_reply(text: str, schema: type[ModelT]) -> ModelT:
    """Validate the first JSON value in ``text`` (fences and prose around it ignored).

    Raises:
        ReplyError: no JSON found, or the schema rejects it.
    """
    text = text.strip()
    fenced = _FENCE.search(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value: Any = json.loads(text)
    except json.JSONDecodeError:
        value = _first_json_value(text)
    try:
        return schema.model_validate(value)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors(include_url=False)
        )
        raise ReplyError(f"the JSON does not match the schema: {problems}") from exc


def _first_json_value(text: str) -> Any:
    decoder = json.JSONDecoder()
    for start, char in enumerate(text):
        if char in "{[":
            try:
                return decoder.raw_decode(text, start)[0]
            except json.JSONDecodeError:
                continue
    raise ReplyError("the reply holds no valid JSON object")


def _repair_turn(reply: str, error: ReplyError, schema: type[pydantic.BaseModel]) -> list[Message]:
    # the schema is repeated because some servers ignore response_format without saying so
    fix = (
        f"Your reply was not valid: {error}. Reply again with only the corrected JSON, no prose and "
        f"no code fences. It must match this JSON schema: {json.dumps(schema.model_json_schema())}"
    )
    return [{"role": "assistant", "content": reply}, {"role": "user", "content": fix}]


class _ChatCore:
    """The I/O-free part shared by every LLM here: repair loop and usage counting."""

    model_id: str
    usage: LLMUsage
    max_retries: int
    _lock: threading.Lock

    def _chat(self, messages: list[Message], *, temperature: float, max_tokens: int, schema: _Schema) -> str:
        raise NotImplementedError

    def _describe(self) -> str:
        return f"model {self.model_id!r}"

    def _count(self, **increments: int) -> None:
        with self._lock:
            for field, amount in increments.items():
                setattr(self.usage, field, getattr(self.usage, field) + amount)

    def _count_reply(self, messages: Sequence[Message], reply: str, usage: Any = None) -> None:
        """Add one completion; tokens from the server's ``usage`` when given, else approximated."""
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            prompt, completion = usage["prompt_tokens"], int(usage.get("completion_tokens") or 0)
        else:
            prompt = sum(_COUNTER.count(m.get("content") or "") for m in messages)
            completion = _COUNTER.count(reply)
        self._count(calls=1, prompt_tokens=prompt, completion_tokens=completion)

    def complete_json(
        self,
        messages: Sequence[Mapping[str, str]],
        schema: type[ModelT],
        *,
        name: str,
        temperature: float = 0.0,
        max_tokens: int = 1024,
    ) -> ModelT:
        history = [dict(m) for m in messages]
        try:
            for attempt in range(self.max_retries + 1):
                if attempt:
                    self._count(retries=1)
                reply = self._chat(
                    history, temperature=temperature, max_tokens=max_tokens, schema=(name, schema)
                )
                try:
                    return parse_json_reply(reply, schema)
                except ReplyError as exc:
                    error = exc
                    history += _repair_turn(reply, exc, schema)
            raise ProviderError(
                f"{self._describe()} gave no valid {name!r} JSON in {self.max_retries + 1} attempts "
                f"(last problem: {error}). Check that the model can follow JSON instructions "
                "and that max_tokens leaves room for the whole reply."
            )
        except ProviderError:
            self._count(failures=1)
            raise

    def complete_text(
        self, messages: Sequence[Mapping[str, str]], *, temperature: float = 0.0, max_tokens: int = 512
    ) -> str:
        try:
            reply = self._chat(
                [dict(m) for m in messages], temperature=temperature, max_tokens=max_tokens, schema=None
            )
        except ProviderError:
            self._count(failures=1)
            raise
        return reply.strip()


class _FormatRejected(Exception):
    """The server answered 400 about ``response_format``."""


class OpenAICompatibleLLM(_ChatCore):
    """Calls ``POST {base_url}/chat/completions`` (OpenAI, vLLM, Ollama, llama.cpp, LM Studio …).

    Args:
        model: the model name the endpoint serves.
        base_url: e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8080/v1``.
        api_key: sent as a bearer token when given; never written into an error message.
        timeout: seconds per request.
        max_retries: resends after a rate limit, server error or timeout, and separately repair
            turns after a reply that is not valid JSON for the schema.
        structured: how to ask for JSON: a strict JSON schema, any JSON object, or only by
            instruction. A server that answers 400 about ``response_format`` makes the client
            step down to the next mode, once per mode, and remember it.
        backoff: the first wait before a resend, doubled each time; tests set 0. A server's
            ``Retry-After`` is honoured when longer (up to 60 s).
        sleep: how to wait; tests pass a recorder.
    """

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "https://api.openai.com/v1",
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        structured: Structured = "json_schema",
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if structured not in _MODES:
            raise ValidationError(f"structured must be one of {', '.join(_MODES)}, not {structured!r}")
        if max_retries < 0:
            raise ValidationError(f"max_retries must be 0 or more, not {max_retries}")
        self._httpx = require("httpx", feature="the OpenAI-compatible LLM", extra="openai")
        self.model = model
        self.model_id = f"openai:{model}"
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.structured: Structured = structured
        self.backoff = backoff
        self.usage = LLMUsage()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._api_key = api_key or None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client: httpx.Client = self._httpx.Client(
            base_url=self.base_url, headers=headers, timeout=timeout
        )

    @classmethod
    def from_env(cls, prefix: str = "ENGRAM_LLM") -> OpenAICompatibleLLM | None:
        """Build from ``{prefix}_BASE_URL``, ``{prefix}_MODEL`` and ``{prefix}_API_KEY``.

        Returns:
            ``None`` when the base URL or the model is unset (LLMs are optional).
        """
        base_url, model = os.environ.get(f"{prefix}_BASE_URL"), os.environ.get(f"{prefix}_MODEL")
        if not base_url or not model:
            return None
        return cls(model, base_url=base_url, api_key=os.environ.get(f"{prefix}_API_KEY") or None)

    def __repr__(self) -> str:
        return f"OpenAICompatibleLLM(model={self.model!r}, base_url={self.base_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> OpenAICompatibleLLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _describe(self) -> str:
        return f"model {self.model!r} at {self.base_url}"

    def _error(self, text: str) -> ProviderError:
        """An error whose message never holds the API key (a server may echo it back)."""
        return ProviderError(text.replace(self._api_key, "***") if self._api_key else text)

    def _chat(self, messages: list[Message], *, temperature: float, max_tokens: int, schema: _Schema) -> str:
        while True:
            mode: Structured = self.structured if schema else "none"
            body: dict[str, Any] = {
                "model": self.model,
                "messages": _with_schema_instruction(messages, schema, mode),
                "temperature": temperature,
                "max_tokens": max_tokens,
            }
            if schema and mode == "json_schema":
                name, model = schema
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": name, "schema": strict_schema(model), "strict": True},
                }
            elif schema and mode == "json_object":
                body["response_format"] = {"type": "json_object"}
            try:
                return self._post(body)
            except _FormatRejected:
                # only sent with a response_format, so mode is never "none" here
                with self._lock:
                    if self.structured == mode:  # another thread may have stepped down already
                        self.structured = _MODES[_MODES.index(mode) + 1]

    def _post(self, body: dict[str, Any]) -> str:
        """One completion, resent on rate limits, server errors and timeouts."""
        where = f"{self._describe()} (POST {self.base_url}/chat/completions)"
        for attempt in range(self.max_retries + 1):
            if attempt:
                self._count(retries=1)
            try:
                response = self._client.post("/chat/completions", json=body)
            except self._httpx.TimeoutException as exc:
                problem, wait = f"timed out: {exc}", 0.0
            except self._httpx.HTTPError as exc:
                hint = "Check the base URL and that the server is running."
                raise self._error(f"{where} failed: {exc}. {hint}") from exc
            else:
                if response.status_code < 300:
                    return self._read(response, body, where)
                detail = response.text[:500]
                status = response.status_code
                if status in (400, 422) and "response_format" in body and _about_format(detail):
                    raise _FormatRejected(detail)
                if status not in _RETRY_STATUS:
                    raise self._error(f"{where} answered HTTP {status}: {detail}. {_hint(status)}")
                problem, wait = f"HTTP {status}: {detail}", _retry_after(response.headers)
            if attempt < self.max_retries:
                self._sleep(min(_MAX_WAIT, max(wait, self.backoff * 2**attempt)))
        raise self._error(
            f"{where} failed after {self.max_retries + 1} attempts, last {problem}. "
            "Check that the server is up and not overloaded, or raise the timeout."
        )

    def _read(self, response: httpx.Response, body: dict[str, Any], where: str) -> str:
        try:
            payload = response.json()
            message = payload["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise self._error(
                f"{where} sent a reply that is not a chat completion ({exc!r}): {response.text[:300]}. "
                "Check that the base URL points at an OpenAI-compatible /v1 endpoint."
            ) from exc
        if message.get("refusal"):
            raise self._error(f"{where} refused: {message['refusal']}")
        content = message.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content)
        self._count_reply(body["messages"], content, payload.get("usage"))
        return content


def _with_schema_instruction(messages: list[Message], schema: _Schema, mode: Structured) -> list[Message]:
    """Without a strict schema in ``response_format``, the schema goes into the system prompt."""
    if schema is None or mode == "json_schema":
        return messages
    instruction = (
        f"Reply with only a JSON value (no prose, no code fences) matching this JSON schema "
        f"named {schema[0]!r}:\n{json.dumps(schema[1].model_json_schema())}"
    )
    if messages and messages[0].get("role") == "system":
        first = dict(messages[0], content=f"{messages[0].get('content', '')}\n\n{instruction}")
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


def strict_schema(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema as OpenAI's strict mode wants it.

    Every object forbids extra keys and lists all its properties as required (optional fields
    are then sent as ``null``); ``default`` keywords, which strict mode rejects, are dropped.
    """

    def fix(node: Any) -> Any:
        if isinstance(node, list):
            return [fix(item) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in ("properties", "$defs") and isinstance(value, dict):  # names, not keywords
                out[key] = {name: fix(sub) for name, sub in value.items()}
            elif key in ("enum", "const", "examples"):  # literal data
                out[key] = value
            elif key != "default":
                out[key] = fix(value)
        if out.get("type") == "object" and isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
            out.setdefault("additionalProperties", False)
        return out

    return dict(fix(model.model_json_schema()))


def _retry_after(headers: Mapping[str, str]) -> float:
    """Seconds a server asked to wait (``retry-after-ms``, or ``Retry-After`` in seconds or as a date)."""
    try:
        if "retry-after-ms" in headers:
            return float(headers["retry-after-ms"]) / 1000
        value = headers.get("retry-after", "0")
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (ValueError, TypeError):
        return 0.0


def _about_format(detail: str) -> bool:
    return any(word in detail.lower() for word in _FORMAT_WORDS)


def _hint(status: int) -> str:
    if status in (401, 403):
        return "Check the API key."
    if status == 404:
        return "Check the base URL (it usually ends in /v1) and the model name."
    return "Check the base URL, the model name and the request size."


@dataclass(frozen=True)
class LLMRequest:
    """One request a :class:`ScriptedLLM` answered.

    Attributes:
        messages: the conversation sent, repair turns included.
        schema_name: the ``name`` given to ``complete_json``; ``None`` for ``complete_text``.
        temperature: as asked.
        max_tokens: as asked.
    """

    messages: list[Message]
    schema_name: str | None
    temperature: float
    max_tokens: int


class ScriptedLLM(_ChatCore):
    """A deterministic LLM for tests: a public test helper, not a mock.

    It runs the same extraction, validation and repair loop as :class:`OpenAICompatibleLLM`
    and counts usage (tokens approximated with :class:`~engram.providers.tokens.ApproximateCounter`).

    Args:
        replies: the reply texts, in order, or a function from the messages to a reply.
        model_id: what :attr:`model_id` says.
        max_retries: repair turns after an invalid JSON reply.

    Attributes:
        requests: every request answered, in order.
    """

    def __init__(self, replies: Script, *, model_id: str = "scripted", max_retries: int = 3) -> None:
        self._script = replies if callable(replies) else list(replies)
        self.model_id = model_id
        self.max_retries = max(0, max_retries)
        self.usage = LLMUsage()
        self.requests: list[LLMRequest] = []
        self._lock = threading.Lock()

    def _chat(self, messages: list[Message], *, temperature: float, max_tokens: int, schema: _Schema) -> str:
        sent = [dict(m) for m in messages]
        script = self._script
        with self._lock:
            self.requests.append(LLMRequest(sent, schema[0] if schema else None, temperature, max_tokens))
            if not callable(script):
                if not script:
                    raise ProviderError(
                        f"ScriptedLLM {self.model_id!r} has no reply left for request "
                        f"#{len(self.requests)}: script more replies"
                    )
                reply = script.pop(0)
        if callable(script):
            reply = script(sent)
        self._count_reply(sent, reply)
        return reply
