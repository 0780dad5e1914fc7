"""The official reader and judge prompts of the benchmarks, verbatim.

* LongMemEval (MIT licence, xiaowu0162/LongMemEval): the reader prompt of
  ``src/generation/run_generation.py`` (retrieval, chain of thought) and the per-type judge
  prompts of ``src/evaluation/evaluate_qa.py`` (``get_anscheck_prompt``); the judge's
  verdict is ``'yes' in reply.lower()``.
* LoCoMo, as scored by the memory papers (Mem0's evaluation, Apache-2.0, mem0ai/mem0):
  the reader prompt ``ANSWER_PROMPT_ZEP`` of ``evaluation/prompts.py`` (one block of
  memories) and the judge prompt ``ACCURACY_PROMPT`` of ``evaluation/metrics/llm_judge.py``
  (categories 1-4, a JSON ``label`` of ``CORRECT`` or ``WRONG``).

They are kept character for character (including the curly quotes of the LoCoMo judge) so
that accuracies are comparable with published ones. Fill them with :func:`fill`.
"""

from __future__ import annotations

import re

_SLOT = re.compile(r"\{\{(\w+)\}\}|\{(\w+)\}")

LONGMEMEVAL_READER = (
    "I will give you several history chats between you and a user. Please answer the question based on "
    "the relevant chat history. Answer the question step by step: first extract all the relevant "
    "information, and then reason over the information to get the answer.\n\n\nHistory Chats:\n\n{}\n\n"
    "Current Date: {}\nQuestion: {}\nAnswer (step by step):"
)

_LME_JUDGE_HEAD = (
    "I will give you a question, a correct answer, and a response from a model. Please answer yes if the "
    "response contains the correct answer. Otherwise, answer no. "
)
_LME_JUDGE_STEPS = (
    "If the response is equivalent to the correct answer or contains all the intermediate steps to get "
    "the correct answer, you should also answer yes. If the response only contains a subset of the "
    "information required by the answer, answer no. "
)
_LME_JUDGE_TAIL = (
    "\n\nQuestion: {}\n\nCorrect Answer: {}\n\nModel Response: {}\n\nIs the model response correct? "
    "Answer yes or no only."
)

#: ``get_anscheck_prompt`` templates by question type; ``"abstention"`` for ``_abs`` questions.
LONGMEMEVAL_JUDGE = {
    "single-session-user": _LME_JUDGE_HEAD + _LME_JUDGE_STEPS + _LME_JUDGE_TAIL,
    "single-session-assistant": _LME_JUDGE_HEAD + _LME_JUDGE_STEPS + _LME_JUDGE_TAIL,
    "multi-session": _LME_JUDGE_HEAD + _LME_JUDGE_STEPS + _LME_JUDGE_TAIL,
    "temporal-reasoning": _LME_JUDGE_HEAD
    + _LME_JUDGE_STEPS
    + "In addition, do not penalize off-by-one errors for the number of days. If the question asks for the "
    "number of days/weeks/months, etc., and the model makes off-by-one errors (e.g., predicting 19 days "
    "when the answer is 18), the model's response is still correct. " + _LME_JUDGE_TAIL,
    "knowledge-update": _LME_JUDGE_HEAD
    + "If the response contains some previous information along with an updated answer, the response "
    "should be considered as correct as long as the updated answer is the required answer." + _LME_JUDGE_TAIL,
    "single-session-preference": (
        "I will give you a question, a rubric for desired personalized response, and a response from a "
        "model. Please answer yes if the response satisfies the desired response. Otherwise, answer no. "
        "The model does not need to reflect all the points in the rubric. The response is correct as long "
        "as it recalls and utilizes the user's personal information correctly.\n\nQuestion: {}\n\n"
        "Rubric: {}\n\nModel Response: {}\n\nIs the model response correct? Answer yes or no only."
    ),
    "abstention": (
        "I will give you an unanswerable question, an explanation, and a response from a model. Please "
        "answer yes if the model correctly identifies the question as unanswerable. The model could say "
        "that the information is incomplete, or some other information is given but the asked information "
        "is not.\n\nQuestion: {}\n\nExplanation: {}\n\nModel Response: {}\n\nDoes the model correctly "
        "identify the question as unanswerable? Answer yes or no only."
    ),
}

LOCOMO_READER = """
    You are an intelligent memory assistant tasked with retrieving accurate information from conversation memories.

    # CONTEXT:
    You have access to memories from a conversation. These memories contain
    timestamped information that may be relevant to answering the question.

    # INSTRUCTIONS:
    1. Carefully analyze all provided memories
    2. Pay special attention to the timestamps to determine the answer
    3. If the question asks about a specific event or fact, look for direct evidence in the memories
    4. If the memories contain contradictory information, prioritize the most recent memory
    5. If there is a question about time references (like "last year", "two months ago", etc.), 
       calculate the actual date based on the memory timestamp. For example, if a memory from 
       4 May 2022 mentions "went to India last year," then the trip occurred in 2021.
    6. Always convert relative time references to specific dates, months, or years. For example, 
       convert "last year" to "2022" or "two months ago" to "March 2023" based on the memory 
       timestamp. Ignore the reference while answering the question.
    7. Focus only on the content of the memories. Do not confuse character 
       names mentioned in memories with the actual users who created those memories.
    8. The answer should be less than 5-6 words.

    # APPROACH (Think step by step):
    1. First, examine all memories that contain information related to the question
    2. Examine the timestamps and content of these memories carefully
    3. Look for explicit mentions of dates, times, locations, or events that answer the question
    4. If the answer requires calculation (e.g., converting relative time references), show your work
    5. Formulate a precise, concise answer based solely on the evidence in the memories
    6. Double-check that your answer directly addresses the question asked
    7. Ensure your final answer is specific and avoids vague time references

    Memories:

    {{memories}}

    Question: {{question}}
    Answer:
    """  # noqa: W291 (trailing spaces are part of the official prompt)

LOCOMO_JUDGE = """
Your task is to label an answer to a question as ’CORRECT’ or ’WRONG’. You will be given the following data:
    (1) a question (posed by one user to another user), 
    (2) a ’gold’ (ground truth) answer, 
    (3) a generated answer
which you will score as CORRECT/WRONG.

The point of the question is to ask about something one user should know about the other user based on their prior conversations.
The gold answer will usually be a concise and short answer that includes the referenced topic, for example:
Question: Do you remember what I got the last time I went to Hawaii?
Gold answer: A shell necklace
The generated answer might be much longer, but you should be generous with your grading - as long as it touches on the same topic as the gold answer, it should be counted as CORRECT. 

For time related questions, the gold answer will be a specific date, month, year, etc. The generated answer might be much longer or use relative time references (like "last Tuesday" or "next month"), but you should be generous with your grading - as long as it refers to the same date or time period as the gold answer, it should be counted as CORRECT. Even if the format differs (e.g., "May 7th" vs "7 May"), consider it CORRECT if it's the same date.

Now it's time for the real question:
Question: {question}
Gold answer: {gold_answer}
Generated answer: {generated_answer}

First, provide a short (one sentence) explanation of your reasoning, then finish with CORRECT or WRONG. 
Do NOT include both CORRECT and WRONG in your response, or it will break the evaluation script.

Just return the label CORRECT or WRONG in a json format with the key as "label".
"""  # noqa: W291 (verbatim)


def fill(template: str, **values: str) -> str:
    """Fill a ``{{name}}`` (Jinja-style) or ``{name}`` template in one pass.

    Unlike ``str.format`` this leaves other braces alone, and a value that itself contains
    ``{name}`` is not filled again.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return values[name] if name in values else match.group(0)

    return _SLOT.sub(replace, template)


def fill_positional(template: str, *values: str) -> str:
    """Fill the ``{}`` slots of a LongMemEval template in order, leaving other braces alone."""
    parts = template.split("{}")
    if len(parts) != len(values) + 1:
        raise ValueError(f"template has {len(parts) - 1} slots, {len(values)} values given")
    out = parts[0]
    for value, part in zip(values, parts[1:], strict=True):
        out += value + part
    return out
