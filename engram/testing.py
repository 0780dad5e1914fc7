"""Public test helpers: deterministic stand-ins for the outside services Engram talks to.

Use them in your own tests; this module imports no test framework.

* :class:`ScriptedOpenAIServer` is a real HTTP server on the loopback interface that speaks
  ``POST /v1/chat/completions`` and ``POST /v1/embeddings`` with scripted replies, so tests run
  the real clients (their retries, fallbacks and parsing) offline.
* :class:`~engram.providers.llm.ScriptedLLM` is an in-process LLM that answers from a script.
* :class:`~engram.providers.hashing.HashingEmbedder` is a deterministic embedder.

Example:
    >>> from pydantic import BaseModel
    >>> from engram.providers.llm import OpenAICompatibleLLM
    >>> class Answer(BaseModel):
    ...     text: str
    >>> with ScriptedOpenAIServer(['{"text": "hi"}']) as server:
    ...     llm = OpenAICompatibleLLM("scripted", base_url=server.base_url)
    ...     llm.complete_json([{"role": "user", "content": "Say hi"}], Answer, name="answer").text
    'hi'
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from engram.providers.hashing import HashingEmbedder
from engram.providers.llm import LLMRequest, ScriptedLLM
from engram.providers.tokens import ApproximateCounter

__all__ = ["HashingEmbedder", "LLMRequest", "RecordedRequest", "ScriptedLLM", "ScriptedOpenAIServer"]

#: Chat replies: texts in order, or a function from the parsed request JSON to the reply text.
ChatScript = Sequence[str] | Callable[[dict[str, Any]], str]
#: Embeddings: a function from the input texts to one vector each.
EmbedScript = Callable[[list[str]], Sequence[Sequence[float]]]

_COUNTER = ApproximateCounter()


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received; header names are lower-cased (``authorization`` included)."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]


@dataclass(frozen=True)
class _Trouble:
    status: int | None  # None: answer normally, after the delay
    message: str
    retry_after: float | None = None
    delay: float = 0.0


@dataclass
class _State:
    chat: list[str] | Callable[[dict[str, Any]], str]
    embed: EmbedScript
    usage: bool
    reject_formats: set[str]
    requests: list[RecordedRequest] = field(default_factory=list)
    trouble: list[_Trouble] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out and hung up is part of the script: stay quiet."""


class ScriptedOpenAIServer:
    """An OpenAI-compatible server on ``127.0.0.1`` (a free port) that answers from a script.

    Args:
        chat: chat replies, in order, or a function from the request JSON to the reply text.
        embed: vectors for ``/v1/embeddings``; by default a :class:`HashingEmbedder` of
            ``embedding_dim`` dimensions.
        embedding_dim: the default embedder's vector size.
        usage: send a ``usage`` field (prompt tokens counted over the messages' contents with
            :class:`~engram.providers.tokens.ApproximateCounter`); ``False`` leaves it out.
        reject_response_format: ``response_format`` types (``"json_schema"``, ``"json_object"``)
            answered with HTTP 400 naming ``response_format``, as some local servers do.

    Attributes:
        requests: every request received, in order.
    """

    def __init__(
        self,
        chat: ChatScript = (),
        *,
        embed: EmbedScript | None = None,
        embedding_dim: int = 16,
        usage: bool = True,
        reject_response_format: Iterable[str] = (),
    ) -> None:
        if embed is None:
            embedder = HashingEmbedder(embedding_dim)

            def embed(texts: list[str]) -> Sequence[Sequence[float]]:
                return [[float(x) for x in row] for row in embedder.embed(texts)]

        self._state = _State(
            chat if callable(chat) else list(chat), embed, usage, set(reject_response_format)
        )
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self._state))
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in order (a copy)."""
        with self._state.lock:
            return list(self._state.requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat requests, in order."""
        return [r.body for r in self.requests if r.path.endswith("/chat/completions")]

    def queue(self, *replies: str) -> ScriptedOpenAIServer:
        """Add chat replies to the end of a scripted list (a script function cannot be extended)."""
        with self._state.lock:
            if callable(self._state.chat):
                raise TypeError("this server answers chat from a function; it has no list to extend")
            self._state.chat.extend(replies)
        return self

    def fail(
        self, times: int = 1, status: int = 500, *, retry_after: float | None = None, message: str = ""
    ) -> ScriptedOpenAIServer:
        """Answer the next ``times`` requests with ``status`` (and a ``Retry-After`` header if given)."""
        text = message or f"scripted failure with HTTP {status}"
        with self._state.lock:
            self._state.trouble += [_Trouble(status, text, retry_after)] * times
        return self

    def stall(self, times: int = 1, seconds: float = 1.0) -> ScriptedOpenAIServer:
        """Wait ``seconds`` before answering each of the next ``times`` requests (to test timeouts)."""
        with self._state.lock:
            self._state.trouble += [_Trouble(None, "", delay=seconds)] * times
        return self

    def start(self) -> ScriptedOpenAIServer:
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ScriptedOpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _respond(state: _State, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, JSON payload and extra headers for one request (already recorded)."""
    with state.lock:
        trouble = state.trouble.pop(0) if state.trouble else None
    answer = _answer(state, path, body, trouble)
    if trouble is not None and trouble.delay:
        time.sleep(trouble.delay)  # the reply is taken from the script first: arrival order decides
    return answer


def _answer(
    state: _State, path: str, body: dict[str, Any], trouble: _Trouble | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    if trouble is not None and trouble.status is not None:
        headers = {} if trouble.retry_after is None else {"Retry-After": f"{trouble.retry_after:g}"}
        return trouble.status, _error(trouble.message, "scripted_failure"), headers
    if path == "/v1/embeddings":
        return 200, _embeddings(state, body), {}
    if path != "/v1/chat/completions":
        return 404, _error(f"no route {path}", "not_found"), {}
    kind = (body.get("response_format") or {}).get("type")
    if kind in state.reject_formats:
        message = f"response_format type {kind!r} is not supported by this server"
        return 400, _error(message, "invalid_request_error"), {}
    with state.lock:
        script = state.chat
        if not callable(script):
            if not script:
                return 500, _error("ScriptedOpenAIServer has no chat reply left", "script_exhausted"), {}
            text = script.pop(0)
    if callable(script):
        text = script(body)
    payload: dict[str, Any] = {
        "id": f"chatcmpl-scripted-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
    }
    if state.usage:
        prompt = sum(_COUNTER.count(str(m.get("content") or "")) for m in body.get("messages") or [])
        completion = _COUNTER.count(text)
        payload["usage"] = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
    return 200, payload, {}


def _embeddings(state: _State, body: dict[str, Any]) -> dict[str, Any]:
    given = body.get("input") or []
    texts = [given] if isinstance(given, str) else [str(t) for t in given]
    vectors = state.embed(texts)
    tokens = sum(_COUNTER.count(t) for t in texts)
    return {
        "object": "list",
        "model": body.get("model", ""),
        "data": [{"object": "embedding", "index": i, "embedding": list(v)} for i, v in enumerate(vectors)],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _error(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _handler(state: _State) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, _error("the request body is not JSON", "invalid_request_error"), {})
                return
            path = self.path.rstrip("/")
            with state.lock:
                headers = {name.lower(): value for name, value in self.headers.items()}
                state.requests.append(RecordedRequest(path, body, headers))
            self._send(*_respond(state, path, body))

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    return Handler
