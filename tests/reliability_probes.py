"""Cross-tenant probes: every store method, REST route and MCP tool, called as tenant A with B's ids.

Tenant B ("globex") stores a secret and facts for its user "alice"; tenant A ("acme") has its
own "alice". Each probe calls one method (route, tool) in A's scope, aimed at B's turn, fact and
episode ids, slots, embedding keys, sessions and links, and fails when anything of B's comes
back, when B's memory changed, or when the call errors. The tables are checked for
completeness against the protocol, the app's routes and the MCP server's tools, so a new one
cannot be left unprobed. Used by ``tests/test_reliability.py`` and ``benchmarks/reliability.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from engram import AsyncMemory, HashingEmbedder, Memory, SQLiteStore
from engram.auth import create_key
from engram.errors import StoreError
from engram.model import NewTurn, Scope, SearchFilters
from engram.model.keys import ApiKey
from engram.model.turn import content_hash
from engram.providers.embedder import text_key
from engram.read.query import query_terms
from engram.store.base import Store, UserScope
from engram.write.episodes import build_episode
from tests.agent_isolation_cases import AGENT_ECHOED, AGENT_INSPECTOR_CASES, agent_tool_cases

FUTURE = datetime(2200, 1, 1, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)
EVERYTHING = SearchFilters(include_archived=True)
A, B = "acme", "globex"
B_SECRET = "My bank PIN is 7391 and the vault word is quetzalcoatlus."
B_FACTS = "I live in Xanaduvia and my cat is called Zebulonix."
#: Words of B's that nothing returned to A may hold.
B_MARKERS = ("7391", "quetzalcoatlus", "Xanaduvia", "Zebulonix", "Gina", "b-secret", "b-only")


class Leak(Exception):
    """A probe saw B's data, or B's data changed."""


class _Rollback(Exception):
    pass


@dataclass
class StoreWorld:
    """One file, two tenants; everything a probe needs to aim at B."""

    path: Path
    store: SQLiteStore
    embedder: HashingEmbedder
    a: UserScope = field(default_factory=lambda: UserScope(A, "alice"))
    b: UserScope = field(default_factory=lambda: UserScope(B, "alice"))
    b_turns: list[Any] = field(default_factory=list)
    b_vectors: list[np.ndarray] = field(default_factory=list)
    b_fact_ids: list[str] = field(default_factory=list)
    b_slots: list[str] = field(default_factory=list)
    b_facts: list[Any] = field(default_factory=list)
    b_episode_ids: list[str] = field(default_factory=list)
    b_links: list[tuple[str, str, str, float]] = field(default_factory=list)
    a_turns: list[Any] = field(default_factory=list)

    @property
    def b_turn_ids(self) -> list[str]:
        return [t.id for t in self.b_turns]

    @property
    def b_ids(self) -> list[str]:
        return self.b_turn_ids + self.b_fact_ids + self.b_episode_ids

    def leaked(self, revealed: object) -> list[str]:
        """B's words and ids found in what a probe returned."""
        text = repr(revealed)
        return [marker for marker in (*B_MARKERS, *self.b_ids) if marker in text]

    def snapshot(self) -> str:
        """Everything of B's, for comparing before and after a probe."""
        store, scope = self.store, self.b
        stats = dataclasses.replace(store.stats(B), store_bytes=None)
        return repr(
            (
                [(t, v.tobytes() if v is not None else None) for t, v in store.iter_turns(B)],
                store.list_facts(scope, include_history=True, include_archived=True),
                store.list_episodes(scope, include_archived=True),
                store.list_links(scope),
                store.lifecycle_state(scope),
                [store.memory_states(kind, scope) for kind in ("turn", "episode", "fact")],
                stats,
                store.list_api_keys(B),
            )
        )


def build_store_world(path: Path) -> StoreWorld:
    """B's alice says a secret and facts (and consolidates: links); A's alice says something of her own."""
    path.parent.mkdir(parents=True, exist_ok=True)
    embedder = HashingEmbedder()
    store = SQLiteStore(path)
    b_mem = Memory(store=store, embedder=embedder, tenant=B)
    a_mem = Memory(store=store, embedder=embedder, tenant=A)
    b_mem.add(
        [{"role": "user", "content": B_SECRET, "name": "Gina"}, {"role": "assistant", "content": "Noted, kept safe."},
         {"role": "user", "content": B_FACTS, "name": "Gina"}],
        user_id="alice", session_id="b-secret", timestamp="2024-05-01T10:00:00Z",
    )
    b_mem.add("globex only, from b-only", user_id="gina", session_id="b-only", timestamp="2024-05-02T10:00:00Z")
    b_mem.consolidate(user_id="alice", decay=False)
    a_mem.add("acme launch plan. I work as a baker.", user_id="alice", session_id="a-public",
              timestamp="2024-05-03T10:00:00Z")
    create_key(store, A)
    create_key(store, B)
    world = StoreWorld(path, store, embedder)
    pairs = list(store.iter_turns(B, "alice"))
    world.b_turns = [t for t, _ in pairs]
    world.b_vectors = [v for _, v in pairs if v is not None]
    world.b_facts = store.list_facts(world.b, include_history=True, include_archived=True)
    world.b_fact_ids = [f.id for f in world.b_facts]
    world.b_slots = sorted({f.slot for f in world.b_facts})
    world.b_episode_ids = [e.id for e in store.list_episodes(world.b, include_archived=True)]
    world.b_links = store.list_links(world.b)
    world.a_turns = [t for t, _ in store.iter_turns(A, "alice")]
    assert world.b_fact_ids and world.b_episode_ids and world.b_links and len(world.b_vectors) == 3
    return world


# -- one probe per store method: returns what A got back, or raises Leak -----------------------


def _b_terms() -> list[str]:
    return query_terms(f"{B_SECRET} {B_FACTS}")


def _atomic(w: StoreWorld) -> object:
    try:
        with w.store.atomic():  # type: ignore[attr-defined]
            w.store.forget(w.a, ids=w.b_turn_ids)
            w.store.set_memory_flags("turn", w.a, w.b_turn_ids, pinned=True)
            raise _Rollback
    except _Rollback:
        pass
    return None


def _insert_turns(w: StoreWorld) -> object:
    """A's turn carrying B's turn id (an imported file can carry any id)."""
    content = "acme note under a borrowed id"
    turn = NewTurn(
        id=w.b_turn_ids[0], scope=Scope(A, "alice", None, "a-borrowed"), role="user", content=content,
        timestamp=NOW, content_hash=content_hash(content), name=None, metadata={},
    )
    vectors = w.embedder.embed([turn.embedding_text()])
    stored = w.store.insert_turns([turn], vectors, [text_key(turn.embedding_text())], NOW)
    if any(t.id in w.b_turn_ids for t, _ in stored):
        raise Leak("A's turn was reported under B's turn id")
    return stored


def _forget(w: StoreWorld) -> object:
    return [
        w.store.forget(w.a, session_id="b-secret", ids=w.b_turn_ids),
        w.store.forget(w.a, ids=w.b_turn_ids),
        w.store.forget(w.a, fact_ids=w.b_fact_ids),
    ]


def _stats(w: StoreWorld) -> object:
    stats = w.store.stats(A)
    own = sum(1 for _ in w.store.iter_turns(A))
    if stats.turns != own or stats.users != 1:
        raise Leak(f"A's stats count {stats.turns} turns of {stats.users} users; A has {own} of 1")
    return stats


def _text_count(w: StoreWorld) -> object:
    counted = w.store.text_count(w.a, _b_terms())
    if counted:
        raise Leak(f"A's text_count counts {counted} turns holding only B's words")
    return counted


def _put_episodes(w: StoreWorld) -> object:
    """An episode of A's own turns, under B's episode id."""
    turns, vectors = w.store.session_turns(w.a, "a-public")
    episode, centroid = build_episode(turns, vectors)
    episode = replace(episode, id=w.b_episode_ids[0])
    w.store.put_episodes(w.a, "a-public", [episode], np.stack([centroid]), NOW)
    return None


def _save_facts(w: StoreWorld) -> object:
    """B's version as it is (refused: another scope), then A's version under B's fact id."""
    try:
        w.store.save_facts(w.a, [w.b_facts[0]])  # type: ignore[call-arg]
    except StoreError:
        pass
    else:
        raise Leak("save_facts in A's scope accepted B's fact version")
    borrowed = replace(w.b_facts[0], tenant=A, statement="acme overwrote this", value="acme")
    with contextlib.suppress(StoreError):  # refused, or stored as A's: either way B's is untouched
        w.store.save_facts(w.a, [borrowed])  # type: ignore[call-arg]
    return None


def _each_kind(w: StoreWorld) -> list[tuple[str, list[str]]]:
    return [("turn", w.b_turn_ids), ("episode", w.b_episode_ids), ("fact", w.b_fact_ids)]


def _close(w: StoreWorld) -> object:
    w.store.close()
    w.store = SQLiteStore(w.path)  # B's memory is read back from the file
    return None


#: method name → probe. Order matters only for the last ones (they leave A's state odd, or close).
STORE_PROBES: dict[str, Callable[[StoreWorld], object]] = {
    "bind_embedder": lambda w: w.store.bind_embedder(w.embedder.model_id, w.embedder.dim),
    "atomic": _atomic,
    "get_turns": lambda w: [
        w.store.get_turns(w.a, w.b_turn_ids),
        w.store.get_turns(w.a, w.b_turn_ids, filters=EVERYTHING, until=FUTURE),  # type: ignore[call-arg]
    ],
    "cached_vectors": lambda w: w.store.cached_vectors(  # type: ignore[call-arg]
        w.a, [text_key(t.embedding_text()) for t in w.b_turns]
    ),
    "insert_turns": _insert_turns,
    "list_turns": lambda w: [w.store.list_turns(w.a, limit=1000),
                             w.store.list_turns(w.a, session_id="b-secret", limit=1000)],
    "recent_turns": lambda w: w.store.recent_turns(w.a, "b-secret", until=FUTURE, limit=100),
    "forget": _forget,
    "text_search": lambda w: w.store.text_search(w.a, _b_terms(), filters=EVERYTHING, until=FUTURE, limit=50),
    "vector_search": lambda w: [
        w.store.vector_search(w.a, v, filters=EVERYTHING, until=FUTURE, limit=50) for v in w.b_vectors
    ],
    "text_matches": lambda w: w.store.text_matches(w.a, _b_terms(), filters=EVERYTHING, until=FUTURE, limit=50),
    "vector_matches": lambda w: [
        w.store.vector_matches(w.a, v, filters=EVERYTHING, until=FUTURE, limit=50) for v in w.b_vectors
    ],
    "vector_scores": lambda w: w.store.vector_scores(w.a, w.b_turns, w.b_vectors[0]),
    "adjacent_turns": lambda w: [w.store.adjacent_turns(w.a, t, before=5, after=5) for t in w.b_turns],
    "speaker_names": lambda w: w.store.speaker_names(w.a),
    "text_count": _text_count,
    "iter_turns": lambda w: [list(w.store.iter_turns(A)), list(w.store.iter_turns(A, "alice"))],
    "list_users": lambda w: w.store.list_users(A, limit=1000),
    "list_sessions": lambda w: w.store.list_sessions(w.a, limit=1000),
    "stats": _stats,
    "session_turns": lambda w: w.store.session_turns(w.a, "b-secret")[0],
    "session_tail": lambda w: [*w.store.session_tail(w.a, "b-secret", episodes=5)[:2]],
    "put_episodes": _put_episodes,
    "list_episodes": lambda w: [
        w.store.list_episodes(w.a, ids=w.b_episode_ids, include_archived=True),
        w.store.list_episodes(w.a, session_id="b-secret", include_archived=True),
    ],
    "episode_text_search": lambda w: w.store.episode_text_search(w.a, _b_terms(), until=FUTURE, limit=50),
    "episode_vector_search": lambda w: [
        w.store.episode_vector_search(w.a, v, until=FUTURE, limit=50) for v in w.b_vectors
    ],
    "slot_versions": lambda w: list(w.store.slot_versions(w.a, w.b_slots).values()),  # type: ignore[call-arg]
    "save_facts": _save_facts,
    "list_facts": lambda w: [
        w.store.list_facts(w.a, ids=w.b_fact_ids, include_history=True, include_archived=True),
        w.store.list_facts(w.a, slots=w.b_slots, include_history=True, include_archived=True),
    ],
    "fact_text_search": lambda w: w.store.fact_text_search(w.a, _b_terms(), limit=50),
    "touch": lambda w: [w.store.touch(kind, w.a, ids, NOW) for kind, ids in _each_kind(w)],
    "set_memory_flags": lambda w: [
        w.store.set_memory_flags(kind, w.a, ids, pinned=True, archived_at=NOW) for kind, ids in _each_kind(w)
    ],
    "memory_states": lambda w: [w.store.memory_states(kind, w.a) for kind, _ in _each_kind(w)],
    "put_links": lambda w: w.store.put_links(w.a, [(s, d, k, 99.0) for s, d, k, _ in w.b_links], NOW),
    "strengthen_links": lambda w: [
        w.store.strengthen_links(w.a, [(s, d) for s, d, k2, _ in w.b_links if k2 == k], k, NOW)
        for k in {k for _, _, k, _ in w.b_links}
    ],
    "list_links": lambda w: [w.store.list_links(w.a), w.store.list_links(w.a, ids=w.b_ids)],
    "lifecycle_state": lambda w: w.store.lifecycle_state(w.a),
    "turns_after": lambda w: w.store.turns_after(w.a, 0, limit=100_000),
    "update_lifecycle_state": lambda w: w.store.update_lifecycle_state(w.a, processed_seq=10**9, llm_calls=5),
    # API keys are the server's, not a tenant's: a lookup by secret hash or key id is global by design.
    "put_api_key": lambda w: w.store.put_api_key(ApiKey("key_probe", A, None, "engram_pr", NOW, None), "0" * 64),
    "find_api_key": lambda w: w.store.find_api_key("f" * 64),
    "list_api_keys": lambda w: [k for k in w.store.list_api_keys(A) if k.tenant != A],
    "revoke_api_key": lambda w: w.store.revoke_api_key("key_no_such_key", NOW),
    "close": _close,
}


def protocol_methods() -> list[str]:
    """Every method of the store protocol (so a new one cannot be left without a probe)."""
    return [name for name, value in vars(Store).items() if inspect.isfunction(value) and not name.startswith("_")]


def probe_store(path: Path) -> list[dict[str, Any]]:
    """Run every store probe in one world; one result per protocol method."""
    world = build_store_world(path)
    results = []
    try:
        for name in protocol_methods():
            probe = STORE_PROBES.get(name)
            problem = None if probe is not None else "no probe for this method"
            if probe is not None:
                before = world.snapshot()
                try:
                    found = world.leaked(probe(world))
                    if found:
                        problem = f"returned B's {', '.join(found[:5])}"
                except Leak as exc:
                    problem = str(exc)
                except Exception as exc:
                    problem = f"error {type(exc).__name__}: {exc}"
                if problem is None and world.snapshot() != before:
                    problem = "changed B's memory"
            results.append({"method": name, "problem": problem})
    finally:
        world.store.close()
    return results


def existence_oracle(path: Path) -> int:
    """``AddResult.embedded`` when A adds B's exact text: 1 unless B's text answers A."""
    world = build_store_world(path)
    try:
        a_mem = Memory(store=world.store, embedder=world.embedder, tenant=A)
        guess = {"role": "user", "content": B_SECRET, "name": "Gina"}  # B's turn exactly, as A
        return a_mem.add(guess, user_id="alice", session_id="a-guess").embedded
    finally:
        world.store.close()


# -- routes and MCP tools ---------------------------------------------------------------------------


def app_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route of the app, through included routers and mounts (HEAD left out)."""

    def walk(routes: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router
                context = getattr(route, "include_context", None)
                yield from walk(route.original_router.routes, prefix + (getattr(context, "prefix", "") or ""))
            elif hasattr(route, "routes") and not hasattr(route, "methods"):  # a mount
                yield from walk(route.routes, prefix + getattr(route, "path", ""))
            else:
                for method in getattr(route, "methods", None) or ():
                    if method != "HEAD":
                        yield method, prefix + route.path

    return set(walk(list(app.routes), ""))


def _mcp(world: Any, method: str, params: dict[str, Any] | None = None) -> Any:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": method}
    if params is not None:
        body["params"] = params
    headers = world.as_a() | {"accept": "application/json, text/event-stream"}
    return world.client.post("/mcp", json=body, headers=headers)


#: Routes outside /v1 (the /v1 ones are test_server_security's ROUTE_CASES), called with A's key.
EXTRA_ROUTE_CASES: dict[tuple[str, str], Callable[[Any], Any]] = {
    ("GET", "/openapi.json"): lambda w: w.client.get("/openapi.json", headers=w.as_a()),
    ("GET", "/health"): lambda w: w.client.get("/health", headers=w.as_a()),
    ("GET", "/ready"): lambda w: w.client.get("/ready", headers=w.as_a()),
    ("GET", "/docs"): lambda w: w.client.get("/docs", headers=w.as_a()),
    ("GET", "/"): lambda w: w.client.get("/", headers=w.as_a()),
    ("GET", "/user"): lambda w: w.client.get("/user", headers=w.as_a(),
                                             params={"user_id": "alice", "session_id": "b-secret"}),
    ("GET", "/search"): lambda w: w.client.get("/search", headers=w.as_a(),
                                               params={"user_id": "alice", "q": "launch code 7741 where do I live"}),
    ("GET", "/login"): lambda w: w.client.get("/login"),
    ("POST", "/login"): lambda w: w.client.post(
        "/login", content=f"key={w.key_a}".encode(), follow_redirects=True,
        headers={"content-type": "application/x-www-form-urlencoded"}),
    ("POST", "/logout"): lambda w: w.client.post("/logout", headers=w.as_a()),
    ("POST", "/mcp"): lambda w: _mcp(w, "tools/list"),
    # GET /mcp opens a server-sent event stream and DELETE ends a session: in stateless mode
    # neither carries memory; the tools behind POST /mcp are probed one by one below.
    ("GET", "/mcp"): lambda w: None,
    ("DELETE", "/mcp"): lambda w: None,
    **AGENT_INSPECTOR_CASES,
}
#: What a request itself names, and may come back in its page (and "gina" of "pagination" in the docs).
ECHOED = {("GET", "/user"): ("b-secret",), ("GET", "/docs"): ("gina",), ("GET", "/openapi.json"): ("gina",), **AGENT_ECHOED}


def _tool_cases(w: Any) -> dict[str, dict[str, Any]]:
    """Arguments of each MCP tool, aimed at B's alice (remember last: it stores B's text as A's)."""
    return {
        "recall": {"user_id": "alice", "query": "launch code 7741 Zanzibar rocket", "k": 50},
        "context": {"user_id": "alice", "query": "launch code", "session_id": "b-secret"},
        "facts": {"user_id": "alice"},
        "profile": {"user_id": "alice"},
        "forget": {"user_id": "alice", "ids": w.b_memory_ids, "session_id": "b-secret"},
        "remember": {"user_id": "alice", "session_id": "b-secret", "content": "globex launch code is 7741"},
        # the reference memory server's knowledge-graph tools (engram.server.mcp_graph)
        # (A's own graph holds no marker of B's, so that a marker in any reply is a leak)
        "create_entities": {"user_id": "alice", "entities": [
            {"name": "alice", "entityType": "person", "observations": ["plays chess"]},
            {"name": "Lisbon", "entityType": "place", "observations": []},
        ]},
        "create_relations": {"user_id": "alice", "relations": [{"from": "alice", "to": "Lisbon", "relationType": "visits"}]},
        "add_observations": {"user_id": "alice", "observations": [{"entityName": "alice", "contents": ["likes tea"]}]},
        "search_nodes": {"user_id": "alice", "query": "launch code 7741 Zanzibar rocket b-secret"},
        "open_nodes": {"user_id": "alice", "names": ["alice", "Zanzibar"]},
        "read_graph": {"user_id": "alice"},
        "delete_observations": {"user_id": "alice", "deletions": [{"entityName": "alice", "observations": ["likes tea"]}]},
        "delete_relations": {"user_id": "alice", "relations": [{"from": "alice", "to": "Lisbon", "relationType": "visits"}]},
        "delete_entities": {"user_id": "alice", "entityNames": ["alice", "Lisbon"]},
        **agent_tool_cases(w),
    }


def _b_state(w: Any) -> object:
    turns = w.client.get("/v1/turns", headers=w.as_b(), params={"user_id": "alice"}).json()["items"]
    return [t["id"] for t in turns], w.b_lifecycle()


def probe_routes(workdir: Path) -> list[dict[str, Any]]:
    """Every route of the app, each in a fresh two-tenant server (tests/test_server_security.py's)."""
    from engram.server import create_app
    from tests.test_server_security import ROUTE_CASES, assert_clean, tenant_world

    workdir.mkdir(parents=True, exist_ok=True)
    listing = AsyncMemory(workdir / "routes.db", embedder=HashingEmbedder())
    try:
        routes = app_routes(create_app(listing, require_keys=True))
    finally:
        listing.sync.close()
    cases = {**ROUTE_CASES, **EXTRA_ROUTE_CASES}
    results = []
    for number, route in enumerate(sorted(routes)):
        case = cases.get(route)
        problem = None if case is not None else "no probe for this route"
        if case is not None:
            with tenant_world(workdir / f"route-{number}.db") as world:
                before = _b_state(world)
                try:
                    response = case(world)
                    if response is not None:
                        assert_clean(world, response, echoed=ECHOED.get(route, ()))
                        if route == ("POST", "/v1/turns") and response.json().get("embedded") != 1:
                            raise AssertionError(f"embedded={response.json().get('embedded')} for B's exact text")
                except AssertionError as exc:
                    problem = f"leak: {str(exc)[:200]}"
                except Exception as exc:
                    problem = f"error {type(exc).__name__}: {exc}"
                if problem is None and _b_state(world) != before:
                    problem = "changed B's memory"
        results.append({"route": f"{route[0]} {route[1]}", "problem": problem})
    return results


def probe_tools(workdir: Path) -> list[dict[str, Any]]:
    """Every MCP tool (as listed by the server), called over /mcp with A's key at B's alice."""
    from tests.test_server_security import MARKERS, tenant_world

    workdir.mkdir(parents=True, exist_ok=True)
    results = []
    with tenant_world(workdir / "tools.db") as world:
        listed = _mcp(world, "tools/list").json()["result"]["tools"]
        names = [tool["name"] for tool in listed]
        cases = _tool_cases(world)
        # creating the graph's entities comes first: the other graph tools need them
        for name in sorted(names, key=lambda n: (n == "remember", not n.startswith("create_"), n)):
            arguments = cases.get(name)
            problem = None if arguments is not None else "no probe for this tool"
            if arguments is not None:
                before = _b_state(world)
                reply = _mcp(world, "tools/call", {"name": name, "arguments": arguments})
                sent = json.dumps(arguments)
                found = [m for m in (*MARKERS, *world.b_memory_ids) if m in reply.text and m not in sent]
                body = reply.json() if reply.status_code < 500 else {}
                if reply.status_code >= 400 or "error" in body or body.get("result", {}).get("isError"):
                    found.append(f"failed with {reply.status_code}: {reply.text[:160]}")
                if name == "remember" and not found and body["result"]["structuredContent"]["added"] != 1:
                    found.append("B's text was not added as A's own")
                if found:
                    problem = f"leak: {', '.join(found[:5])}"
                elif _b_state(world) != before:
                    problem = "changed B's memory"
            results.append({"tool": name, "problem": problem})
    return results


def cross_tenant(workdir: Path) -> dict[str, Any]:
    """Every probe, with counts for the report."""
    workdir.mkdir(parents=True, exist_ok=True)
    methods = probe_store(workdir / "store.db")
    routes = probe_routes(workdir / "routes")
    tools = probe_tools(workdir / "tools")
    oracle = existence_oracle(workdir / "oracle.db")
    return {
        "methods_probed": len(methods),
        "method_failures": sum(1 for r in methods if r["problem"]),
        "routes_probed": len(routes),
        "route_failures": sum(1 for r in routes if r["problem"]),
        "tools_probed": len(tools),
        "tool_failures": sum(1 for r in tools if r["problem"]),
        "oracle": f"embedded={oracle} (1 expected)",
        "oracle_embedded": oracle,
        "failures": [r for r in methods + routes + tools if r["problem"]],
    }
