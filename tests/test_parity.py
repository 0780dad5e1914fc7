"""Memory and AsyncMemory are one implementation: the same scenario gives the same results."""

from __future__ import annotations

import asyncio
import io

from engram import AsyncMemory, HashingEmbedder, Memory
from tests.conftest import FixedClock

SESSIONS = {
    "s1": ["I grew up in Porto", "I play the cello on Sundays", "My sister Ana lives in Lyon"],
    "s2": ["Started a new job as a data engineer", "The office is near the river"],
}
QUERIES = ["cello", "where does my sister live", "new job"]


def scenario_sync(mem: Memory) -> list:
    out: list = []
    for session, texts in SESSIONS.items():
        r = mem.add(
            [{"role": "user", "content": t} for t in texts],
            user_id="u",
            session_id=session,
            timestamp="2024-01-01",
        )
        out.append((r.added, r.duplicates, [t.id for t in r.turns]))
    for q in QUERIES:
        out.append(
            [
                (h.turn.id, round(h.score, 9), dict(h.signals))
                for h in mem.search(q, user_id="u", explain=True)
            ]
        )
        ctx = mem.context(q, user_id="u", session_id="s2", budget_tokens=80)
        out.append((ctx.text, ctx.tokens, ctx.citations))
    page = mem.list(user_id="u", limit=2)
    out.append(([t.id for t in page], page.next_cursor))
    buf = io.StringIO()
    mem.export(buf)
    out.append(buf.getvalue().splitlines()[1:])
    out.append(mem.delete([out[0][2][0]], user_id="u").deleted_ids)
    out.append(mem.stats().turns)
    return out


async def scenario_async(mem: AsyncMemory) -> list:
    out: list = []
    for session, texts in SESSIONS.items():
        r = await mem.add(
            [{"role": "user", "content": t} for t in texts],
            user_id="u",
            session_id=session,
            timestamp="2024-01-01",
        )
        out.append((r.added, r.duplicates, [t.id for t in r.turns]))
    for q in QUERIES:
        result = await mem.search(q, user_id="u", explain=True)
        out.append([(h.turn.id, round(h.score, 9), dict(h.signals)) for h in result])
        ctx = await mem.context(q, user_id="u", session_id="s2", budget_tokens=80)
        out.append((ctx.text, ctx.tokens, ctx.citations))
    page = await mem.list(user_id="u", limit=2)
    out.append(([t.id for t in page], page.next_cursor))
    buf = io.StringIO()
    await mem.export(buf)
    out.append(buf.getvalue().splitlines()[1:])
    out.append((await mem.delete([out[0][2][0]], user_id="u")).deleted_ids)
    out.append((await mem.stats()).turns)
    return out


def test_sync_and_async_give_identical_results(tmp_path):
    clock = FixedClock()
    with Memory(tmp_path / "sync.db", embedder=HashingEmbedder(), clock=clock) as mem:
        expected = scenario_sync(mem)

    async def run() -> list:
        async with AsyncMemory(tmp_path / "async.db", embedder=HashingEmbedder(), clock=clock) as mem:
            return await scenario_async(mem)

    assert asyncio.run(run()) == expected


def test_async_calls_can_run_concurrently(tmp_path):
    async def run() -> int:
        async with AsyncMemory(tmp_path / "c.db", embedder=HashingEmbedder()) as mem:
            await asyncio.gather(
                *(
                    mem.add(f"note {i} about topic {i % 3}", user_id="u", session_id=f"s{i % 4}")
                    for i in range(40)
                )
            )
            results = await asyncio.gather(*(mem.search(f"topic {i}", user_id="u") for i in range(3)))
            assert all(len(r) == 10 for r in results)
            return (await mem.stats()).turns

    assert asyncio.run(run()) == 40
