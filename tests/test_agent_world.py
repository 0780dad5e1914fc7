"""World state: observations of any subject as bi-temporal facts, places inside places."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engram import Memory, ValidationError
from engram.write.observe import parse_observation
from tests.conftest import NOW, FixedClock

PARSED = [
    ("The red mug is on the kitchen shelf.", [("red mug", "location", "kitchen shelf")]),
    ("I put the red mug in the sink", [("red mug", "location", "sink")]),
    ("The keys were left on the hall table", [("keys", "location", "hall table")]),
    ("Robot moved the box into the garage", []),  # an unknown actor: not read
    ("The oven is off. The door is open!", [("oven", "state", "off"), ("door", "state", "open")]),
    ("the kitchen shelf is in the kitchen", [("kitchen shelf", "location", "kitchen")]),
    ("What a lovely day", []),
]


@pytest.mark.parametrize(("text", "expected"), PARSED)
def test_observation_sentences_are_read(text: str, expected: list[tuple[str, str, str]]):
    assert [(o.subject, o.attribute, o.value) for o in parse_observation(text)] == expected


def house(memory: Memory, clock: FixedClock) -> None:
    memory.observe(subject="kitchen", value="house", user_id="u")
    memory.observe(subject="kitchen shelf", value="kitchen", user_id="u")
    memory.observe(subject="sink", value="kitchen", user_id="u")
    memory.observe("The red mug is on the kitchen shelf", user_id="u", agent_id="robot")
    clock.moment = NOW + timedelta(hours=1)
    memory.observe("I put the red mug in the sink", user_id="u", agent_id="robot")
    clock.moment = NOW + timedelta(hours=2)
    memory.observe("The red mug is on the desk", user_id="u", agent_id="robot")


def test_facts_about_an_object_now_and_as_of_with_the_history_of_moves(memory: Memory, clock: FixedClock):
    house(memory, clock)
    (now,) = memory.facts(user_id="u", subject="red mug")
    assert now.value == "desk" and now.kind == "world"
    (then,) = memory.facts(user_id="u", subject="red mug", as_of=NOW + timedelta(minutes=30))
    assert then.value == "kitchen shelf"
    assert [f.value for f in memory.moves("the Red Mug", user_id="u")] == ["kitchen shelf", "sink", "desk"]
    assert len(memory.history(now.id, user_id="u")) == 3
    assert memory.facts(user_id="u", subject="red mug", agent_id="robot") == [now]


def test_places_contain_places_and_a_place_finds_what_was_last_seen_in_it(memory: Memory, clock: FixedClock):
    house(memory, clock)
    at_sink = NOW + timedelta(minutes=90)
    assert memory.where("red mug", user_id="u", as_of=at_sink).places == ["sink", "kitchen", "house"]
    assert memory.where("red mug", user_id="u").places == ["desk"]
    assert memory.where("unicorn", user_id="u").places == []
    seen = memory.seen_in("kitchen", user_id="u", as_of=at_sink)
    assert {s.subject: s.path for s in seen} == {
        "red mug": ["sink", "kitchen"],
        "kitchen shelf": ["kitchen"],
        "sink": ["kitchen"],
    }
    assert seen[0].subject == "red mug"  # most recently seen first
    assert "red mug" not in {s.subject for s in memory.seen_in("house", user_id="u")}


def test_context_answers_where_an_object_is_from_its_fact(memory: Memory, clock: FixedClock):
    house(memory, clock)
    context = memory.context("Where is the red mug?", user_id="u", budget_tokens=300)
    assert "the red mug is on the desk" in context.text
    past = memory.context("Where is the red mug?", user_id="u", budget_tokens=300, reference_time=NOW + timedelta(minutes=90))
    assert "the red mug is in the sink" in past.text and "desk" not in past.text


def test_structured_observations_with_a_place_and_bad_ones(memory: Memory, clock: FixedClock):
    result = memory.observe(subject="Oven", attribute="state", value="on", where="Kitchen", user_id="u")
    assert [(f.subject, f.attribute, f.value) for f in result.facts] == [("oven", "state", "on"), ("oven", "location", "kitchen")]
    with pytest.raises(ValidationError, match="could be read"):
        memory.observe("What a lovely day", user_id="u")
    with pytest.raises(ValidationError, match="subject and value"):
        memory.observe(subject="oven", user_id="u")
    assert memory.stats(user_id="u").turns == 1


def test_world_state_is_isolated_by_user_and_tenant(memory: Memory, clock: FixedClock):
    house(memory, clock)
    assert memory.where("red mug", user_id="someone-else").places == []
    other = Memory(store=memory.store, embedder=memory.embedder, clock=clock, tenant="other")
    assert other.seen_in("kitchen", user_id="u") == []


def test_forgetting_an_observation_forgets_its_facts(memory: Memory, clock: FixedClock):
    result = memory.observe("The passport is in the drawer", user_id="u")
    receipt = memory.forget(user_id="u", ids=[result.turn_id])
    assert receipt.fact_ids == [f.id for f in result.facts]
    assert memory.where("passport", user_id="u").places == []


def test_a_run_observes_the_world_as_a_step(memory: Memory, clock: FixedClock):
    run = memory.start_run("Tidy the kitchen", user_id="u", agent_id="robot", run_id="tidy")
    step = run.observe("The red mug is on the counter")
    clock.moment = NOW + timedelta(minutes=5)
    run.observe(subject="red mug", value="cupboard")
    done = run.finish("success")
    assert [s.kind for s in done.steps] == ["observation", "observation"] and done.steps[0] == step
    assert [f.value for f in memory.moves("red mug", user_id="u")] == ["counter", "cupboard"]
    assert memory.where("red mug", user_id="u", as_of=NOW).places == ["counter"]
    with pytest.raises(ValidationError):
        memory.resume_run("tidy", user_id="u", agent_id="robot").observe("hello")
