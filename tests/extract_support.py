"""What the fact-extraction tests share: a fixed message time and (attribute, value) pairs."""

from __future__ import annotations

from datetime import UTC, datetime

from engram.write.extract import extract_facts

#: A Monday afternoon.
T = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def pairs(text: str, speaker: str | None = "Sam") -> list[tuple[str, str]]:
    """The (attribute, value) of each fact ``text`` states, said by ``speaker`` at :data:`T`."""
    return [(f.attribute, f.value) for f in extract_facts(text, speaker=speaker, role="user", timestamp=T)]
