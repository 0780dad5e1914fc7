"""Key phrases, entities and salience: what a message is about, who it names, whether it matters."""

from __future__ import annotations

import pytest

from engram.read.query import STOPWORDS
from engram.text.keyphrases import entities, keyphrases, salience


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "I went to a LGBTQ support group yesterday and it was so powerful.",
            ["lgbtq support group", "powerful"],
        ),
        (
            "My sister Ana lives in Lisbon and works as a nurse.",
            ["sister ana lives", "lisbon", "works", "nurse"],
        ),
        ("We visited the Museum of Modern Art.", ["modern art", "visited", "museum"]),
        ("Caroline's painting is beautiful", ["caroline painting", "beautiful"]),
        ("I'm Sam, I work at Google as a software engineer.", ["software engineer", "sam", "work", "google"]),
        ("dog dog Dog", ["dog"]),
        ("ok", []),
        ("haha lol thanks!", []),
        ("", []),
        ("😂😂", []),
        ("I ran 5 miles in 40 minutes", ["ran 5 miles", "40 minutes"]),
        ("2023 2024", []),
    ],
)
def test_keyphrases(text: str, expected: list[str]) -> None:
    assert keyphrases(text) == expected


def test_keyphrases_shape() -> None:
    text = (
        "Yesterday my brother and I drove the old red pickup truck from Denver all the way down to the Grand "
        "Canyon national park, where we camped under an incredible sky full of stars."
    )
    phrases = keyphrases(text, top=20)
    assert phrases, "a content-rich sentence has key phrases"
    for phrase in phrases:
        words = phrase.split()
        assert phrase == phrase.lower()
        assert 1 <= len(words) <= 4
        assert not all(word in STOPWORDS for word in words)
        assert not all(word.isdigit() for word in words)
    assert len(set(phrases)) == len(phrases)
    assert keyphrases(text, top=3) == phrases[:3]
    assert keyphrases(text, top=0) == []


def test_longer_phrases_outscore_single_words() -> None:
    phrases = keyphrases("The quarterly budget review meeting ran long, so lunch was late.")
    assert phrases[0] == "quarterly budget review meeting"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Hey Mel! Good to see you! How have you been?", ["Mel"]),
        ("I went to a LGBTQ support group yesterday.", ["LGBTQ"]),
        ("I moved to New York City last May with Dr. Smith.", ["New York City", "Dr. Smith"]),
        ("The Bank of America is closed. Thanks Caroline!", ["Bank of America", "Caroline"]),
        ("Melanie and I went to Paris.", ["Melanie", "Paris"]),
        ("Caroline, how are you?", ["Caroline"]),
        ("Wow, Melanie, that's amazing!", ["Melanie"]),
        ("I love Mother's Day and Caroline's painting.", ["Mother's Day", "Caroline"]),
        ("We went to the Museum of Modern Art on Friday.", ["Museum of Modern Art"]),
        ("Paris is lovely. I miss Paris.", ["Paris"]),
        ("Talked to Jon. Jon says hi to Gina and Jon.", ["Jon", "Gina"]),
        ("I'm reading Harry Potter again", ["Harry Potter"]),
    ],
)
def test_entities(text: str, expected: list[str]) -> None:
    assert entities(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "The weather is nice.",
        "I think so. Yes. Thanks!",
        "I'm happy, I've been busy and I'll call.",
        "OK LOL",
        "See you on Monday in May.",
        "Painting is my passion.",
        "Went there again. Honestly loved it.",
        "May I ask something?",
        "Wow! Yeah, so cool.",
        "",
        "all lower case text about new york",
    ],
)
def test_no_entities(text: str) -> None:
    assert entities(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "ok",
        "Ok!",
        "haha",
        "hahaha lol",
        "thanks!",
        "Thank you so much!",
        "lol that's great",
        "yeah totally",
        "wow, awesome!!",
        "Sounds good to me",
        "Aww, that's so sweet",
        "😂😂",
        "👍",
        "",
        "...",
    ],
)
def test_backchannel_is_not_salient(text: str) -> None:
    assert salience(text) < 0.2


@pytest.mark.parametrize(
    "text",
    [
        "I moved to Lisbon last May and I work as a nurse at Santa Maria hospital.",
        "My sister Ana just adopted a dog named Biscuit.",
        "I went to a LGBTQ support group yesterday and it was so powerful.",
        "We're planning to visit Japan in October for two weeks.",
        "I got a new job as a software engineer at Google, starting on Monday.",
        "My daughter turns 7 on June 12th and we're throwing a party.",
    ],
)
def test_personal_facts_are_salient(text: str) -> None:
    assert salience(text) > 0.6


def test_salience_orders_messages_sensibly() -> None:
    backchannel = salience("lol ok")
    small_talk = salience("Hey Mel! Good to see you! How have you been?")
    fact = salience("I started a new job at the hospital last week, I'm a nurse now.")
    assert backchannel < small_talk < fact
    assert all(0.0 <= value <= 1.0 for value in (backchannel, small_talk, fact))
