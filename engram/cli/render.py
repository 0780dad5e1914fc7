"""How the CLI shows library results: JSON-ready dicts and readable tables. No I/O but echo."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import click

from engram.model import AddResult, ContextResult, DeleteReceipt, Hit, Page, SearchResult, Stats, Turn
from engram.model.episode import Episode
from engram.model.fact import FactVersion
from engram.model.profile import Profile
from engram.model.timeutil import iso, iso_or_none


def emit_json(value: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def note(message: str) -> None:
    """A remark for the human on stderr, so stdout stays clean for pipes."""
    click.echo(message, err=True)


def when(moment: datetime | None) -> str:
    """A short UTC date-time for tables."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


# -- JSON shapes ---------------------------------------------------------------------------


def turn_dict(turn: Turn) -> dict[str, Any]:
    """A turn as JSON: the fields of an Engram JSONL turn line, without the vector."""
    return {
        "id": turn.id,
        "tenant": turn.scope.tenant,
        "user_id": turn.scope.user_id,
        "agent_id": turn.scope.agent_id,
        "session_id": turn.scope.session_id,
        "role": turn.role,
        "name": turn.name,
        "content": turn.content,
        "timestamp": iso(turn.timestamp),
        "recorded_at": iso(turn.recorded_at),
        "metadata": dict(turn.metadata),
        "content_hash": turn.content_hash,
    }


def add_dict(result: AddResult) -> dict[str, Any]:
    return {
        "ids": [turn.id for turn in result.turns],
        "added": result.added,
        "duplicates": result.duplicates,
        "embedded": result.embedded,
        "elapsed_ms": round(result.elapsed_ms, 3),
        "facts_added": result.facts_added,
        "facts_superseded": result.facts_superseded,
        "facts_reinforced": result.facts_reinforced,
        "episodes": result.episodes,
        "turns": [turn_dict(turn) for turn in result.turns],
    }


def hit_dict(rank: int, hit: Hit) -> dict[str, Any]:
    return {"rank": rank, "score": hit.score, "signals": dict(hit.signals), "turn": turn_dict(hit.turn)}


def search_dict(result: SearchResult) -> dict[str, Any]:
    return {
        "query": result.query,
        "reference_time": iso(result.reference_time),
        "took_ms": round(result.took_ms, 3),
        "hits": [hit_dict(rank, hit) for rank, hit in enumerate(result.hits, start=1)],
        "left_out": [hit_dict(rank, hit) for rank, hit in enumerate(result.left_out, start=len(result) + 1)],
    }


def context_dict(result: ContextResult) -> dict[str, Any]:
    return {
        "text": result.text,
        "tokens": result.tokens,
        "budget_tokens": result.budget_tokens,
        "reference_time": iso(result.reference_time),
        "took_ms": round(result.took_ms, 3),
        "citations": result.citations,
        "items": [
            {
                "ref": item.ref,
                "section": item.section,
                "tokens": item.tokens,
                "score": item.score,
                "excerpt": item.excerpt,
                "turn": turn_dict(item.turn),
            }
            for item in result.items
        ],
        "facts": [{"ref": ref, **fact_dict(fact)} for ref, fact in result.facts],
        "left_out": [{"turn_id": turn.id, "reason": reason} for turn, reason in result.left_out],
    }


def fact_dict(fact: FactVersion) -> dict[str, Any]:
    """A fact version as JSON: what, about whom, when true, when learned, from which turns."""
    return {
        "id": fact.id,
        "subject": fact.subject,
        "attribute": fact.attribute,
        "value": fact.value,
        "statement": fact.statement,
        "kind": fact.kind,
        "valid_from": iso(fact.valid_from),
        "valid_to": iso_or_none(fact.valid_to),
        "recorded_at": iso(fact.recorded_at),
        "superseded_at": iso_or_none(fact.superseded_at),
        "superseded_by": fact.superseded_by,
        "current": fact.current,
        "confidence": fact.confidence,
        "mentions": fact.mentions,
        "source": fact.source,
        "source_turn_ids": list(fact.source_turn_ids),
        "pinned": fact.pinned,
        "archived_at": iso_or_none(fact.archived_at),
    }


def episode_dict(episode: Episode) -> dict[str, Any]:
    """An episode as JSON."""
    return {
        "id": episode.id,
        "session_id": episode.session_id,
        "start": iso(episode.start),
        "end": iso(episode.end),
        "turn_ids": list(episode.turn_ids),
        "summary": episode.summary,
        "keyphrases": list(episode.keyphrases),
        "entities": list(episode.entities),
        "visits": episode.visits,
        "last_visit": iso_or_none(episode.last_visit),
        "importance": episode.importance,
        "pinned": episode.pinned,
        "archived_at": iso_or_none(episode.archived_at),
    }


def profile_dict(profile: Profile) -> dict[str, Any]:
    """A profile as JSON: per person, per section, the current facts."""
    return {
        "user_id": profile.user_id,
        "as_of": iso(profile.as_of),
        "people": [
            {
                "subject": person.subject,
                "sections": {
                    name: [
                        {
                            "attribute": e.attribute,
                            "value": e.value,
                            "statement": e.statement,
                            "confidence": e.confidence,
                            "since": iso(e.since),
                            "fact_id": e.fact_id,
                            "source_turn_ids": list(e.source_turn_ids),
                        }
                        for e in entries
                    ]
                    for name, entries in person.sections.items()
                },
            }
            for person in profile.people
        ],
    }


def page_dict(page: Page) -> dict[str, Any]:
    return {"items": [turn_dict(turn) for turn in page.items], "next_cursor": page.next_cursor}


def receipt_dict(receipt: DeleteReceipt) -> dict[str, Any]:
    return {
        "deleted_ids": receipt.deleted_ids,
        "not_found_ids": receipt.not_found_ids,
        "removed_from": list(receipt.removed_from),
    }


def stats_dict(stats: Stats) -> dict[str, Any]:
    return {
        "turns": stats.turns,
        "users": stats.users,
        "sessions": stats.sessions,
        "first_timestamp": iso_or_none(stats.first_timestamp),
        "last_timestamp": iso_or_none(stats.last_timestamp),
        "store_bytes": stats.store_bytes,
        "embedding_model": stats.embedding_model,
        "path": stats.path,
        "by_role": dict(stats.by_role),
    }


# -- human output --------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print aligned columns; the last column is cut to fit the terminal width."""
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(headers[:-1])]
    lead = sum(widths) + 2 * len(widths)
    room = max(20, shutil.get_terminal_size((100, 24)).columns - lead)

    def line(cells: Sequence[str]) -> str:
        fixed = "".join(cell.ljust(width + 2) for cell, width in zip(cells, widths, strict=False))
        return fixed + clip(cells[-1], room)

    click.echo(click.style(line(headers), bold=True))
    for row in rows:
        click.echo(line(row))


def clip(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with an ellipsis when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: max(width - 1, 0)] + "…"


def turn_row(turn: Turn) -> list[str]:
    return [turn.id, when(turn.timestamp), turn.session_id, turn.speaker, turn.content]


TURN_HEADERS = ("id", "date", "session", "speaker", "text")


def show_add(result: AddResult) -> None:
    noun = "turn" if len(result.turns) == 1 else "turns"
    click.echo(
        f"{len(result.turns)} {noun}: {result.added} added, {result.duplicates} duplicate(s) "
        f"({result.elapsed_ms:.0f} ms)"
    )
    table(TURN_HEADERS, [turn_row(turn) for turn in result.turns])


def show_search(result: SearchResult, *, explain: bool) -> None:
    if not result.hits:
        note(f"no memories match {result.query!r} (as of {when(result.reference_time)})")
        return
    rows = [
        [
            str(rank),
            f"{hit.score:.4f}",
            when(hit.turn.timestamp),
            hit.turn.session_id,
            hit.turn.speaker,
            hit.turn.content,
        ]
        for rank, hit in enumerate(result.hits, start=1)
    ]
    table(("rank", "score", "date", "session", "speaker", "text"), rows)
    if explain:
        click.echo(click.style("signals", bold=True))
        for rank, hit in enumerate(result.hits, start=1):
            signals = "  ".join(_signal(key, value) for key, value in hit.signals.items())
            click.echo(f"{rank:<6}{hit.turn.id}  {signals}")
        note(f"{len(result.left_out)} more candidate(s) below the cut (see --json)")
    note(f"{len(result.hits)} hit(s) in {result.took_ms:.0f} ms, as of {when(result.reference_time)}")


def _signal(key: str, value: float) -> str:
    return f"{key}={value:g}" if key.endswith("_rank") else f"{key}={value:.4f}"


def show_context(result: ContextResult) -> None:
    click.echo(result.text)
    note(
        f"[{result.tokens}/{result.budget_tokens} tokens, {len(result.items)} item(s), "
        f"{len(result.left_out)} left out, {result.took_ms:.0f} ms]"
    )


def show_turn(turn: Turn) -> None:
    for key, value in turn_dict(turn).items():
        if key == "metadata":
            value = json.dumps(value, ensure_ascii=False)
        click.echo(f"{key + ':':<14}{'-' if value is None else value}")


def show_page(page: Page) -> None:
    if not page.items:
        note("no turns")
        return
    table(TURN_HEADERS, [turn_row(turn) for turn in page.items])
    if page.next_cursor:
        note(f"more: add --cursor {page.next_cursor}")


def show_receipt(receipt: DeleteReceipt) -> None:
    where = ", ".join(receipt.removed_from)
    for turn_id in receipt.deleted_ids:
        click.echo(f"deleted {turn_id} (from {where})")


def show_stats(stats: Stats) -> None:
    for key, value in stats_dict(stats).items():
        if key == "by_role":
            value = ", ".join(f"{role} {count}" for role, count in value.items()) or "-"
        click.echo(f"{key + ':':<17}{'-' if value is None else value}")
