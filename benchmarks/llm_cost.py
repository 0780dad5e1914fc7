"""What LLM extraction costs on the write path, counted on LoCoMo (issue 4's "at most one LLM
call per episode on average").

    .venv/bin/python benchmarks/llm_cost.py
    .venv/bin/python benchmarks/llm_cost.py --limit 2 --embedding-cache /tmp/embcache

Every conversation is added session by session through ``Memory.add`` with an LLM configured,
then consolidated once. The LLM is :class:`engram.ScriptedLLM`, which runs the same request,
validation and repair code as the OpenAI-compatible client but answers "no facts" at once: the
call counts are the real ones, the token counts are the prompts' (approximated), and no answer
quality is measured (there is no LLM endpoint here). Reported: LLM calls made by ``add`` (the
hot path: should be 0), calls per episode and per turn made by ``consolidate``, prompt tokens
per turn.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from engram import CachedEmbedder, Memory, OnnxEmbedder, ScriptedLLM
from engram.bench.embcache import DiskCachedEmbedder
from engram.formats import load_locomo

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"
NO_FACTS = '{"facts": []}'


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--limit", type=int, help="only the first N conversations")
    parser.add_argument("--embedding-cache", type=Path)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"error: {args.data} not found (the LoCoMo file of ../shared/data)", file=sys.stderr)
        return 2
    inner = OnnxEmbedder()
    embedder = CachedEmbedder(
        DiskCachedEmbedder(inner, args.embedding_cache) if args.embedding_cache else inner
    )
    totals = {"turns": 0, "episodes": 0, "add_calls": 0, "calls": 0, "prompt_tokens": 0, "completion_tokens": 0}
    started = time.perf_counter()
    for conversation in load_locomo(args.data).conversations[: args.limit]:
        llm = ScriptedLLM(lambda _messages: NO_FACTS)
        with tempfile.TemporaryDirectory() as workdir:
            memory = Memory(Path(workdir) / "cost.db", embedder=embedder, llm=llm)
            for session in conversation.sessions:
                memory.add(session.messages, user_id="u", session_id=session.id, timestamp=session.timestamp)
            totals["add_calls"] += len(llm.requests)
            report = memory.consolidate(user_id="u")
            totals["turns"] += report.turns_total
            totals["episodes"] += report.episodes_extracted
            totals["calls"] += report.llm_calls
            totals["prompt_tokens"] += report.llm_prompt_tokens
            totals["completion_tokens"] += report.llm_completion_tokens
            memory.close()
        print(
            f"{conversation.id}: {report.turns_total} turns, {report.episodes_extracted} episodes, "
            f"{report.llm_calls} LLM calls",
            flush=True,
        )
    summary = {
        **totals,
        "calls_per_episode": round(totals["calls"] / max(totals["episodes"], 1), 3),
        "calls_per_turn": round(totals["calls"] / max(totals["turns"], 1), 4),
        "prompt_tokens_per_turn": round(totals["prompt_tokens"] / max(totals["turns"], 1), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
