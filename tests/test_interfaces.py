"""The doors cannot drift: Memory/AsyncMemory signatures, and REST, MCP and CLI options derived
from the library's own option objects; plus what the server's doors do with settings and errors."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any, get_args

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient

from engram import AsyncMemory, HashingEmbedder, Memory, RetentionPolicy
from engram.auth import create_key
from engram.build import build_memory, close_memory
from engram.cli import cli
from engram.model import SearchFilters
from engram.model.options import CONTEXT, SEARCH, ContextOptions, SearchOptions, defaults
from engram.read.retrieve import DEFAULT_RECIPE, RECIPES
from engram.server import create_app
from engram.server.schemas import ContextIn, FiltersIn, SearchIn
from engram.settings import EngramSettings, LLMSettings
from engram.testing import ScriptedOpenAIServer

# -- Memory and AsyncMemory: the same public methods, parameters and defaults -------------------


def public_methods(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def test_every_public_memory_method_has_an_async_twin_with_the_same_signature() -> None:
    sync, aio = public_methods(Memory), public_methods(AsyncMemory)
    assert set(sync) == set(aio), f"only in Memory: {set(sync) - set(aio)}; only in AsyncMemory: {set(aio) - set(sync)}"
    for name, signature in sync.items():
        theirs = aio[name]
        mine = [(p.name, p.kind, p.default) for p in signature.parameters.values()]
        twin = [(p.name, p.kind, p.default) for p in theirs.parameters.values()]
        assert mine == twin, f"AsyncMemory.{name} differs from Memory.{name}: {twin} != {mine}"
        returns = [str(s.return_annotation).replace("builtins.", "") for s in (signature, theirs)]
        assert returns[1] in (returns[0], f"Async{returns[0]}"), name  # a run handle has an async twin
        assert inspect.iscoroutinefunction(getattr(AsyncMemory, name)) or name in ("close",), name


# -- the option objects hold Memory's defaults --------------------------------------------------


@pytest.mark.parametrize(("method", "options"), [(Memory.search, SearchOptions), (Memory.context, ContextOptions)])
def test_memory_defaults_are_the_option_objects(method: Any, options: Any) -> None:
    parameters = inspect.signature(method).parameters
    for name, value in defaults(options).items():
        assert name in parameters, f"{method.__name__} has no parameter {name}"
        assert parameters[name].default == value, f"{method.__name__}({name}=...) default differs"


def test_rest_models_take_their_defaults_and_recipes_from_the_options() -> None:
    for model, options in [(SearchIn, SEARCH), (ContextIn, CONTEXT)]:
        for field in fields(options):
            if field.name == "filters":
                continue  # a nested model, defaulting to None like the option
            assert field.name in model.model_fields, f"{model.__name__} lacks {field.name}"
            assert model.model_fields[field.name].default == getattr(options, field.name), field.name
    recipes = set(get_args(get_args(SearchIn.model_fields["config"].annotation)[0]))
    assert recipes == set(RECIPES)
    assert set(FiltersIn.model_fields) == {field.name for field in fields(SearchFilters)}


def test_mcp_tools_take_their_defaults_from_the_options() -> None:
    pytest.importorskip("mcp")
    from engram.server.mcp import build_server

    tools = {tool.name: tool for tool in asyncio.run(build_server(None).list_tools())}  # type: ignore[arg-type]
    assert tools["recall"].input_schema["properties"]["k"]["default"] == SEARCH.k
    assert tools["context"].input_schema["properties"]["budget_tokens"]["default"] == CONTEXT.budget_tokens


def test_cli_options_take_their_defaults_and_recipes_from_the_options() -> None:
    def option(command: str, name: str) -> Any:
        found = cli.get_command(None, command)  # type: ignore[arg-type]
        assert found is not None
        return next(p for p in found.params if p.name == name)

    assert option("search", "k").default == SEARCH.k
    assert option("context", "budget").default == CONTEXT.budget_tokens
    assert option("context", "excerpt_tokens").default == CONTEXT.excerpt_tokens
    for command in ("search", "context"):
        recipe = option(command, "recipe")
        assert list(recipe.type.choices) == list(RECIPES)
        assert f"else {DEFAULT_RECIPE})" in recipe.help and "hybrid BM25" not in recipe.help


# -- the REST door: recipes, filters, media types, hosts ------------------------------------------


@pytest.fixture
def amem(tmp_path: Path) -> Iterator[AsyncMemory]:
    memory = AsyncMemory(tmp_path / "doors.db", embedder=HashingEmbedder())
    yield memory
    memory.sync.close()


@pytest.fixture
def client(amem: AsyncMemory) -> Iterator[TestClient]:
    with TestClient(create_app(amem, require_keys=False, mcp=False, inspector=False)) as test_client:
        yield test_client


def remember(client: TestClient, text: str, session: str = "s1") -> str:
    body = {"user_id": "ana", "session_id": session, "messages": [{"role": "user", "content": text}]}
    response = client.post("/v1/turns", json=body)
    assert response.status_code == 200, response.text
    return str(response.json()["ids"][0])


def test_rest_accepts_every_recipe_and_the_archive_filter(client: TestClient, amem: AsyncMemory) -> None:
    turn_id = remember(client, "I keep bees on the roof")
    for recipe in RECIPES:
        found = client.post("/v1/search", json={"user_id": "ana", "query": "bees", "config": recipe})
        assert found.status_code == 200, (recipe, found.text)
        context = client.post("/v1/context", json={"user_id": "ana", "query": "bees", "config": recipe})
        assert context.status_code == 200, (recipe, context.text)
    asyncio.run(amem.archive([turn_id], user_id="ana"))
    hidden = client.post("/v1/search", json={"user_id": "ana", "query": "bees"}).json()["hits"]
    assert turn_id not in [hit["turn"]["id"] for hit in hidden]
    shown = client.post(
        "/v1/search", json={"user_id": "ana", "query": "bees", "filters": {"include_archived": True}}
    ).json()["hits"]
    assert turn_id in [hit["turn"]["id"] for hit in shown]


def test_rest_context_takes_every_library_option(client: TestClient) -> None:
    remember(client, "I keep bees on the roof")
    body = {
        "user_id": "ana",
        "query": "bees",
        "facts_share": 0.0,
        "include_profile": False,
        "expand": False,
        "reinforce": False,
    }
    response = client.post("/v1/context", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["facts"] == []


def test_an_import_sent_as_json_is_415(client: TestClient) -> None:
    response = client.post("/v1/import", content=b'{"format": "engram-jsonl"}\n', headers={"content-type": "application/json"})
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"


def test_a_wrong_host_gets_the_json_error_shape(amem: AsyncMemory) -> None:
    app = create_app(amem, require_keys=False, allowed_hosts=["127.0.0.1", "localhost"], mcp=False)
    with TestClient(app, base_url="http://attacker.example") as rebound:
        response = rebound.get("/v1/stats")
    assert response.status_code == 400 and response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == "invalid_host" and "attacker.example" in error["message"]


@pytest.mark.parametrize(
    ("error", "code", "advice"),
    [
        ("StoreBusyError", "store_busy", "retry"),
        ("StoreReadOnlyError", "store_read_only", "check the permissions"),
        ("StoreFullError", "store_full", "free disk space"),
        ("StoreNotFoundError", "store_not_found", "check --db / $ENGRAM_DB"),
    ],
)
def test_store_errors_are_503_with_a_next_step(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, error: str, code: str, advice: str
) -> None:
    import engram.errors as errors
    from engram.store.sqlite import SQLiteStore

    def fail(*_args: object, **_kwargs: object) -> None:
        raise getattr(errors, error)("the store said no")

    monkeypatch.setattr(SQLiteStore, "stats", fail)
    response = client.get("/v1/stats")
    assert response.status_code == 503
    body = response.json()["error"]
    assert body["code"] == code and "the store said no" in body["message"] and advice in body["message"]
    assert ("Retry-After" in response.headers) == (error == "StoreBusyError")


# -- settings reach the server: every tenant's memory has the LLM, retention and clock ---------------


def test_consolidate_over_rest_uses_the_configured_llm_in_every_tenant(tmp_path: Path) -> None:
    with ScriptedOpenAIServer(chat=lambda _request: '{"facts": []}') as llm_server:
        settings = EngramSettings(
            db=tmp_path / "served.db",
            embedder="hashing",
            llm=LLMSettings(base_url=llm_server.base_url, model="scripted"),
            retention=RetentionPolicy(base_days=11),
        )
        base = build_memory(settings)
        secret = create_key(base.store, "acme", "test")[1]
        app = create_app(AsyncMemory(memory=base), require_keys=True, mcp=False, inspector=False)
        headers = {"Authorization": f"Bearer {secret}"}
        with TestClient(app) as client:
            said = client.post(
                "/v1/turns",
                headers=headers,
                json={"user_id": "ana", "session_id": "s1", "messages": [{"role": "user", "content": "I keep bees"}]},
            )
            assert said.status_code == 200, said.text
            report = client.post("/v1/consolidate", headers=headers, json={"user_id": "ana"})
            assert report.status_code == 200, report.text
            tenant = asyncio.run(app.state.engram.tenants.memory("acme")).sync
        assert tenant.tenant == "acme" and tenant.llm is base.llm and tenant.retention_policy.base_days == 11
        assert tenant._clock is base._clock
        assert len(llm_server.chat_requests) >= 1 and report.json()["llm_calls"] >= 1
        close_memory(base)
