"""What one ``add`` costs as a session grows: milliseconds per add at turn 10, 100, 1,000, 2,000.

    .venv/bin/python benchmarks/session_growth.py                # HashingEmbedder, 2,000 turns
    .venv/bin/python benchmarks/session_growth.py --onnx         # also the local ONNX model
    .venv/bin/python benchmarks/session_growth.py --turns 1000 --json out.json

One user, one session, one message per ``Memory.add`` (an agent saving each turn as it is
said), a minute apart, in a fresh store. Each figure is the median of the adds in a window
around the named turn (turns n-4 .. n+5), so one slow fsync does not decide it. The write path
re-segments only the session's open tail (EM-LLM's event segmentation, see
``engram/write/absorb.py``): the cost of an add should not grow with the session. Timings on a
shared machine are noisy: compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engram import HashingEmbedder, Memory
from engram.providers.embedder import Embedder

TOPICS = (
    "I went hiking near the lake with Anna on Saturday and the trail was muddy.",
    "My new job at the bakery starts at five in the morning, which is brutal.",
    "We are planning a trip to Lisbon in May and need a cheap hotel near the river.",
    "The cat knocked my coffee over the laptop again, so I ordered a new keyboard.",
    "Can you suggest a vegetarian recipe with lentils and spinach for tonight?",
)
MARKS = (10, 100, 1000, 2000)
WINDOW = (4, 5)  # adds before and after a mark that its median is taken over


def run(embedder: Embedder, turns: int, path: Path) -> dict[int, float]:
    """Add ``turns`` messages to one session, one per call; median ms per add around each mark."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    timings: list[float] = []
    with Memory(path, embedder=embedder) as memory:
        memory.add("warm up the embedder", user_id="warm", session_id="w")
        for index in range(turns):
            text = f"{TOPICS[(index // 25) % len(TOPICS)]} (note {index})"
            role = "user" if index % 2 == 0 else "assistant"
            began = time.perf_counter()
            memory.add(
                [{"role": role, "content": text}],
                user_id="u",
                session_id="s",
                timestamp=start + timedelta(minutes=index),
            )
            timings.append((time.perf_counter() - began) * 1000)
    out: dict[int, float] = {}
    for mark in MARKS:
        if mark <= turns:
            window = timings[max(0, mark - 1 - WINDOW[0]) : mark + WINDOW[1]]
            out[mark] = round(statistics.median(window), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--onnx", action="store_true", help="also measure with the local ONNX model")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    embedders: list[tuple[str, Embedder]] = [("hashing", HashingEmbedder())]
    if args.onnx:
        from engram import OnnxEmbedder

        embedders.append(("onnx", OnnxEmbedder()))
    report: dict[str, dict[int, float]] = {}
    for name, embedder in embedders:
        with tempfile.TemporaryDirectory() as tmp:
            report[name] = run(embedder, args.turns, Path(tmp) / "growth.db")
        cells = "  ".join(f"turn {mark:>5,}: {ms:7.2f} ms" for mark, ms in report[name].items())
        print(f"{name:8} {cells}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
