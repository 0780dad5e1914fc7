"""What both backends' ordered, named migrations share: which are pending, and refusing a newer store."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from engram.errors import DISTRIBUTION, SchemaVersionError


def pending(applied: Collection[str], known: Sequence[str]) -> list[str]:
    """The migrations of ``known`` (in order) not yet ``applied``.

    Raises:
        SchemaVersionError: the store has a migration this Engram does not know: a newer
            version wrote it.
    """
    unknown = sorted(set(applied) - set(known))
    if unknown:
        raise SchemaVersionError(
            f"the store has schema migration(s) {', '.join(unknown)} that this Engram does not "
            f"know: it was written by a newer version. Upgrade {DISTRIBUTION} to open it "
            f"(pip install --upgrade '{DISTRIBUTION}')."
        )
    return [name for name in known if name not in applied]
