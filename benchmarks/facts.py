"""Fact-extraction benchmark: the scenario suite's pass rate, LoCoMo recall, and precision on
hand-labelled samples from LoCoMo, LongMemEval and BEAM.

    .venv/bin/python benchmarks/facts.py --data ../shared/data --out bench-out/facts.json
    .venv/bin/python benchmarks/facts.py --data ../shared/data --label-new > new.jsonl

1. **Scenarios** (``tests/fact_scenarios.py``): every case through the public API; pass rate per
   category, and per kind of check (facts as of a date, context, history after consolidate).
2. **LoCoMo** (``--data``: the data folder, or ``locomo10.json`` in it): each conversation is
   added session by session through ``Memory.add`` (one user per conversation, each speaker a
   named subject, as ``engram import locomo`` does) with the :class:`HashingEmbedder`; the
   extracted facts are every stored version (history and archived included), one item per
   (source turn, attribute, value).

   * **Recall of fact-stating turns**: LoCoMo's ``observation`` annotations name, per session
     and speaker, facts with their evidence turn. ``recall_any`` is the share of evidence turns
     from which at least one fact was extracted; ``recall_self`` is the user-facing variant:
     evidence turns spoken by the person the observation is about, from which a fact *about
     that speaker* was extracted. Also reported: the share of turns with a fact that are
     evidence turns (``fact_turns_in_evidence``).
   * **Cost**: facts per turn; the write path's time per turn (``Memory.add``, hashing
     embedder); the extractor alone (``engram.write.extract.extract_facts``) in µs per turn.
3. **Precision** (``--precision-data``, default every source found in the data folder): per
   source, the ``--sample`` items with the smallest seeded hash of their key (turn, attribute,
   value); the pools are described in ``fact_precision.py``. The key survives code changes, so
   labels in ``benchmarks/facts_labels.jsonl`` (rule: FACT_LABELLING.md) stay valid; sampled
   items without a label are counted and ``--label-new`` prints them as JSONL lines to fill in
   and append. Precision = correct / (correct + wrong), per source and pooled, with a Wilson
   95% interval; unsure is apart.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.fact_precision import (  # noqa: E402
    DATA_FILES,
    DEFAULT_SAMPLE,
    SOURCES,
    VERDICTS,
    Item,
    Pool,
    label_key,
    precision,
    read_labels,
    sample,
    template,
    user_pool,
)
from engram import HashingEmbedder, Memory, SQLiteStore  # noqa: E402
from engram.formats import load_locomo  # noqa: E402
from engram.formats.dataset import Conversation  # noqa: E402
from engram.formats.locomo import normalise_evidence  # noqa: E402
from engram.model.limits import MAX_BATCH_MESSAGES  # noqa: E402

__all__ = ["VERDICTS", "Item", "label_key", "read_labels", "sample", "template"]

LABELS = REPO / "benchmarks" / "facts_labels.jsonl"


# -- scenarios --------------------------------------------------------------------------------


def scenarios() -> dict[str, Any]:
    """Run the scenario suite; pass rates per category and per check kind."""
    from tests.fact_scenarios import CASES
    from tests.test_fact_scenarios import run_case

    started = time.perf_counter()
    cases: dict[str, list[bool]] = defaultdict(list)
    checks: dict[str, list[bool]] = defaultdict(list)
    failing = []
    for case in CASES:
        result = run_case(case)
        cases[case.category].append(result.passed)
        for kind, _, ok in result.checks:
            checks[kind].append(ok)
        if not result.passed:
            failing.append(case.name)
    every = [ok for oks in cases.values() for ok in oks]
    return {
        "cases": len(every),
        "passed": sum(every),
        "pass_rate": round(sum(every) / len(every), 4),
        "by_category": {k: {"cases": len(v), "passed": sum(v)} for k, v in sorted(cases.items())},
        "by_check": {k: {"checks": len(v), "passed": sum(v)} for k, v in sorted(checks.items())},
        "failing": failing,
        "seconds": round(time.perf_counter() - started, 2),
    }


# -- LoCoMo -----------------------------------------------------------------------------------


def _observations(
    raw: list[dict[str, Any]], turn_ids: dict[str, set[str]]
) -> dict[str, set[tuple[str, str]]]:
    """Per conversation, the (evidence turn, person the observation is about) pairs."""
    out: dict[str, set[tuple[str, str]]] = {}
    for record in raw:
        conv = record["sample_id"]
        pairs: set[tuple[str, str]] = set()
        for session in (record.get("observation") or {}).values():
            for person, facts in (session or {}).items():
                for fact in facts or []:
                    evidence = fact[1] if isinstance(fact, list) and len(fact) > 1 else None
                    entries = evidence if isinstance(evidence, list) else [evidence]
                    for dia_id in normalise_evidence([e for e in entries if e], turn_ids[conv]):
                        pairs.add((dia_id, person))
        out[conv] = pairs
    return out


def _ingest(conversation: Conversation) -> tuple[list[Item], dict[str, tuple[str, str]], float]:
    """Add one conversation; its fact items, its turns (dia_id -> speaker, text), seconds spent."""
    last = max(m["timestamp"] for s in conversation.sessions for m in s.messages if "timestamp" in m)
    moment = last + timedelta(days=1)
    turns: dict[str, tuple[str, str]] = {}
    by_id: dict[str, str] = {}
    seconds = 0.0
    with Memory(store=SQLiteStore(":memory:"), embedder=HashingEmbedder(), clock=lambda: moment) as mem:
        for session in conversation.sessions:
            for start in range(0, len(session.messages), MAX_BATCH_MESSAGES):
                chunk = session.messages[start : start + MAX_BATCH_MESSAGES]
                began = time.perf_counter()
                result = mem.add(
                    chunk, user_id=conversation.id, session_id=session.id, timestamp=session.timestamp
                )
                seconds += time.perf_counter() - began
                for turn in result.turns:
                    dia_id = str(turn.metadata.get("dia_id", turn.id))
                    by_id[turn.id] = dia_id
                    turns[dia_id] = (turn.name or "", turn.content)
        facts = mem.facts(user_id=conversation.id, include_history=True, include_archived=True)
    items = []
    for fact in facts:
        for turn_id in dict.fromkeys(fact.source_turn_ids):
            dia_id = by_id.get(turn_id)
            if dia_id is None:
                continue
            speaker, text = turns[dia_id]
            items.append(
                Item(
                    conversation.id,
                    dia_id,
                    speaker,
                    text,
                    fact.subject,
                    fact.attribute,
                    fact.value,
                    fact.statement,
                )
            )
    return items, turns, seconds


def _extractor_us(dataset_turns: list[tuple[str, str, Any]]) -> float | None:
    """The rule extractor alone, µs per turn (first call, which may load a model, excluded)."""
    try:
        from engram.write.extract import extract_facts
    except ImportError:
        return None
    if not dataset_turns:
        return None
    speaker, text, when = dataset_turns[0]
    extract_facts(text, speaker=speaker, role="user", timestamp=when)
    began = time.perf_counter()
    for speaker, text, when in dataset_turns:
        extract_facts(text, speaker=speaker, role="user", timestamp=when)
    return (time.perf_counter() - began) / len(dataset_turns) * 1e6


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def locomo(path: Path, *, limit: int | None) -> tuple[dict[str, Any], Pool]:
    """Import LoCoMo and measure recall and cost; also every fact item, as the precision pool."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    dataset = load_locomo(path)
    conversations = dataset.conversations[:limit] if limit else dataset.conversations
    turn_ids = {c.id: {m["id"] for s in c.sessions for m in s.messages} for c in dataset.conversations}
    observed = _observations(raw, turn_ids)
    items: list[Item] = []
    per_conv: dict[str, Any] = {}
    n_turns, write_seconds = 0, 0.0
    all_turns: list[tuple[str, str, Any]] = []
    for conversation in conversations:
        conv_items, turns, seconds = _ingest(conversation)
        items += conv_items
        n_turns += len(turns)
        write_seconds += seconds
        all_turns += [
            (m["name"], m["content"], m.get("timestamp")) for s in conversation.sessions for m in s.messages
        ]
        with_fact = {i.dia_id for i in conv_items}
        about_self = {i.dia_id for i in conv_items if i.subject.casefold() == i.speaker.casefold()}
        evidence = {dia_id for dia_id, _ in observed[conversation.id]}
        own = {
            d
            for d, person in observed[conversation.id]
            if turns.get(d, ("", ""))[0].casefold() == person.casefold()
        }
        per_conv[conversation.id] = {
            "turns": len(turns),
            "facts": len(conv_items),
            "evidence_turns": len(evidence),
            "recall_any": _ratio(len(evidence & with_fact), len(evidence)),
            "self_evidence_turns": len(own),
            "recall_self": _ratio(len(own & about_self), len(own)),
            "hits_any": len(evidence & with_fact),
            "hits_self": len(own & about_self),
            "turns_with_fact": len(with_fact),
            "fact_turns_in_evidence": len(with_fact & evidence),
        }
    total = {
        k: sum(v[k] for v in per_conv.values()) for k in next(iter(per_conv.values())) if "recall" not in k
    }
    extractor = _extractor_us(all_turns)
    report = {
        "conversations": len(per_conv),
        "turns": n_turns,
        "facts": len(items),
        "facts_per_turn": round(len(items) / n_turns, 4),
        "recall_any": _ratio(total["hits_any"], total["evidence_turns"]),
        "recall_self": _ratio(total["hits_self"], total["self_evidence_turns"]),
        "evidence_turns": total["evidence_turns"],
        "self_evidence_turns": total["self_evidence_turns"],
        "turns_with_fact": total["turns_with_fact"],
        "fact_turns_in_evidence": _ratio(total["fact_turns_in_evidence"], total["turns_with_fact"]),
        "write_us_per_turn": round(write_seconds / n_turns * 1e6, 1),
        "extract_us_per_turn": round(extractor, 1) if extractor is not None else None,
        "by_conversation": per_conv,
    }
    return report, Pool("locomo", items, n_turns, (extractor or 0.0) * n_turns / 1e6)


# -- output -----------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def show(report: dict[str, Any]) -> None:
    """Print the report's tables."""
    suite = report.get("scenarios")
    if suite:
        print(f"\nScenario suite: {suite['passed']}/{suite['cases']} cases pass ({_pct(suite['pass_rate'])})")
        print(f"{'category':<16}{'cases':>6}{'pass':>6}{'rate':>8}")
        for name, row in suite["by_category"].items():
            print(f"{name:<16}{row['cases']:>6}{row['passed']:>6}{_pct(row['passed'] / row['cases']):>8}")
        for name, row in suite["by_check"].items():
            print(
                f"  checks {name:<9}{row['checks']:>5}{row['passed']:>6}{_pct(row['passed'] / row['checks']):>8}"
            )
    data = report.get("locomo")
    if data:
        print(
            f"\nLoCoMo: {data['conversations']} conversations, {data['turns']} turns, {data['facts']} fact items"
        )
        print(f"{'conversation':<14}{'turns':>6}{'facts':>6}{'evid':>6}{'rec_any':>9}{'rec_self':>9}")
        for conv, row in data["by_conversation"].items():
            print(
                f"{conv:<14}{row['turns']:>6}{row['facts']:>6}{row['evidence_turns']:>6}"
                f"{_pct(row['recall_any']):>9}{_pct(row['recall_self']):>9}"
            )
        print(
            f"{'all':<14}{data['turns']:>6}{data['facts']:>6}{data['evidence_turns']:>6}"
            f"{_pct(data['recall_any']):>9}{_pct(data['recall_self']):>9}"
        )
        print(
            f"facts/turn {data['facts_per_turn']:.3f}; turns with a fact that are evidence turns "
            f"{_pct(data['fact_turns_in_evidence'])}; write path {data['write_us_per_turn']:.0f} µs/turn; "
            f"extractor {data['extract_us_per_turn']} µs/turn"
        )
    if report.get("precision"):
        show_precision(report["precision"])


def show_precision(result: dict[str, Any]) -> None:
    """Print the precision table: one row per source, then the pooled row."""
    print(f"\nPrecision (seed {result['seed']}; Wilson 95% interval)")
    print(
        f"{'source':<13}{'turns':>7}{'facts':>7}{'sample':>7}{'right':>6}{'wrong':>6}{'unsure':>7}"
        f"{'unlab':>6}{'precision':>10}  interval"
    )
    rows = [*result["by_source"].items(), ("pooled", result["pooled"])]
    for name, row in rows:
        interval = row["wilson95"]
        print(
            f"{name:<13}{row.get('turns', ''):>7}{row.get('facts', ''):>7}{row['sample']:>7}{row['correct']:>6}"
            f"{row['wrong']:>6}{row['unsure']:>7}{row['unlabelled']:>6}{_pct(row['precision']):>10}  "
            + (f"{interval[0]:.1%}-{interval[1]:.1%}" if interval else "-")
        )
    if result["pooled"]["unlabelled"]:
        print("label the unlabelled facts: --label-new")


def _sizes(text: str) -> dict[str, int]:
    """``--sample``: ``N`` for every source, or ``source=N,...`` over the defaults."""
    if text.isdigit():
        return dict.fromkeys(SOURCES, int(text))
    sizes = dict(DEFAULT_SAMPLE)
    for part in filter(None, text.split(",")):
        name, _, number = part.partition("=")
        if name.strip() not in SOURCES or not number.strip().isdigit():
            raise argparse.ArgumentTypeError(
                f"{part!r}: give N or source=N with a source of {', '.join(SOURCES)}"
            )
        sizes[name.strip()] = int(number)
    return sizes


def _sources(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SOURCES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown source {unknown or text!r}: choose from {', '.join(SOURCES)}"
        )
    return names


def data_paths(data: Path) -> dict[str, Path]:
    """Each source's path, from the data folder or from ``locomo10.json`` inside it."""
    folder = data if data.is_dir() else data.parent
    paths = {source: folder / name for source, name in DATA_FILES.items()}
    if not data.is_dir():
        paths["locomo"] = data
    return paths


def run_precision(
    paths: dict[str, Path],
    wanted: list[str] | None,
    *,
    sizes: dict[str, int],
    seed: int,
    labels_path: Path,
    locomo_pool: Pool | None,
) -> tuple[dict[str, Any], list[Item]]:
    """Build the pools of the wanted sources (default: every one whose data exists) and measure."""
    names = wanted or [s for s in SOURCES if paths[s].exists()]
    missing = [f"{s} ({paths[s]})" for s in names if not paths[s].exists()]
    if missing:
        raise SystemExit(f"no data for: {', '.join(missing)}")
    pools: dict[str, Pool] = {}
    for name in names:
        if name == "locomo":
            pools[name] = locomo_pool or locomo(paths[name], limit=None)[1]
        else:
            pools[name] = user_pool(name, paths[name])
    return precision(pools, sizes, read_labels(labels_path), seed)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        help="the data folder (../shared/data) or locomo10.json in it; omit for the scenarios only",
    )
    parser.add_argument("--out", type=Path, help="write the report as JSON here")
    parser.add_argument("--labels", type=Path, default=LABELS, help="the labels file (JSONL)")
    parser.add_argument(
        "--precision-data",
        type=_sources,
        help=f"precision sources, comma-separated, of {','.join(SOURCES)} (default: every one found)",
    )
    parser.add_argument(
        "--sample",
        type=_sizes,
        default=dict(DEFAULT_SAMPLE),
        help="precision sample per source: N, or source=N,... (default "
        + ",".join(f"{k}={v}" for k, v in DEFAULT_SAMPLE.items())
        + ")",
    )
    parser.add_argument("--seed", type=int, default=10, help="sampling seed (default 10)")
    parser.add_argument("--limit", type=int, help="LoCoMo recall: only the first N conversations")
    parser.add_argument("--no-scenarios", action="store_true", help="skip the scenario suite")
    parser.add_argument(
        "--label-new", action="store_true", help="print the sampled facts without a label as JSONL, then stop"
    )
    args = parser.parse_args(argv)
    if (args.label_new or args.precision_data) and not args.data:
        parser.error("--label-new and --precision-data need --data")
    report: dict[str, Any] = {}
    if not args.no_scenarios and not args.label_new:
        report["scenarios"] = scenarios()
    if args.data:
        if not args.data.exists():
            parser.error(f"--data {args.data} does not exist")
        paths = data_paths(args.data)
        pool = None
        if not args.label_new and paths["locomo"].exists():
            report["locomo"], pool = locomo(paths["locomo"], limit=args.limit)
        report["precision"], chosen = run_precision(
            paths,
            args.precision_data,
            sizes=args.sample,
            seed=args.seed,
            labels_path=args.labels,
            locomo_pool=pool,
        )
        if args.label_new:
            labels = read_labels(args.labels)
            for item in chosen:
                if item.key not in labels:
                    print(json.dumps(template(item), ensure_ascii=False))
            return 0
    show(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
