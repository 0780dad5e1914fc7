"""Standing instructions: what the user tells the assistant to do from now on.

"Always include cost details when I ask about travel arrangements", "Never use semicolons in
code you write for me", "From now on, answer in French". Such a sentence governs requests
that come much later and share few words with it ("How do I get from Lisbon to Porto?"), so
memory keeps it as a fact of kind ``instruction`` (one per sentence, several coexist), shows it
in the profile, and the read path ranks the user's current instructions against every
question by meaning (:func:`engram.read.retrieve.retrieve`, the ``instruction`` ranking).

A sentence is an instruction when it opens with "always"/"never" and an instruction verb
("always include", "never use"), or with "from now on", "going forward", "in the future",
"whenever I ask". Only the user's own messages count (the person the assistant serves, not
an assistant or another speaker), never pasted material, and never a question. Advice between
friends ("never give up!", "always here to help") is not an instruction: it has no verb of
:data:`VERBS`, or a phrasal one ("give up").
"""

from __future__ import annotations

import hashlib
import re

from engram.write.hedges import is_pasted

__all__ = ["VERBS", "instruction_facts_of", "standing_instructions"]

#: Verbs an instruction to an assistant opens with after "always"/"never".
VERBS = frozenset(
    str.split(
        """
    add address answer ask assume avoid begin break call check cite clarify compare confirm convert
    define describe detail double-check end explain express focus format give highlight include keep
    label limit list mention note number offer organise organize outline present prioritise
    prioritize provide put quote recommend refer relate remind report respond reply round show sort
    specify spell start state stick structure suggest summarise summarize tell use warn write
    """
    )
)
_VERB = "|".join(sorted(VERBS, key=len, reverse=True))
_OPENING = re.compile(
    r"^\W*(?:(?:please|and|also|so)\s+)*(?:"
    rf"(?:always|never|(?:don'?t|do\s+not)\s+ever)\s+(?:please\s+)?(?:{_VERB})\b(?!\s+(?:up|in)\b)"
    r"|(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|for\s+(?:all\s+)?future\s+(?:answers|responses|replies))\b"
    r"|(?:when(?:ever)?|each\s+time|every\s+time)\s+i\s+ask\b)",
    re.I,
)
_TRIGGERS = ("always", "ever", "from now on", "going forward", "future", "i ask")
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\n+")
#: Longest instruction kept (characters); a longer sentence is cut at a word.
MAX_INSTRUCTION = 400


def standing_instructions(text: str) -> list[str]:
    """The sentences of ``text`` that are standing instructions, in order, each once."""
    folded = text.casefold()
    if not any(map(folded.__contains__, _TRIGGERS)):  # looked for in C: most messages hold none
        return []
    found: dict[str, None] = {}
    for raw in _SENTENCES.split(text):
        sentence = " ".join(raw.split())
        if sentence and not sentence.endswith("?") and _OPENING.match(sentence):
            found.setdefault(_clip(sentence))
    if found and is_pasted(text):
        return []
    return list(found)


def instruction_facts_of(text: str) -> list[tuple[str, str]]:
    """``(attribute, instruction)`` for each standing instruction in ``text``.

    The attribute names the instruction by a hash of its words, so saying it again reinforces
    the same memory and different instructions coexist.
    """
    out = []
    for sentence in standing_instructions(text):
        words = " ".join(re.findall(r"\w+", sentence.casefold()))
        out.append(("instruction:" + hashlib.sha256(words.encode("utf-8")).hexdigest()[:12], sentence))
    return out


def _clip(sentence: str) -> str:
    if len(sentence) <= MAX_INSTRUCTION:
        return sentence
    return sentence[:MAX_INSTRUCTION].rsplit(" ", 1)[0] + "…"
