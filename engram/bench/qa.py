"""Question answering on top of retrieval: a reader answers from the context, a judge scores it.

Both talk to any OpenAI-compatible ``/chat/completions`` endpoint (OpenAI, vLLM, Ollama,
llama.cpp …) over ``httpx``, at temperature 0, with the benchmark's official prompts
(:mod:`engram.bench.prompts`). LoCoMo answers are also scored with LoCoMo's official token
F1 (:func:`engram.bench.metrics.locomo_f1`), which needs no judge.

Nothing here reads the environment: the CLI builds :class:`Endpoint` from its options.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from engram.bench.metrics import locomo_f1
from engram.bench.prompts import (
    LOCOMO_JUDGE,
    LOCOMO_READER,
    LONGMEMEVAL_JUDGE,
    LONGMEMEVAL_READER,
    fill,
    fill_positional,
)
from engram.errors import ProviderError, ValidationError, require
from engram.formats.dataset import Question

#: HTTP statuses worth a retry: rate limits and server trouble.
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
_LABEL = re.compile(r"\b(CORRECT|WRONG)\b")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An OpenAI-compatible chat endpoint.

    Attributes:
        base_url: e.g. ``https://api.openai.com/v1`` or ``http://127.0.0.1:8000/v1``.
        model: the model name the endpoint serves.
        api_key: sent as a bearer token when given; never written to a report.
        timeout: seconds per request.
        retries: attempts after the first on a rate limit, server error or lost connection.
    """

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 120.0
    retries: int = 4

    def describe(self) -> dict[str, Any]:
        """What a report may say about the endpoint (no key)."""
        return {"base_url": self.base_url, "model": self.model}


@dataclass(frozen=True, slots=True)
class Reply:
    """One completion: its text and the tokens it cost (prompt plus completion)."""

    text: str
    tokens: int


class ChatClient:
    """A minimal client of ``POST {base_url}/chat/completions``. Thread-safe."""

    def __init__(self, endpoint: Endpoint, *, backoff: float = 1.0) -> None:
        httpx = require("httpx", feature="benchmark question answering", extra="bench")
        self.endpoint = endpoint
        self._httpx = httpx
        self._backoff = backoff
        headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
        self._client = httpx.Client(
            base_url=endpoint.base_url.rstrip("/"), headers=headers, timeout=endpoint.timeout
        )

    def chat(self, prompt: str, *, max_tokens: int | None = None, json_mode: bool = False) -> Reply:
        """Send one user message; return the first choice's text.

        Raises:
            ProviderError: the endpoint failed after all retries, or answered nonsense.
        """
        body: dict[str, Any] = {
            "model": self.endpoint.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "n": 1,
        }
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if json_mode:
            body["response_format"] = {"type": "json_object"}
        for attempt in range(self.endpoint.retries + 1):
            try:
                response = self._client.post("/chat/completions", json=body)
            except self._httpx.TransportError as exc:
                problem = f"cannot reach {self.endpoint.base_url}: {exc}"
            else:
                if response.status_code < 400:
                    return _reply(response)
                problem = (
                    f"{self.endpoint.base_url} answered HTTP {response.status_code}: {response.text[:200]}"
                )
                if response.status_code not in _RETRY_STATUS:
                    break
            if attempt < self.endpoint.retries:
                time.sleep(self._backoff * 2**attempt)
        raise ProviderError(f"chat completion failed: {problem}")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _reply(response: Any) -> Reply:
    try:
        data = response.json()
        text = data["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ProviderError(f"the chat endpoint answered something that is not a completion: {exc}") from exc
    usage = data.get("usage") or {}
    tokens = usage.get("total_tokens") or (usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0))
    return Reply(str(text), int(tokens or 0))


def parse_locomo_label(text: str) -> bool:
    """The LoCoMo judge's verdict: the JSON ``label``, else the last CORRECT/WRONG said."""
    cleaned = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start != -1 and end > start:
        try:
            label = json.loads(cleaned[start : end + 1]).get("label")
            if isinstance(label, str):
                return label.strip().upper() == "CORRECT"
        except (json.JSONDecodeError, AttributeError):
            pass
    found = _LABEL.findall(text.upper())
    return bool(found) and found[-1] == "CORRECT"


def lme_date(question: Question) -> str:
    """The question date as LongMemEval writes it: ``2023/05/30 (Tue) 23:40``."""
    if question.question_date is None:
        return ""
    return question.question_date.strftime("%Y/%m/%d (%a) %H:%M")


class QAScorer:
    """Answers a question from a context and scores the answer the benchmark's way.

    Args:
        benchmark: ``"locomo"`` or ``"longmemeval"``.
        reader: the model that answers.
        judge: the model that grades (may be the same client).
        reader_max_tokens: the longest answer (chain of thought included).
    """

    def __init__(
        self, benchmark: str, reader: ChatClient, judge: ChatClient, *, reader_max_tokens: int = 512
    ) -> None:
        if benchmark not in ("locomo", "longmemeval"):
            raise ValidationError(f"unknown benchmark {benchmark!r}")
        self.benchmark = benchmark
        self.reader = reader
        self.judge = judge
        self.reader_max_tokens = reader_max_tokens

    def describe(self) -> dict[str, Any]:
        """The reader and judge, for the run's record."""
        return {
            "reader": self.reader.endpoint.describe(),
            "judge": self.judge.endpoint.describe(),
            "reader_max_tokens": self.reader_max_tokens,
            "prompts": "LongMemEval official" if self.benchmark == "longmemeval" else "Mem0 LoCoMo protocol",
        }

    def score(self, question: Question, context: str) -> dict[str, Any]:
        """Answer and grade one question.

        Returns:
            ``answer``, ``judge`` (1.0/0.0, None where the protocol does not judge),
            ``judge_reply``, ``f1`` (LoCoMo only), ``llm_calls`` and ``llm_tokens``.
        """
        if self.benchmark == "longmemeval":
            prompt = fill_positional(LONGMEMEVAL_READER, context, lme_date(question), question.question)
        else:
            prompt = fill(LOCOMO_READER, memories=context, question=question.question)
        answer = self.reader.chat(prompt, max_tokens=self.reader_max_tokens)
        calls, tokens = 1, answer.tokens
        verdict: float | None = None
        judged = ""
        f1: float | None = None
        if self.benchmark == "longmemeval":
            kind = "abstention" if question.abstention else question.category
            template = LONGMEMEVAL_JUDGE.get(kind)
            if template is None:
                raise ValidationError(f"no official judge prompt for question type {kind!r}")
            reply = self.judge.chat(
                fill_positional(template, question.question, question.answer, answer.text), max_tokens=10
            )
            verdict, judged = float("yes" in reply.text.lower()), reply.text
            calls, tokens = calls + 1, tokens + reply.tokens
        else:
            f1 = locomo_f1(answer.text, question.answer, question.category)
            if question.category in ("1", "2", "3", "4"):
                reply = self.judge.chat(
                    fill(
                        LOCOMO_JUDGE,
                        question=question.question,
                        gold_answer=question.answer,
                        generated_answer=answer.text,
                    ),
                    json_mode=True,
                )
                verdict, judged = float(parse_locomo_label(reply.text)), reply.text
                calls, tokens = calls + 1, tokens + reply.tokens
        return {
            "answer": answer.text,
            "judge": verdict,
            "judge_reply": judged,
            "f1": f1,
            "llm_calls": calls,
            "llm_tokens": tokens,
        }

    def close(self) -> None:
        """Close both clients."""
        self.reader.close()
        if self.judge is not self.reader:
            self.judge.close()
