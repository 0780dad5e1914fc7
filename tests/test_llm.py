"""The LLM provider against a real loopback server (engram.testing.ScriptedOpenAIServer)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

from engram.errors import MissingDependencyError, ProviderError, ValidationError
from engram.providers.llm import LLM, LLMUsage, OpenAICompatibleLLM, parse_json_reply, strict_schema
from engram.providers.openai import OpenAIEmbedder
from engram.providers.tokens import ApproximateCounter
from engram.testing import HashingEmbedder, ScriptedLLM, ScriptedOpenAIServer

KEY = "sk-test-SECRET-0123456789"
ASK = [{"role": "system", "content": "You extract facts."}, {"role": "user", "content": "I live in Lyon."}]


class Fact(BaseModel):
    subject: str
    predicate: str
    object: str
    confidence: float = 1.0


class Facts(BaseModel):
    facts: list[Fact]


GOOD = '{"facts": [{"subject": "user", "predicate": "lives_in", "object": "Lyon", "confidence": 0.9}]}'


@pytest.fixture
def server() -> Iterator[ScriptedOpenAIServer]:
    with ScriptedOpenAIServer() as srv:
        yield srv


def make_llm(srv: ScriptedOpenAIServer, **kwargs: Any) -> OpenAICompatibleLLM:
    kwargs.setdefault("backoff", 0.0)
    return OpenAICompatibleLLM("tiny-model", base_url=srv.base_url, api_key=KEY, **kwargs)


def test_structured_reply_is_validated_and_the_schema_is_sent_strict() -> None:
    with ScriptedOpenAIServer([GOOD]) as srv, make_llm(srv) as llm:
        result = llm.complete_json(ASK, Facts, name="facts")
        assert isinstance(llm, LLM)
    assert result == Facts(facts=[Fact(subject="user", predicate="lives_in", object="Lyon", confidence=0.9)])
    (request,) = srv.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    body = request.body
    assert body["model"] == "tiny-model" and body["temperature"] == 0.0 and body["max_tokens"] == 1024
    assert body["messages"] == ASK  # json_schema mode leaves the conversation alone
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "facts" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == strict_schema(Facts)


def test_strict_schema_requires_every_property_and_forbids_extras() -> None:
    schema = strict_schema(Facts)
    fact = schema["$defs"]["Fact"]
    assert fact["required"] == ["subject", "predicate", "object", "confidence"]
    assert fact["additionalProperties"] is False and schema["additionalProperties"] is False
    assert "default" not in json.dumps(schema)


def test_strict_schema_keeps_fields_named_like_keywords() -> None:
    class Odd(BaseModel):
        default: str = "x"
        properties: list[str] = []
        type: str | None = None

    schema = strict_schema(Odd)
    assert list(schema["properties"]) == ["default", "properties", "type"] == schema["required"]
    assert "default" not in schema["properties"]["default"]
    assert parse_json_reply('{"default": "d", "properties": [], "type": null}', Odd).default == "d"


@pytest.mark.parametrize(
    "reply",
    [
        f"```json\n{GOOD}\n```",
        f"Sure! Here are the facts:\n\n{GOOD}\n\nLet me know if you need more.",
        f"Here you go:\n```\n{GOOD}\n```\nDone.",
        f"I think {{this}} is right: {GOOD}",  # a brace before the JSON that is not JSON
    ],
)
def test_fences_and_prose_are_stripped_without_a_repair_turn(
    server: ScriptedOpenAIServer, reply: str
) -> None:
    server.queue(reply)
    llm = make_llm(server)
    assert llm.complete_json(ASK, Facts, name="facts").facts[0].object == "Lyon"
    assert len(server.chat_requests) == 1 and llm.usage.retries == 0


def test_invalid_json_gets_a_repair_turn(server: ScriptedOpenAIServer) -> None:
    server.queue('{"facts": [{"subject": "user", "predicate": ', GOOD)
    llm = make_llm(server)
    assert llm.complete_json(ASK, Facts, name="facts").facts[0].subject == "user"
    first, second = server.chat_requests
    assert first["messages"] == ASK
    assert second["messages"][:2] == ASK
    assert second["messages"][2] == {
        "role": "assistant",
        "content": '{"facts": [{"subject": "user", "predicate": ',
    }
    repair = second["messages"][3]
    assert repair["role"] == "user"
    assert "no valid JSON" in repair["content"] and "only the corrected JSON" in repair["content"]
    assert llm.usage.calls == 2 and llm.usage.retries == 1 and llm.usage.failures == 0


def test_a_validation_error_is_quoted_in_the_repair_turn(server: ScriptedOpenAIServer) -> None:
    server.queue('{"facts": [{"subject": "user", "object": "Lyon"}]}', GOOD)
    llm = make_llm(server)
    assert llm.complete_json(ASK, Facts, name="facts").facts[0].predicate == "lives_in"
    repair = server.chat_requests[1]["messages"][-1]["content"]
    assert "facts.0.predicate: Field required" in repair


def test_giving_up_names_model_and_url_but_never_the_key(server: ScriptedOpenAIServer) -> None:
    server.queue(*["not json at all"] * 10)
    llm = make_llm(server, max_retries=2)
    with pytest.raises(ProviderError) as caught:
        llm.complete_json(ASK, Facts, name="facts")
    message = str(caught.value)
    assert "tiny-model" in message and server.base_url in message and "3 attempts" in message
    assert KEY not in message and KEY not in repr(llm)
    assert len(server.chat_requests) == 3
    usage = llm.usage
    assert isinstance(usage, LLMUsage) and (usage.calls, usage.failures, usage.retries) == (3, 1, 2)


def test_a_key_echoed_by_the_server_is_redacted(server: ScriptedOpenAIServer) -> None:
    server.fail(1, 401, message=f"Incorrect API key provided: {KEY}")
    llm = make_llm(server)
    with pytest.raises(ProviderError) as caught:
        llm.complete_text(ASK)
    assert KEY not in str(caught.value) and "***" in str(caught.value)
    assert "Check the API key" in str(caught.value)
    assert len(server.requests) == 1  # 401 is not retried
    assert llm.usage.failures == 1


def test_rate_limit_with_retry_after_then_success(server: ScriptedOpenAIServer) -> None:
    server.queue("hello")
    server.fail(2, 429, retry_after=3)
    waits: list[float] = []
    llm = make_llm(server, sleep=waits.append)
    assert llm.complete_text(ASK) == "hello"
    assert waits == [3.0, 3.0]  # Retry-After wins over a zero backoff
    assert llm.usage.retries == 2 and llm.usage.calls == 1


def test_backoff_doubles_and_retry_after_is_capped(server: ScriptedOpenAIServer) -> None:
    server.queue("ok")
    server.fail(2, 503).fail(1, 429, retry_after=3600)
    waits: list[float] = []
    llm = make_llm(server, backoff=0.5, sleep=waits.append)
    assert llm.complete_text(ASK) == "ok"
    assert waits == [0.5, 1.0, 60.0]


def test_server_errors_are_retried_then_reported(server: ScriptedOpenAIServer) -> None:
    server.fail(4, 500)
    llm = make_llm(server, max_retries=3)
    with pytest.raises(ProviderError, match=r"failed after 4 attempts, last HTTP 500") as caught:
        llm.complete_text(ASK)
    assert "tiny-model" in str(caught.value) and server.base_url in str(caught.value)
    assert len(server.requests) == 4 and llm.usage.retries == 3 and llm.usage.failures == 1


def test_a_timeout_is_retried(server: ScriptedOpenAIServer) -> None:
    server.queue("too late", "in time")
    server.stall(1, seconds=1.0)
    llm = make_llm(server, timeout=0.2)
    assert llm.complete_text(ASK) == "in time"
    assert llm.usage.retries == 1


def test_an_unreachable_server_fails_at_once_with_a_hint() -> None:
    with ScriptedOpenAIServer() as srv:
        url = srv.base_url
    llm = OpenAICompatibleLLM("tiny-model", base_url=url, api_key=KEY, backoff=0.0)
    with pytest.raises(ProviderError, match="Check the base URL") as caught:
        llm.complete_text(ASK)
    assert KEY not in str(caught.value)


def test_falls_back_from_json_schema_to_json_object_and_remembers() -> None:
    with ScriptedOpenAIServer([GOOD, GOOD], reject_response_format=["json_schema"]) as srv:
        llm = make_llm(srv)
        assert llm.complete_json(ASK, Facts, name="facts").facts
        assert llm.structured == "json_object"
        assert llm.complete_json(ASK, Facts, name="facts").facts
    kinds = [r["response_format"]["type"] for r in srv.chat_requests]
    assert kinds == ["json_schema", "json_object", "json_object"]  # asked with a schema once only
    system = srv.chat_requests[1]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You extract facts.")
    assert '"predicate"' in system["content"]  # the schema moved into the prompt
    assert llm.usage.failures == 0


def test_falls_back_down_to_plain_instructions() -> None:
    with ScriptedOpenAIServer([GOOD], reject_response_format=["json_schema", "json_object"]) as srv:
        llm = make_llm(srv)
        assert llm.complete_json([{"role": "user", "content": "Lyon"}], Facts, name="facts").facts
    assert llm.structured == "none"
    last = srv.chat_requests[-1]
    assert "response_format" not in last
    assert last["messages"][0]["role"] == "system" and "JSON schema" in last["messages"][0]["content"]


def test_other_400s_are_not_a_fallback(server: ScriptedOpenAIServer) -> None:
    server.fail(1, 400, message="maximum context length exceeded")
    llm = make_llm(server)
    with pytest.raises(ProviderError, match=r"HTTP 400: .*maximum context length"):
        llm.complete_json(ASK, Facts, name="facts")
    assert llm.structured == "json_schema"


def test_usage_is_counted_from_the_server() -> None:
    with ScriptedOpenAIServer(["not json", GOOD]) as srv:
        llm = make_llm(srv)
        llm.complete_json(ASK, Facts, name="facts")
    # the server counts words with ApproximateCounter over what it received; recompute from the record
    counter = ApproximateCounter()
    prompt = sum(counter.count(m["content"]) for r in srv.chat_requests for m in r["messages"])
    assert llm.usage.prompt_tokens == prompt
    assert llm.usage.completion_tokens == counter.count("not json") + counter.count(GOOD)
    assert llm.usage.calls == 2


def test_usage_is_approximated_when_the_server_sends_none() -> None:
    with ScriptedOpenAIServer(["hello there"], usage=False) as srv:
        llm = make_llm(srv)
        assert llm.complete_text(ASK, max_tokens=7) == "hello there"
    assert srv.chat_requests[0]["max_tokens"] == 7
    assert llm.usage.calls == 1 and llm.usage.prompt_tokens > 0 and llm.usage.completion_tokens == 2


def test_not_a_chat_completion_is_a_provider_error(server: ScriptedOpenAIServer) -> None:
    llm = OpenAICompatibleLLM("tiny-model", base_url=server.base_url.removesuffix("/v1"), backoff=0.0)
    with pytest.raises(ProviderError, match=r"HTTP 404.*Check the base URL"):
        llm.complete_text(ASK)


def test_from_env(monkeypatch: pytest.MonkeyPatch, server: ScriptedOpenAIServer) -> None:
    for name in ("ENGRAM_LLM_BASE_URL", "ENGRAM_LLM_MODEL", "ENGRAM_LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    assert OpenAICompatibleLLM.from_env() is None
    monkeypatch.setenv("ENGRAM_LLM_BASE_URL", server.base_url)
    assert OpenAICompatibleLLM.from_env() is None  # the model is required too
    monkeypatch.setenv("ENGRAM_LLM_MODEL", "env-model")
    monkeypatch.setenv("ENGRAM_LLM_API_KEY", KEY)
    llm = OpenAICompatibleLLM.from_env()
    assert llm is not None and llm.model == "env-model" and llm.base_url == server.base_url
    server.queue("pong")
    assert llm.complete_text([{"role": "user", "content": "ping"}]) == "pong"
    assert server.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    monkeypatch.setenv("JUDGE_BASE_URL", server.base_url)
    monkeypatch.setenv("JUDGE_MODEL", "judge")
    judge = OpenAICompatibleLLM.from_env("JUDGE")
    assert judge is not None and judge.model == "judge" and "authorization" not in judge._client.headers


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ValidationError, match="structured"):
        OpenAICompatibleLLM("m", structured="xml")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="max_retries"):
        OpenAICompatibleLLM("m", max_retries=-1)


def test_missing_httpx_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(MissingDependencyError, match=r"engram-recall\[openai\]") as caught:
        OpenAICompatibleLLM("m")
    assert caught.value.module == "httpx"


def test_scripted_llm_replies_in_order_and_records() -> None:
    llm = ScriptedLLM(["not json", GOOD, "  plain text \n"], model_id="fake")
    assert isinstance(llm, LLM)
    assert llm.complete_json(ASK, Facts, name="facts", temperature=0.3).facts[0].object == "Lyon"
    assert llm.complete_text(ASK, max_tokens=9) == "plain text"
    first, repair, text = llm.requests
    assert first.messages == ASK and first.schema_name == "facts" and first.temperature == 0.3
    assert repair.messages[2] == {"role": "assistant", "content": "not json"}
    assert text.schema_name is None and text.max_tokens == 9
    assert llm.usage.calls == 3 and llm.usage.retries == 1 and llm.usage.prompt_tokens > 0
    with pytest.raises(ProviderError, match="no reply left"):
        llm.complete_text(ASK)
    assert llm.usage.failures == 1


def test_scripted_llm_with_a_function_and_giving_up() -> None:
    llm = ScriptedLLM(lambda messages: f"echo: {messages[-1]['content']}", max_retries=1)
    assert llm.complete_text([{"role": "user", "content": "hi"}]) == "echo: hi"
    with pytest.raises(ProviderError, match="model 'scripted' gave no valid 'facts' JSON in 2 attempts"):
        llm.complete_json(ASK, Facts, name="facts")
    assert len(llm.requests) == 3


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "no valid JSON"), ("[1, 2]", "does not match"), ('{"facts": "none"}', "facts: Input should be")],
)
def test_parse_json_reply_problems(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_json_reply(text, Facts)


def test_server_embeddings_serve_the_openai_embedder(server: ScriptedOpenAIServer) -> None:
    embedder = OpenAIEmbedder("e", 16, base_url=server.base_url, batch_size=2)
    vectors = embedder.embed(["alpha", "beta gamma", "alpha"])
    embedder.close()
    assert vectors.shape == (3, 16)
    np.testing.assert_allclose(vectors[0], vectors[2])
    np.testing.assert_allclose(vectors[0], HashingEmbedder(16).embed(["alpha"])[0], atol=1e-6)
    assert [r.body["input"] for r in server.requests] == [["alpha", "beta gamma"], ["alpha"]]
