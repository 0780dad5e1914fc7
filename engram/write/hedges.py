"""What keeps a first-person statement from being the speaker's own fact, beyond its own words:
a condition put on it later in its clause ("I'm planning to give notice if my condo purchase
proceeds") and a message that is pasted material, not the speaker talking (an article or a chat
log to summarise, a transcript, a role-play prompt such as "act as Bailey: ...").

Used by :mod:`engram.write.extract`; both err towards recording nothing.
"""

from __future__ import annotations

import re

__all__ = ["conditional", "is_pasted"]

_CONDITION = re.compile(
    r"\b(?:if|unless|assuming|provided|providing|as\s+long\s+as|in\s+case|depending\s+on"
    r"|once(?=\s+(?:I|we|my|our|the|it|they|he|she|you|this|that|everything|all)\b))\b",
    re.I,
)
#: Words before "if" that make it "whether" or a qualifier, not a condition on the fact:
#: "I was wondering if", "let me know if", "not sure if", "especially if", "even if".
_NOT_A_CONDITION = frozenset(
    str.split(
        """
    wonder wonders wondering wondered know sure see seeing check checking ask asking asked tell me curious
    unsure decide deciding even especially particularly as what doubt question idea clue unclear confirm
    verify determine out whether
    """
    )
)
#: Where the clause of a fact ends: a new sentence part, or a conjunction starting a new clause.
_CLAUSE_END = re.compile(
    r"[;!?]|\.(?:\s|$)|,\s*(?:and|but|so|or|because)\s|\s(?:and|but|so|because)\s+(?:I|we|you|it|that|this"
    r"|can|could|would|do|please|let)\b|,\s+(?:can|could|would|do|please|what|how|is|are|let)\b",
    re.I,
)
_LAST_WORD = re.compile(r"([A-Za-z']+)\W*$")


def conditional(sentence: str, start: int) -> bool:
    """Whether a condition follows ``start`` (where the fact's value starts) in the same clause.

    "I'm planning to give notice by November 1 if my condo purchase proceeds, and I was
    wondering if that's standard" is conditional (the first "if"; the second asks whether);
    "I prefer scenic routes, especially if they go through national parks" is not.
    """
    stop = _CLAUSE_END.search(sentence, start)
    limit = stop.start() if stop else len(sentence)
    for found in _CONDITION.finditer(sentence, start, limit):
        before = _LAST_WORD.search(sentence, 0, found.start())
        if before is None or before.group(1).lower() not in _NOT_A_CONDITION:
            return True
    return False


_DOCUMENT = (
    r"(?:part|text|article|transcript|e-?mail|message|conversation|chat|thread|passage|section|chapter|excerpt"
    r"|post|story|essay|script|document|letter|paragraph|interview|notes|lyrics|poem|review|content|draft"
    r"|page|report|speech)s?"
)
_ROLE_PLAY = re.compile(
    r"^\W*(?:(?:please\s+)?(?:act|respond|reply|answer|speak|write|behave)\s+(?:as|like)\s"
    r"|pretend\s+(?:to\s+be|you\s+are)\b|role-?play\b|imagine\s+you\s+are\b"
    r"|(?:please\s+)?(?:write|compose|create)\s+(?:me\s+)?(?:a|an)\s+(?:[\w'-]+\s+){0,3}?(?:script|story|poem|song"
    r"|scene|episode|novel|screenplay|dialogue|sketch|fanfic|limerick|rap)\b)",
    re.I,
)
_LEAD_IN = re.compile(
    rf"^\W*(?:(?:here(?:'s|’s|\s+is|\s+are)|below\s+is|the\s+following\s+is)\s+(?:the|an?|this|that|some"
    rf"|another)\s+(?:[\w-]+\s+){{0,2}}?{_DOCUMENT}\b|(?:the|this)\s+{_DOCUMENT}\s+(?:continues|reads|goes"
    r"|says|follows))",
    re.I,
)
_INSTRUCTION = re.compile(
    r"^\W*(?:(?:please|can\s+you|could\s+you|would\s+you|kindly)\s+)?(?:summari[sz]e|paraphrase|rewrite"
    r"|rephrase|translate|proofread|edit|analy[sz]e|review|explain|read|give\s+me|make|write|create|turn"
    r"|convert|improve|correct|check|format|shorten|simplify|expand|list|extract)\b[^\n\"]{0,120}?"
    rf"(?:\b(?:this|these|the\s+following|below)\b\s*(?:{_DOCUMENT}\s*)?(?::|\"|“|\n)|:\s*\n)",
    re.I,
)
_SPEAKER_LINE = re.compile(
    r"^[ \t]*(?:Q|A|Interviewer|Interviewee|Host|Guest|Speaker\s*\d*|User|Assistant|Customer|Agent|Me|You"
    r"|Them)[ \t]*:",
    re.M,
)
_TIMESTAMP_LINE = re.compile(r"^[^\n]{1,60}?\s\d{1,2}:\d\d\s*(?:AM|PM|am|pm)[ \t]*$", re.M)


def is_pasted(text: str) -> bool:
    """Whether a message is material the speaker pastes rather than says.

    A role-play or fiction prompt ("act as Bailey: ...", "Write a script for an episode of
    ..."), a lead-in naming a document ("Here's the next
    part", "The transcript continues with:", "Give me 10 bullet points on this "..."",
    "Summarize the following:"), or a
    transcript or chat log (two or more "Q:"/"Interviewer:" lines, or lines ending in a
    clock time such as "You 6:07 AM"). What the user says of themself around it is lost too:
    unsure, nothing.
    """
    if _ROLE_PLAY.match(text) or _LEAD_IN.match(text) or _INSTRUCTION.match(text):
        return True
    if text.count("\n") < 2 or ":" not in text:
        return False
    return len(_SPEAKER_LINE.findall(text)) >= 2 or len(_TIMESTAMP_LINE.findall(text)) >= 2
