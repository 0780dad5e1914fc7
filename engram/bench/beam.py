"""BEAM in the harness: its rules as the report states them.

The rest of BEAM's adapter is shared code: :func:`engram.formats.beam.load_beam` turns the
split folder into the neutral records every benchmark uses, and the runner, systems, scoring
and plots treat it as they treat LoCoMo (turn-level evidence over both roles, questions asked
just after the last turn), except that the overall view is every ability but abstention,
which has no turn evidence and is counted apart (as LongMemEval's abstention questions).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TITLE = "BEAM"
#: What the report calls a BEAM question group.
CATEGORY_NOUN = "ability"


def retrieval_section(document: Mapping[str, Any]) -> list[str]:
    """The paragraph that heads the overall retrieval table."""
    abstention = next((s.get("abstention", {}).get("questions") for s in document["systems"].values()), 0)
    return [
        "## Evidence retrieval, every ability but abstention",
        "",
        "Turn level over the whole chat (user and assistant messages); gold turns are the messages "
        "named by `source_chat_ids` (else the `chat_id` references of `conversation_references`); "
        f"questions without evidence left out; abstention ({abstention or 0} questions, no turn "
        "evidence) is counted apart.",
        "",
    ]


#: How BEAM was measured, for the report's last section.
NOTES = (
    "- Gold: `source_chat_ids` (flat, nested or per statement/event), else the `chat_id: N` / "
    "`chat_id N-M` references; ids naming no message are dropped, wrong ids are not repaired. "
    "Abilities as BEAM names them; abstention apart.",
    "- Each batch of `chat.json` is a session dated by its `time_anchor` (one second per message); "
    "BEAM has no question date: questions are asked one minute after the chat's last message. "
    "The generator's marker (`->-> batch,bullet` and anything after it) is removed from messages.",
)
