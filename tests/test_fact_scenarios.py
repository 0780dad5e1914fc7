"""The fact scenario suite (:mod:`tests.fact_scenarios`), one test per case, through the public API.

Each case runs in its own in-memory store with the deterministic :class:`HashingEmbedder`:
its messages are added in order with their dates, then its checks ask ``facts(as_of=...)``,
``context(...)`` and, after ``consolidate()`` a year and more later, ``facts`` again (see the
data module for what each check means). :func:`run_case` is also what
``benchmarks/facts.py`` calls to report the pass rate per category.

Cases that fail on today's code are listed in :data:`KNOWN_FAILING` and marked
``xfail(strict=True)``: a case that starts passing turns the suite red until it is taken off
the list, so the list always says exactly what fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest

from engram import FactVersion, HashingEmbedder, Memory, SQLiteStore
from engram.model.timeutil import parse_timestamp
from tests.fact_scenarios import CASES, SLOTS, At, Case, Ctx, Hist

USER = "scenario-user"
#: How long after the last message ``consolidate()`` runs (decay then has had time to act).
CONSOLIDATE_AFTER = timedelta(days=400)

#: Cases failing on this branch's code; each is xfail(strict=True). Shrink it as fixes land.
KNOWN_FAILING: frozenset[str] = frozenset()

_NEGATIVE = re.compile(
    r"\b(?:dislikes?|hates?|detests?|not|no\s+longer|stopped|gone\s+off|lost\s+interest|cannot|can't|"
    r"gave\s+up|given\s+up|used\s+to|switched\s+(?:away\s+)?from|replaced)\b",
    re.I,
)
#: A fact that says its value is over ("retired teacher", "former employer") is not stale.
_PAST = re.compile(r"\b(?:former|formerly|retired|ex-|used\s+to|previously|no\s+longer|ended)\b", re.I)
_FACT_LINE = re.compile(r"^\s*\[F\d+\]")
_ENDED = re.compile(
    r"\d{4}-\d{2}-\d{2}\s*(?:to|until|–|—|-)\s*\d{4}-\d{2}-\d{2}|\buntil\b|\bno\s+longer\b|\bformerly\b"
    r"|\bused\s+to\b|\bpreviously\b|\bended\b|\bnot\s+any\s*more\b",
    re.I,
)


@dataclass
class CaseResult:
    """The outcome of one case: each check's description and whether it held."""

    case: Case
    checks: list[tuple[str, str, bool]] = field(default_factory=list)  # (kind, description, ok)

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{kind}: {text}" for kind, text, ok in self.checks if not ok]


class _Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment


def _when(text: str) -> datetime:
    """A check or message date; a bare date means noon UTC that day."""
    return parse_timestamp(f"{text}T12:00:00" if len(text) == 10 else text)


def _subjects(case: Case, subject: str | None) -> set[str]:
    who = subject or case.speaker
    return {who.casefold()} if who else {"user", USER.casefold()}


def _text(fact: FactVersion) -> str:
    return f"{fact.attribute} {fact.value} {fact.statement}".casefold()


def in_slot(fact: FactVersion, slot: str) -> bool:
    """Whether ``fact`` is of the checked ``slot`` (any accepted name; preferences by polarity)."""
    if slot == "*":
        return True
    attribute = fact.attribute.casefold()
    names = SLOTS[slot]
    if attribute not in names and attribute.split(":")[0] not in names:
        return False
    if slot in ("preference", "dislike"):
        negative = _NEGATIVE.search(f"{fact.value} {fact.statement}") is not None
        return negative if slot == "dislike" else not negative
    return True


def _describe(facts: list[FactVersion]) -> str:
    return "; ".join(f"{f.subject}.{f.attribute}={f.value!r}" for f in facts) or "no facts"


def _check_at(mem: Memory, case: Case, check: At, default_at: datetime) -> tuple[str, bool]:
    at = _when(check.at) if check.at else default_at
    mine = [
        f
        for f in mem.facts(user_id=USER, as_of=at)
        if f.subject.casefold() in _subjects(case, check.subject) and in_slot(f, check.slot)
    ]
    texts = [_text(f) for f in mine]
    missing = [v for v in check.has if not any(v.casefold() in t for t in texts)]
    stale = [v for v in check.lacks if any(v.casefold() in t and not _PAST.search(t) for t in texts)]
    ok = not missing and not stale and not (check.none and mine)
    want = ", ".join(
        part
        for part in (
            f"has {list(check.has)}" if check.has else "",
            f"lacks {list(check.lacks)}" if check.lacks else "",
            "no fact" if check.none else "",
        )
        if part
    )
    return f"as of {at:%Y-%m-%d} {check.slot}: want {want}; got {_describe(mine)}", ok


def _check_context(mem: Memory, check: Ctx) -> tuple[str, bool]:
    at = _when(check.at)
    result = mem.context(check.question, user_id=USER, reference_time=at, reinforce=False)
    lines = [line for line in result.text.splitlines() if _FACT_LINE.match(line)]
    stale = [
        line
        for line in lines
        if any(v.casefold() in line.casefold() for v in check.stale) and not _ENDED.search(line)
    ]
    off = [line for line in lines if any(v.casefold() in line.casefold() for v in check.off_topic)]
    ok = not stale and not off
    detail = f"stale as current {stale}" if stale else ""
    detail += f" off-topic {off}" if off else ""
    return f"context {check.question!r} at {check.at}: {detail or 'ok'}; facts {lines}", ok


def _check_history(mem: Memory, case: Case, check: Hist) -> list[tuple[str, bool]]:
    subjects = _subjects(case, None)
    out = []
    for label, facts in (
        (f"as of {check.at}", mem.facts(user_id=USER, as_of=_when(check.at))),
        ("include_history", mem.facts(user_id=USER, include_history=True)),
    ):
        mine = [f for f in facts if f.subject.casefold() in subjects and in_slot(f, check.slot)]
        ok = all(any(v.casefold() in _text(f) for f in mine) for v in check.has)
        out.append(
            (f"after consolidate, {label} {check.slot} has {list(check.has)}; got {_describe(mine)}", ok)
        )
    return out


def run_case(case: Case) -> CaseResult:
    """Run one scenario in a fresh in-memory store and evaluate every check."""
    dates = [_when(m.at) for m in case.messages]
    last = max(dates)
    clock = _Clock(last + timedelta(hours=1))
    result = CaseResult(case)
    with Memory(store=SQLiteStore(":memory:"), embedder=HashingEmbedder(), clock=clock) as mem:
        for index, (message, when) in enumerate(zip(case.messages, dates, strict=True)):
            body = {
                "role": message.role,
                "content": message.content,
                "timestamp": when + timedelta(seconds=index),
            }
            if message.name or (case.speaker and message.role == "user"):
                body["name"] = message.name or case.speaker
            mem.add([body], user_id=USER, session_id=f"s-{when:%Y-%m-%d}")
        default_at = last + timedelta(days=1)
        for check in case.checks:
            result.checks.append(("facts", *_check_at(mem, case, check, default_at)))
        for ctx in case.context:
            result.checks.append(("context", *_check_context(mem, ctx)))
        if case.history:
            clock.moment = last + CONSOLIDATE_AFTER
            mem.consolidate(user_id=USER)
            for hist in case.history:
                result.checks.extend(("history", text, ok) for text, ok in _check_history(mem, case, hist))
    return result


def _params() -> list[object]:
    known = pytest.mark.xfail(strict=True, reason="fails on this code (KNOWN_FAILING, issue 10)")
    return [
        pytest.param(case, id=case.name, marks=[known] if case.name in KNOWN_FAILING else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", _params())
def test_scenario(case: Case) -> None:
    result = run_case(case)
    assert result.passed, "\n".join(result.failures)


def test_suite_shape() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    assert len(CASES) >= 60
    assert set(names) >= KNOWN_FAILING, f"KNOWN_FAILING names no case: {sorted(KNOWN_FAILING - set(names))}"
    categories = {case.category for case in CASES}
    wanted = {"moves", "jobs", "pets", "possessions", "preferences", "relationships", "names", "negations",
              "hypotheticals", "questions", "plans", "others", "late", "asof"}  # fmt: skip
    assert wanted <= categories
    for case in CASES:
        for check in case.checks:
            assert check.slot == "*" or check.slot in SLOTS, (case.name, check.slot)
            assert check.has or check.lacks or check.none, case.name
