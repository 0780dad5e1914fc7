"""The QA path (reader + judge) against a local HTTP server speaking the OpenAI chat API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from engram.bench.cli import ENV_READER_KEY, bench
from engram.bench.prompts import LOCOMO_JUDGE, LONGMEMEVAL_JUDGE, fill, fill_positional
from engram.bench.qa import ChatClient, Endpoint, QAScorer, parse_locomo_label
from engram.bench.testing import ScriptedChatServer, synthetic_locomo, synthetic_longmemeval
from engram.errors import ProviderError
from engram.formats.locomo import parse_locomo
from engram.formats.longmemeval import parse_longmemeval

SECRET = "sk-test-never-in-a-report"


def script(prompt: str) -> str:
    """Reader answers 'Rex'; LongMemEval judge says yes; LoCoMo judge CORRECT unless about Dan."""
    if "Answer yes or no only." in prompt:
        return "yes" if "Luna" in prompt or "unanswerable" in prompt else "no"
    if "CORRECT or WRONG" in prompt:
        verdict = "WRONG" if "marathon" in prompt else "CORRECT"
        return f'The answer matches the topic. {{"label": "{verdict}"}}'
    return "Rex"


@pytest.fixture
def server():
    with ScriptedChatServer(script) as running:
        yield running


def client(server: ScriptedChatServer, **kwargs) -> ChatClient:
    return ChatClient(Endpoint(server.base_url, "scripted-model", SECRET, **kwargs), backoff=0.0)


def test_longmemeval_reader_and_per_type_judge(server):
    dataset = parse_longmemeval(synthetic_longmemeval())
    questions = {q.id: q for q in dataset.questions}
    scorer = QAScorer("longmemeval", client(server), client(server))
    result = scorer.score(questions["q-ssu"], "[M1] 2023-05-02 (Tue) 18:30 user: My cat Luna turned four.")
    assert result["answer"] == "Rex"
    assert result["judge"] == 1.0
    assert result["f1"] is None
    assert result["llm_calls"] == 2 and result["llm_tokens"] > 0
    reader_prompt = server.requests[0]["messages"][0]["content"]
    assert reader_prompt.startswith("I will give you several history chats between you and a user.")
    assert "Current Date: 2023/06/30 (Fri) 10:00\nQuestion: How old is my cat Luna?" in reader_prompt
    assert "My cat Luna turned four." in reader_prompt
    judge_request = server.requests[1]
    assert judge_request["max_tokens"] == 10 and judge_request["temperature"] == 0
    expected = fill_positional(
        LONGMEMEVAL_JUDGE["single-session-user"], questions["q-ssu"].question, "four", "Rex"
    )
    assert judge_request["messages"][0]["content"] == expected
    abstained = scorer.score(questions["q-abs_abs"], "nothing relevant")
    assert "unanswerable question" in server.requests[-1]["messages"][0]["content"]
    assert abstained["judge"] == 1.0
    assert scorer.score(questions["q-ms"], "ctx")["judge"] == 0.0  # the scripted judge says no


def test_locomo_judges_categories_1_to_4_and_scores_f1(server):
    dataset = parse_locomo(synthetic_locomo())
    questions = {q.id: q for q in dataset.questions}
    scorer = QAScorer("locomo", client(server), client(server))
    single_hop = scorer.score(questions["conv-a:q0"], "[M1] Alice: His name is Rex")
    assert single_hop == {**single_hop, "answer": "Rex", "judge": 1.0, "f1": 1.0, "llm_calls": 2}
    judge_request = server.requests[-1]
    assert judge_request["response_format"] == {"type": "json_object"}
    assert judge_request["messages"][0]["content"] == fill(
        LOCOMO_JUDGE, question=questions["conv-a:q0"].question, gold_answer="Rex", generated_answer="Rex"
    )
    wrong = scorer.score(questions["conv-b:q1"], "ctx")
    assert wrong["judge"] == 0.0 and wrong["f1"] == 0.0
    adversarial = scorer.score(questions["conv-a:q5"], "ctx")
    assert adversarial["judge"] is None and adversarial["llm_calls"] == 1  # category 5 is not judged
    assert adversarial["f1"] == 0.0  # 'Rex' is not an abstention


@pytest.mark.parametrize(
    ("reply", "correct"),
    [
        ('{"label": "CORRECT"}', True),
        ('```json\n{"label": "WRONG"}\n```', False),
        ("It is right. CORRECT", True),
        ("Close, but WRONG", False),
        ("no idea", False),
        ('Reasoning... {"label": "correct"}', True),
    ],
)
def test_parse_locomo_label(reply, correct):
    assert parse_locomo_label(reply) is correct


def test_retries_then_gives_up():
    with ScriptedChatServer(lambda prompt: "ok", fail_first=2) as flaky:
        assert client(flaky).chat("hi").text == "ok"
        assert len(flaky.requests) == 3
    with (
        ScriptedChatServer(lambda prompt: "ok", fail_first=100) as down,
        pytest.raises(ProviderError, match="503"),
    ):
        client(down, retries=1).chat("hi")
    unreachable = ChatClient(Endpoint("http://127.0.0.1:9/v1", "m", retries=0, timeout=2), backoff=0.0)
    with pytest.raises(ProviderError, match="cannot reach"):
        unreachable.chat("hi")


def test_the_key_is_sent_but_never_shown():
    endpoint = Endpoint("http://x/v1", "m", SECRET)
    assert SECRET not in repr(endpoint)
    assert SECRET not in json.dumps(endpoint.describe())


def test_qa_end_to_end_through_the_cli(server, tmp_path: Path, monkeypatch):
    data = tmp_path / "locomo.json"
    data.write_text(json.dumps(synthetic_locomo()))
    out = tmp_path / "out"
    monkeypatch.setenv(ENV_READER_KEY, SECRET)
    result = CliRunner().invoke(
        bench,
        [
            "locomo",
            "--data",
            str(data),
            "--out",
            str(out),
            "--embedder",
            "hashing",
            "--quiet",
            "--reader-url",
            server.base_url,
            "--reader-model",
            "scripted-model",
            "--qa-budget",
            "500",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    engram = summary["systems"]["engram"]["overall"]
    # 7 scored questions, one about Dan's marathon judged WRONG.
    assert engram["qa_accuracy"] == pytest.approx(6 / 7)
    assert engram["qa_f1"] is not None
    assert engram["qa_llm_calls"] == 8 + 7  # a reader call per question, a judge call per category 1-4
    assert summary["run"]["config"]["qa"]["reader"] == {
        "base_url": server.base_url,
        "model": "scripted-model",
    }
    assert all(h.get("authorization") == f"Bearer {SECRET}" for h in server.headers)
    for name in ("summary.json", "report.md", "run.json", "questions.jsonl"):
        assert SECRET not in (out / name).read_text()
    report = (out / "report.md").read_text()
    assert "## Question answering" in report
    assert (out / "by_category_qa_accuracy.png").exists()
