"""Agent memory scenario benchmark (issue 14, item 6): runs, experience, lessons, world state.

    .venv/bin/python benchmarks/agent_memory.py                        # the ONNX embedder
    .venv/bin/python benchmarks/agent_memory.py --embedder hashing     # fast, deterministic
    .venv/bin/python benchmarks/agent_memory.py --out /tmp/agent.json

Everything is scripted and seeded, so every answer is known by construction:

* **Runs.** Six recurring tasks (flights, hotels, reports, plants, supplies, deploys), each with
  a trap: a tool call that fails for a reason (a city name where an airport code is needed, a
  table that was renamed, ...). Each task is run six times on different days with different
  parameters (36 runs): the first runs hit the trap and give up (``failure``) or hit it and
  recover (``success`` or ``partial``, teaching a lesson), later runs avoid it. Steps are
  tool calls with arguments and results, inside subgoals.
* **Experience questions.** For each task, a new goal worded differently from the past goals
  (new parameters, other words): the most useful past run is, by construction, a successful
  run of the same task. Precision@1 of ``experience()``; and the same with outcomes ignored
  (retrieval similarity alone), to show what weighting by outcome adds.
* **Failure questions.** "Which call of this task fails, and why?": answered when the agent's
  current lessons hold a lesson about that tool whose statement has the error, and when the
  experience text for the task shows it.
* **World questions.** A robot observes 8 objects moving among 10 places in a house (places
  inside places) over 60 observations. "Where was X at time T?" (``where(as_of=T)`` and
  ``context(reference_time=T)``), and "what was last seen in room R at time T?" (``seen_in``).
* **Working memory.** A 100-step run (10 subgoals of 10 tool calls): ``run_context`` tokens
  against the full trace's, at budgets 200, 400 and 800.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engram import HashingEmbedder, Memory
from engram.read.experience import rank_runs

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
USER, AGENT = "ops", "assistant"


@dataclass(frozen=True)
class Task:
    """A recurring task: how its goal is worded, its tool calls, and its trap."""

    name: str
    goals: tuple[str, ...]  # templates, filled with params
    params: tuple[dict[str, str], ...]
    trap_tool: str
    trap_args: dict[str, Any]
    trap_error: str
    fix_args: dict[str, Any]
    steps: tuple[tuple[str, str, dict[str, str]], ...]  # (subgoal, tool, args template) after the trapped call
    new_goals: tuple[str, ...]  # fresh wordings for the experience questions


TASKS = (
    Task(
        "flight",
        ("Book a flight from {a} to Paris", "Find and book a plane ticket {a} to Paris"),
        ({"a": "SFO"}, {"a": "JFK"}, {"a": "BOS"}, {"a": "SEA"}, {"a": "ORD"}, {"a": "LAX"}),
        "search_flights", {"to": "PAR"}, "unknown airport code PAR", {"to": "CDG"},
        (("book", "book_flight", {"flight": "AF{n}"}), ("book", "send_itinerary", {"to": "traveller"})),
        ("Get me on a plane to Paris next Tuesday from Denver", "Paris trip: I need flights out of Austin", "Book air travel from Miami to Paris in May"),
    ),
    Task(
        "hotel",
        ("Reserve a hotel room in {a} for three nights", "Book accommodation in {a}"),
        ({"a": "Lisbon"}, {"a": "Porto"}, {"a": "Madrid"}, {"a": "Seville"}, {"a": "Valencia"}, {"a": "Bilbao"}),
        "search_hotels", {"nights": 3}, "check-in date is required", {"nights": 3, "checkin": "2024-04-02"},
        (("reserve", "reserve_room", {"hotel": "H{n}"}), ("reserve", "email_confirmation", {"to": "guest"})),
        ("Need a hotel stay in Granada, two nights", "Find me a place to sleep in Malaga this weekend", "Book a room in Cordoba for the conference"),
    ),
    Task(
        "report",
        ("Send the weekly sales report to {a}", "Prepare sales figures for {a}"),
        ({"a": "Dana"}, {"a": "Lee"}, {"a": "Priya"}, {"a": "Omar"}, {"a": "Kim"}, {"a": "Ravi"}),
        "query_db", {"table": "sales_2023"}, "no such table sales_2023", {"table": "sales"},
        (("send", "render_chart", {"kind": "bar"}), ("send", "send_email", {"to": "{a}"})),
        ("Email this week's revenue numbers to the finance lead", "The board wants the weekly sales summary", "Share last week's sales figures with the CEO"),
    ),
    Task(
        "plants",
        ("Water the plants in the {a}", "Give the {a} plants some water"),
        ({"a": "lobby"}, {"a": "atrium"}, {"a": "lounge"}, {"a": "hallway"}, {"a": "studio"}, {"a": "patio"}),
        "water", {"ml": 900}, "tray overflow at 900 ml", {"ml": 300},
        (("water", "check_soil", {"spot": "pot {n}"}), ("water", "log_watering", {"done": "yes"})),
        ("The ferns near the reception desk look dry, please water them", "Water the office plants on the second floor", "The cactus in the kitchen needs watering"),
    ),
    Task(
        "supplies",
        ("Reorder printer paper for the {a} office", "Buy A4 paper for {a}"),
        ({"a": "Berlin"}, {"a": "Munich"}, {"a": "Hamburg"}, {"a": "Cologne"}, {"a": "Bremen"}, {"a": "Dresden"}),
        "order_item", {"item": "A4 paper 80g"}, "out of stock: A4 paper 80g", {"item": "A4 paper 75g"},
        (("order", "approve_purchase", {"budget": "office"}), ("order", "notify", {"team": "{a}"})),
        ("We are out of printing paper in the Leipzig office", "Order more copy paper for the Frankfurt team", "The printer in Stuttgart has no paper left"),
    ),
    Task(
        "deploy",
        ("Deploy the {a} service to production", "Release {a} to prod"),
        ({"a": "billing"}, {"a": "search"}, {"a": "auth"}, {"a": "gateway"}, {"a": "reports"}, {"a": "mailer"}),
        "deploy", {"env": "prod", "skip_tests": True}, "refused: tests must pass before a prod deploy",
        {"env": "prod", "skip_tests": False},
        (("release", "run_tests", {"suite": "{a}"}), ("release", "announce", {"channel": "#deploys"})),
        ("Ship the new invoices service version to production", "Roll out the latest payments build to prod", "Push the notifications service live"),
    ),
)
#: Per task, how each of its six runs goes: give up at the trap, recover from it, or avoid it.
PLAN = ("fail", "recover", "fail", "avoid", "recover", "avoid")


def _fill(args: dict[str, Any], params: dict[str, str], n: int) -> dict[str, Any]:
    return {k: (v.format(n=n, **params) if isinstance(v, str) else v) for k, v in args.items()}


def record_runs(memory: Memory, clock: list[datetime], asked_at: list[datetime]) -> dict[str, list[tuple[str, str]]]:
    """The 36 scripted runs, interleaved across tasks by day; returns (run id, outcome) per task and
    puts in ``asked_at`` the times after rounds 2, 4 and 6."""
    runs: dict[str, list[tuple[str, str]]] = {task.name: [] for task in TASKS}
    for round_ in range(6):
        if round_ in (2, 4):
            asked_at.append(clock[0] + timedelta(minutes=30))
        for task in TASKS:
            clock[0] += timedelta(hours=7)
            params = task.params[round_]
            goal = task.goals[(round_ // 2) % 2].format(**params)  # each wording in every kind of outcome
            run = memory.start_run(goal, user_id=USER, agent_id=AGENT, run_id=f"{task.name}-{round_}")
            plan = PLAN[round_]
            with run.subgoal(f"prepare {task.name}"):
                clock[0] += timedelta(minutes=1)
                if plan in ("fail", "recover"):
                    run.record(tool=task.trap_tool, args=task.trap_args, error=task.trap_error)
                if plan == "fail":
                    run.finish("failure", summary=f"gave up: {task.trap_error}")
                    runs[task.name].append((run.id, "failure"))
                    continue
                clock[0] += timedelta(minutes=1)
                run.record(tool=task.trap_tool, args=task.fix_args, result=f"{task.name} options for {goal}")
            for subgoal, tool, args in task.steps:
                with run.subgoal(subgoal):
                    clock[0] += timedelta(minutes=1)
                    run.record(tool=tool, args=_fill(args, params, round_ + 80), result="ok")
            outcome = "partial" if plan == "recover" and round_ == 4 else "success"
            run.finish(outcome, score=1.0 if outcome == "success" else 0.5, cost=0.01 * (round_ + 1))
            runs[task.name].append((run.id, outcome))
    return runs


def experience_questions(memory: Memory, runs: dict[str, list[tuple[str, str]]], asked_at: list[datetime]) -> dict[str, Any]:
    """Precision@1 of experience() for each task's new wordings, asked after rounds 2, 4 and 6 (``asked_at``)
    as of that time: the gold answers are the successful runs of the same task done by then. Also the
    same candidates ranked by retrieval similarity alone (outcomes ignored)."""
    hits = similarity_only = same_task = asked = 0
    rows = []
    for moment in asked_at:
        for task in TASKS:
            done = {run_id for run_id, outcome in runs[task.name] if outcome == "success"}
            for goal in task.new_goals:
                found = memory.experience(
                    goal, user_id=USER, agent_id=AGENT, budget_tokens=600, k=5, reference_time=moment
                )
                gold = {run_id for run_id in done if (memory.get_run(run_id, user_id=USER).finished_at or moment) < moment}
                top = found.runs[0].run.id if found.runs else None
                plain = rank_runs(
                    {r.run.id: r.similarity for r in found.runs}, {r.run.id: _as_success(r.run) for r in found.runs}
                )
                plain_top = plain[0].run.id if plain else None
                asked += 1
                hits += top in gold
                similarity_only += plain_top in gold
                same_task += bool(top and top.startswith(task.name + "-"))
                rows.append({"at": moment.isoformat(), "goal": goal, "top": top, "similarity_top": plain_top, "gold": sorted(gold)})
    return {
        "precision_at_1": round(hits / asked, 3),
        "precision_at_1_similarity_only": round(similarity_only / asked, 3),
        "same_task_at_1": round(same_task / asked, 3),
        "questions": asked,
        "misses": [row for row in rows if row["top"] not in row["gold"]],
    }


def _as_success(run: Any) -> Any:
    from dataclasses import replace

    return replace(run, outcome="success")


def failure_questions(memory: Memory) -> dict[str, Any]:
    """"Which call of this task fails, and why?": from lessons, and from the experience text."""
    lessons = memory.lessons(user_id=USER, agent_id=AGENT)
    by_lessons = by_experience = 0
    for task in TASKS:
        by_lessons += any(
            f.attribute.startswith(f"lesson:{task.trap_tool}(") and task.trap_error in f.statement for f in lessons
        )
        text = memory.experience(task.new_goals[0], user_id=USER, agent_id=AGENT, budget_tokens=600).text
        by_experience += task.trap_error in text and task.trap_tool in text
    return {
        "answered_by_lessons": by_lessons / len(TASKS),
        "answered_by_experience_text": by_experience / len(TASKS),
        "lessons": len(lessons),
        "lesson_mentions": sorted(f.mentions for f in lessons),
        "questions": len(TASKS),
    }


PLACES = {  # place -> the place containing it
    "kitchen": "house", "living room": "house", "office": "house", "garage": "house",
    "kitchen shelf": "kitchen", "sink": "kitchen", "sofa": "living room", "coffee table": "living room",
    "desk": "office", "drawer": "office",
}
OBJECTS = ("red mug", "blue cup", "keys", "phone", "laptop", "umbrella", "scissors", "wallet")
ROOMS = ("kitchen", "living room", "office", "garage")


def world_scenario(memory: Memory, clock: list[datetime], rng: random.Random) -> dict[str, Any]:
    """60 observations of 8 objects among nested places; where / seen-in / context questions."""
    for place, parent in PLACES.items():
        memory.observe(subject=place, value=parent, user_id=USER, when=START - timedelta(days=1))
    truth: dict[str, list[tuple[datetime, str]]] = {o: [] for o in OBJECTS}
    began = clock[0]
    robot = memory.start_run("Keep track of things around the house", user_id=USER, agent_id="robot", run_id="patrol")
    leaves = [p for p in PLACES if p not in ROOMS] + ["garage"]
    for _ in range(60):
        clock[0] += timedelta(hours=5)
        thing = rng.choice(OBJECTS)
        place = rng.choice([p for p in leaves if not truth[thing] or truth[thing][-1][1] != p])
        prep = "in" if place in ("sink", "drawer", "garage") else "on"
        robot.observe(f"The {thing} is {prep} the {place}", timestamp=clock[0])
        truth[thing].append((clock[0], place))
    robot.finish("success")

    def at(thing: str, moment: datetime) -> str | None:
        seen = [place for when, place in truth[thing] if when <= moment]
        return seen[-1] if seen else None

    moments = [began + timedelta(hours=5 * k + 2) for k in range(3, 62, 4)]
    where_ok = context_ok = asked = 0
    for moment in moments:
        for thing in OBJECTS:
            gold = at(thing, moment)
            if gold is None:
                continue
            asked += 1
            found = memory.where(thing, user_id=USER, as_of=moment)
            where_ok += bool(found.places) and found.places[0] == gold
            ctx = memory.context(
                f"Where is the {thing}?", user_id=USER, reference_time=moment, budget_tokens=300, reinforce=False
            )
            context_ok += f"the {thing} is" in ctx.text and _current_line(ctx.text, thing, gold)
    seen_ok = seen_asked = 0
    for moment in moments:
        for room in ROOMS:
            gold_set = {t for t in OBJECTS if (p := at(t, moment)) and (p == room or PLACES.get(p) == room)}
            got = {s.subject for s in memory.seen_in(room, user_id=USER, as_of=moment) if s.subject in OBJECTS}
            seen_asked += 1
            seen_ok += got == gold_set
    return {
        "observations": 60,
        "where_questions": asked,
        "answered_by_facts": where_ok / asked,
        "answered_by_context": context_ok / asked,
        "seen_in_questions": seen_asked,
        "seen_in_exact": seen_ok / seen_asked,
    }


def _current_line(text: str, thing: str, gold: str) -> bool:
    """The context states the object's place at the time asked as holding then (no 'until')."""
    for line in text.splitlines():
        if f"the {thing} is" in line and line.rstrip().endswith(")") and "until" not in line:
            return gold in line
    return False


def long_run(memory: Memory, clock: list[datetime]) -> dict[str, Any]:
    """A 100-step run: its working memory against its full trace at three budgets."""
    run = memory.start_run("Inventory every shelf of the warehouse", user_id=USER, agent_id="robot", run_id="inventory")
    for aisle in range(10):
        scope = run.subgoal(f"count aisle {aisle}")
        for shelf in range(10):
            clock[0] += timedelta(minutes=2)
            run.record(tool="scan_shelf", args={"aisle": aisle, "shelf": shelf}, result=f"{(aisle * 7 + shelf * 3) % 40} boxes of SKU-{aisle}{shelf}")
        if aisle < 9:
            scope.close("success")
    out: dict[str, Any] = {"steps": 100}
    for budget in (200, 400, 800):
        context = run.context(budget_tokens=budget)
        out[str(budget)] = {
            "tokens": context.tokens,
            "trace_tokens": context.trace_tokens,
            "ratio": round(context.tokens / context.trace_tokens, 3),
            "verbatim_steps": context.verbatim_steps,
            "summarised_subgoals": context.summarised,
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", choices=("onnx", "hashing"), default="onnx")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    clock = [START]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        embedder = HashingEmbedder() if args.embedder == "hashing" else None
        with Memory(Path(folder) / "agent.db", embedder=embedder, clock=lambda: clock[0]) as memory:
            asked_at: list[datetime] = []
            runs = record_runs(memory, clock, asked_at)
            clock[0] += timedelta(days=1)
            asked_at.append(clock[0])
            result = {
                "embedder": memory.embedder.model_id,
                "runs": sum(len(v) for v in runs.values()),
                "outcomes": {o: sum(outcome == o for v in runs.values() for _, outcome in v) for o in ("success", "partial", "failure")},
                "experience": experience_questions(memory, runs, asked_at),
                "failures": failure_questions(memory),
                "world": world_scenario(memory, clock, random.Random(args.seed)),
                "working_memory": long_run(memory, clock),
            }
    result["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(result, indent=2)
    if args.out:
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
