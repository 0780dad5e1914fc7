"""EngramStore keeps LangGraph's BaseStore contract; EngramChatMessageHistory LangChain's."""

from __future__ import annotations

import asyncio
from typing import TypedDict

import pytest

pytest.importorskip("langgraph.store.base")
pytest.importorskip("langchain_core.chat_history")

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.store.base import BaseStore, InvalidNamespaceError, Item

from engram import AsyncMemory, HashingEmbedder, Memory
from engram.integrations.langchain import EngramChatMessageHistory
from engram.integrations.langgraph import EngramStore


@pytest.fixture
def memory(tmp_path):
    with Memory(tmp_path / "lg.db", embedder=HashingEmbedder()) as mem:
        yield mem


@pytest.fixture
def store(memory):
    return EngramStore(memory)


def test_put_then_get_and_overwrite_keep_the_creation_time(store):
    assert isinstance(store, BaseStore)
    store.put(("ana", "memories"), "diet", {"text": "Ana is vegetarian", "since": 2019})
    first = store.get(("ana", "memories"), "diet")
    assert isinstance(first, Item)
    assert (first.namespace, first.key, first.value) == (("ana", "memories"), "diet", {"text": "Ana is vegetarian", "since": 2019})
    store.put(("ana", "memories"), "diet", {"text": "Ana eats fish again"})
    second = store.get(("ana", "memories"), "diet")
    assert second.value == {"text": "Ana eats fish again"}
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    assert [i.key for i in store.search(("ana",))] == ["diet"]  # replaced, not added
    assert store.get(("ana", "memories"), "nope") is None
    assert store.get(("bob", "memories"), "diet") is None  # another user's namespace


def test_search_with_a_query_uses_engram_retrieval_within_the_prefix(store, memory):
    store.put(("ana", "memories"), "diet", {"text": "Ana is vegetarian and loves lentil soup", "kind": "food"})
    store.put(("ana", "memories"), "job", {"text": "Ana works as a nurse in Porto", "kind": "work"})
    store.put(("ana", "notes"), "n1", {"text": "soup recipe with lentils", "kind": "food"})
    store.put(("bob", "memories"), "diet", {"text": "Bob loves lentil soup", "kind": "food"})
    hits = store.search(("ana", "memories"), query="what soup does she like?")
    assert hits[0].key == "diet" and hits[0].score is not None and hits[0].score > 0
    assert {h.namespace for h in hits} == {("ana", "memories")}
    everywhere = store.search(("ana",), query="lentil soup", limit=10)
    assert {(h.namespace[1], h.key) for h in everywhere} >= {("memories", "diet"), ("notes", "n1")}
    assert all(h.namespace[0] == "ana" for h in everywhere)
    filtered = store.search(("ana",), query="lentil soup", filter={"kind": "work"})
    assert [h.key for h in filtered] == ["job"] or all(h.value["kind"] == "work" for h in filtered)
    assert store.search(("ana",), query="lentil soup", limit=1, offset=1)[0].key == everywhere[1].key
    # the items are ordinary turns: Engram's own search finds them too
    assert memory.search("nurse in Porto", user_id="ana").hits[0].turn.session_id == "langgraph.memories"


def test_search_without_a_query_lists_and_filters(store):
    for n in range(5):
        store.put(("ana", "scores"), f"k{n}", {"score": n, "tag": "even" if n % 2 == 0 else "odd"})
    listed = store.search(("ana", "scores"))
    assert [i.key for i in listed] == ["k4", "k3", "k2", "k1", "k0"]  # most recently updated first
    assert all(i.score is None for i in listed)
    assert [i.key for i in store.search(("ana",), filter={"score": {"$gte": 3}})] == ["k4", "k3"]
    assert [i.key for i in store.search(("ana",), filter={"tag": "odd", "score": {"$ne": 1}})] == ["k3"]
    assert [i.key for i in store.search(("ana",), limit=2, offset=1)] == ["k3", "k2"]
    with pytest.raises(ValueError, match="unsupported filter operator"):
        store.search(("ana",), filter={"score": {"$in": [1]}})


def test_delete_removes_the_item_everywhere(store, memory):
    store.put(("ana", "memories"), "diet", {"text": "Ana is vegetarian"})
    store.delete(("ana", "memories"), "diet")
    assert store.get(("ana", "memories"), "diet") is None
    assert store.search(("ana",), query="vegetarian") == []
    assert memory.stats(user_id="ana").turns == 0
    store.delete(("ana", "memories"), "diet")  # deleting what is gone is not an error


def test_list_namespaces_with_conditions_depth_and_pages(store):
    for namespace in [("ana", "memories"), ("ana", "memories", "work"), ("ana", "notes"), ("bob", "memories")]:
        store.put(namespace, "k", {"text": "x"})
    assert store.list_namespaces() == [
        ("ana", "memories"),
        ("ana", "memories", "work"),
        ("ana", "notes"),
        ("bob", "memories"),
    ]
    assert store.list_namespaces(prefix=("ana",)) == [("ana", "memories"), ("ana", "memories", "work"), ("ana", "notes")]
    assert store.list_namespaces(suffix=("memories",)) == [("ana", "memories"), ("bob", "memories")]
    assert store.list_namespaces(prefix=("*", "memories")) == [
        ("ana", "memories"),
        ("ana", "memories", "work"),
        ("bob", "memories"),
    ]
    assert store.list_namespaces(max_depth=1) == [("ana",), ("bob",)]
    assert store.list_namespaces(limit=2, offset=1) == [("ana", "memories", "work"), ("ana", "notes")]


def test_the_user_and_agent_can_sit_anywhere_in_the_namespace(memory):
    store = EngramStore(memory, user_label=1, agent_label=2)
    store.put(("memories", "ana", "planner"), "k", {"text": "Ana flies to Oslo in May"})
    assert store.get(("memories", "ana", "planner"), "k").value == {"text": "Ana flies to Oslo in May"}
    turn = memory.list(user_id="ana").items[0]
    assert (turn.scope.agent_id, turn.session_id) == ("planner", "langgraph.memories")
    assert store.list_namespaces() == [("memories", "ana", "planner")]
    assert store.search(("memories", "ana"), query="Oslo")[0].key == "k"
    with pytest.raises(InvalidNamespaceError, match="too short"):
        store.put(("memories",), "k", {"text": "x"})


def test_the_async_api_and_an_async_memory(tmp_path):
    async def main():
        store = EngramStore(AsyncMemory(tmp_path / "a.db", embedder=HashingEmbedder()))
        await store.aput(("ana", "m"), "k", {"text": "Ana plays the cello"})
        got = await store.aget(("ana", "m"), "k")
        hits = await store.asearch(("ana",), query="cello")
        spaces = await store.alist_namespaces()
        await store.adelete(("ana", "m"), "k")
        return got.value, [h.key for h in hits], spaces, await store.aget(("ana", "m"), "k")

    assert asyncio.run(main()) == ({"text": "Ana plays the cello"}, ["k"], [("ana", "m")], None)


def test_index_fields_choose_what_is_searchable(store, memory):
    store.put(("ana", "docs"), "a", {"title": "Trip", "body": "train to Vienna"}, index=["title"])
    store.put(("ana", "docs"), "b", {"title": "Secret", "body": "Vienna"}, index=False)
    assert [t.content for t in memory.list(user_id="ana").items] == ["Trip", "b"]
    assert [i.key for i in store.search(("ana",), query="Trip")] == ["a"]  # "b" is not indexed
    assert memory.search("Vienna", user_id="ana", config="bm25").hits == []  # nor is a's body
    assert {i.key for i in store.search(("ana",))} == {"a", "b"}  # both still listed


class State(TypedDict):
    user: str
    question: str
    answer: str


def test_a_langgraph_graph_uses_the_store(store):
    def remember(state: State, runtime: Runtime) -> dict:
        runtime.store.put((state["user"], "memories"), "diet", {"text": "Ana is vegetarian"})
        return {}

    def recall(state: State, runtime: Runtime) -> dict:
        hits = runtime.store.search((state["user"], "memories"), query=state["question"], limit=1)
        return {"answer": hits[0].value["text"]}

    graph = StateGraph(State)
    graph.add_node("remember", remember)
    graph.add_node("recall", recall)
    graph.add_edge(START, "remember")
    graph.add_edge("remember", "recall")
    graph.add_edge("recall", END)
    app = graph.compile(store=store)
    assert app.invoke({"user": "ana", "question": "what does Ana eat?"})["answer"] == "Ana is vegetarian"


# -- chat history -------------------------------------------------------------------------------

CHAT = [
    SystemMessage("You are a travel agent."),
    HumanMessage("Find me a hotel in Kyoto", id="h1", name="Ana"),
    AIMessage("", tool_calls=[{"name": "find_hotels", "args": {"city": "Kyoto"}, "id": "c1"}], response_metadata={"model": "m"}),
    ToolMessage("Hotel Sakura, 120 EUR", tool_call_id="c1"),
    AIMessage([{"type": "text", "text": "Hotel Sakura has a room."}], usage_metadata={"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}),
    HumanMessage("Thanks", name="Ana"),
    HumanMessage("Thanks", name="Ana"),  # said twice: two messages
]


def test_chat_history_gives_back_exactly_what_was_added(memory):
    history = EngramChatMessageHistory(memory, user_id="ana", session_id="trip")
    history.add_messages(CHAT[:3])
    history.add_messages(CHAT[3:6])
    history.add_message(CHAT[6])
    assert history.messages == CHAT
    assert EngramChatMessageHistory(memory, user_id="ana", session_id="trip").messages == CHAT
    hits = memory.search("hotel Kyoto", user_id="ana", k=3).hits
    assert any(h.turn.content == "find_hotels(city: Kyoto)" for h in hits)
    assert EngramChatMessageHistory(memory, user_id="ana", session_id="other").messages == []
    history.clear()
    assert history.messages == [] and memory.stats(user_id="ana").turns == 0


def test_chat_history_async_and_turns_added_directly(tmp_path):
    memory = AsyncMemory(tmp_path / "h.db", embedder=HashingEmbedder())
    history = EngramChatMessageHistory(memory, user_id="ana", session_id="s")

    async def main():
        await history.aadd_messages([HumanMessage("I moved to Lisbon")])
        await memory.add({"role": "assistant", "content": "Welcome!"}, user_id="ana", session_id="s")
        return await history.aget_messages()

    messages = asyncio.run(main())
    assert [type(m).__name__ for m in messages] == ["HumanMessage", "AIMessage"]
    assert messages[1].content == "Welcome!"
    asyncio.run(history.aclear())
    assert history.messages == []
