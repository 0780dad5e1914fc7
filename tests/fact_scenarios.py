"""The fact scenario suite: dated conversations and what memory must (and must not) believe.

Data only; :mod:`tests.test_fact_scenarios` runs it (one pytest test per case) and
``benchmarks/facts.py`` reports its pass rate per category.

A case is a list of dated messages (by default the user's, unnamed) and checks:

* :class:`At`: at ``at`` (``facts(as_of=at)``), the user's facts of a *slot* hold every
  ``has`` value and no ``lacks`` value, or (``none``) there is no fact of the slot at all.
  A slot names a meaning, not a column: :data:`SLOTS` lists the attribute names each accepts
  (``lives_in`` accepts ``location``, ``city``, ...; ``*`` is any attribute). Values match
  case-insensitively by containment in the fact's attribute, value and statement ("Luna"
  matches ``pet = beagle named Luna``). A ``preference`` is a positive one; a negative one
  (dislikes, hates, no longer likes) is slot ``dislike``.
* :class:`Hist`: after ``consolidate()`` run long after the conversation (a year and more),
  ``facts(as_of=at)`` still has the value, and so does ``facts(include_history=True)``.
* :class:`Ctx`: the context for ``question`` asked at ``at`` never states a ``stale`` value as
  current (a fact line holding it must show an end date), and its facts section does not
  mention ``off_topic`` values at all (facts shown must bear on the question).

Dates are ISO dates (``"2024-03-05"``) or date-times; an ``At`` without a date is checked
just after the last message.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CASES", "SLOTS", "At", "Case", "Ctx", "Hist", "M"]

#: Attribute names (the part before ":" or the whole name) each checked slot accepts.
SLOTS: dict[str, frozenset[str]] = {
    "lives_in": frozenset({"lives_in", "location", "city", "residence", "current_city", "home"}),
    "hometown": frozenset({"hometown", "from", "born_in", "grew_up_in", "origin"}),
    "employer": frozenset({"employer", "works_at", "company", "workplace"}),
    "occupation": frozenset({"occupation", "job", "job_title", "profession", "role", "works_as"}),
    "work": frozenset({"employer", "works_at", "company", "workplace", "occupation", "job", "job_title",
                       "profession", "role", "works_as"}),
    "pet": frozenset({"pet", "pets", "dog", "cat"}),
    "owns": frozenset({"owns", "possession", "possessions", "has"}),
    "name": frozenset({"name", "nickname", "preferred_name", "goes_by", "full_name"}),
    "preference": frozenset({"preference", "favorite", "favourite", "likes", "drink", "favorite_drink"}),
    "dislike": frozenset({"preference", "dislike", "dislikes"}),
    "relationship": frozenset({"relationship_status", "relationship", "partner", "spouse", "marital_status",
                               "family:partner", "family:wife", "family:husband", "family:boyfriend",
                               "family:girlfriend", "family:fiance"}),
    "family": frozenset({"family"}),
    "plan": frozenset({"plan", "plans"}),
}  # fmt: skip


@dataclass(frozen=True)
class M:
    """One message: its date, text, role and (optionally) the speaker's name."""

    at: str
    content: str
    role: str = "user"
    name: str | None = None


@dataclass(frozen=True)
class At:
    """What the user's facts of ``slot`` hold at ``at`` (None: just after the last message)."""

    at: str | None
    slot: str
    has: tuple[str, ...] = ()
    lacks: tuple[str, ...] = ()
    none: bool = False
    subject: str | None = None  # whose facts: default the case's user (unnamed, or its speaker)


@dataclass(frozen=True)
class Hist:
    """A past value still answerable after ``consolidate()``: as of ``at`` and in the history."""

    at: str
    slot: str
    has: tuple[str, ...]


@dataclass(frozen=True)
class Ctx:
    """The context for ``question`` at ``at``: no stale value as current, no off-topic fact."""

    question: str
    at: str
    stale: tuple[str, ...] = ()
    off_topic: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One scenario."""

    name: str
    category: str
    messages: tuple[M, ...]
    checks: tuple[At, ...] = ()
    history: tuple[Hist, ...] = ()
    context: tuple[Ctx, ...] = ()
    speaker: str | None = None  # the user's name on their messages, if the case names them
    tags: tuple[str, ...] = field(default=())


def _case(
    name: str,
    category: str,
    messages: list[M],
    checks: list[At],
    *,
    history: list[Hist] | None = None,
    context: list[Ctx] | None = None,
    speaker: str | None = None,
) -> Case:
    return Case(
        name, category, tuple(messages), tuple(checks), tuple(history or ()), tuple(context or ()), speaker
    )


CASES: tuple[Case, ...] = (
    # -- moves ------------------------------------------------------------------------------
    _case("move_portland_to_denver", "moves", [
        M("2024-01-14", "I just moved to Portland, the apartment is tiny but I love it."),
        M("2024-03-20", "Checking in from Denver! I moved three weeks ago."),
    ], [
        At("2024-02-01", "lives_in", has=("Portland",)),
        At("2024-07-20", "lives_in", has=("Denver",), lacks=("Portland",)),
    ], context=[Ctx("Where do I live now?", "2024-07-20", stale=("Portland",))]),
    _case("move_paris_to_berlin", "moves", [
        M("2023-01-10", "I live in Paris."),
        M("2024-03-05", "I just moved to Berlin!"),
    ], [
        At("2023-06-01", "lives_in", has=("Paris",)),
        At("2024-06-01", "lives_in", has=("Berlin",), lacks=("Paris",)),
    ], history=[Hist("2023-06-01", "lives_in", ("Paris",))]),
    _case("move_three_cities", "moves", [
        M("2022-02-01", "I live in Lisbon."),
        M("2023-02-01", "I moved to Madrid last week."),
        M("2024-02-01", "I relocated to Rome for work."),
    ], [
        At("2022-06-01", "lives_in", has=("Lisbon",)),
        At("2023-06-01", "lives_in", has=("Madrid",), lacks=("Lisbon",)),
        At("2024-06-01", "lives_in", has=("Rome",), lacks=("Lisbon", "Madrid")),
    ], history=[Hist("2022-06-01", "lives_in", ("Lisbon",)), Hist("2023-06-01", "lives_in", ("Madrid",))]),
    _case("move_living_since", "moves", [
        M("2024-06-10", "I've been living in Seattle since March."),
    ], [
        At("2024-04-15", "lives_in", has=("Seattle",)),
        At(None, "lives_in", has=("Seattle",)),
    ]),
    _case("move_back_home", "moves", [
        M("2023-05-01", "I live in Toronto."),
        M("2024-05-01", "I moved back to Montreal last month to be closer to my parents."),
    ], [
        At("2023-09-01", "lives_in", has=("Toronto",)),
        At(None, "lives_in", has=("Montreal",), lacks=("Toronto",)),
    ]),
    _case("move_repeated_statement", "moves", [
        M("2024-01-05", "I live in Oslo."),
        M("2024-04-05", "Still living in Oslo, the winters are long."),
        M("2024-05-05", "I live in Oslo, so skiing is easy."),
    ], [At(None, "lives_in", has=("Oslo",))]),
    _case("move_settled_into_new_city", "moves", [
        M("2023-03-01", "I'm based in Austin."),
        M("2024-02-10", "We finally settled into our new place in Boston after the move."),
    ], [
        At("2023-06-01", "lives_in", has=("Austin",)),
        At("2024-06-01", "lives_in", has=("Boston",), lacks=("Austin",)),
    ]),
    # -- jobs -------------------------------------------------------------------------------
    _case("job_nurse_to_teacher", "jobs", [
        M("2023-01-15", "I work as a nurse at the children's hospital."),
        M("2024-02-20", "I started a new job as a teacher last week."),
    ], [
        At("2023-06-01", "occupation", has=("nurse",)),
        At("2024-06-01", "occupation", has=("teacher",), lacks=("nurse",)),
    ], history=[Hist("2023-06-01", "occupation", ("nurse",))],
       context=[Ctx("What do I do for a living?", "2024-06-01", stale=("nurse",))]),
    _case("job_promoted", "jobs", [
        M("2023-04-01", "I'm a software engineer at Acme."),
        M("2024-04-01", "I got promoted to engineering manager last month!"),
    ], [
        At("2023-06-01", "occupation", has=("engineer",)),
        At(None, "occupation", has=("manager",)),
    ]),
    _case("job_quit", "jobs", [
        M("2023-06-01", "I work at Starbucks on weekends."),
        M("2024-03-01", "I quit my job at Starbucks yesterday."),
    ], [
        At("2023-09-01", "employer", has=("Starbucks",)),
        At("2024-06-01", "employer", lacks=("Starbucks",)),
    ]),
    _case("job_new_employer_as_title", "jobs", [
        M("2023-05-01", "I work as a barista."),
        M("2024-05-01", "I started a new job as a UX designer at Pixel Studio."),
    ], [
        At("2023-09-01", "occupation", has=("barista",)),
        At(None, "occupation", has=("designer",), lacks=("barista",)),
        At(None, "employer", has=("Pixel",)),
    ]),
    _case("job_hired", "jobs", [M("2024-02-01", "I got hired at Microsoft last week!")], [
        At(None, "employer", has=("Microsoft",)),
    ]),
    _case("job_retired", "jobs", [
        M("2022-01-10", "I'm a teacher at Lincoln High."),
        M("2024-01-10", "I retired last year after thirty years in the classroom."),
    ], [
        At("2022-06-01", "occupation", has=("teacher",)),
        At(None, "occupation", lacks=("teacher",)),
    ]),
    _case("job_sequence_as_of", "asof", [
        M("2021-03-01", "I work at Oracle."),
        M("2022-03-01", "I started working at Salesforce this week."),
        M("2023-03-01", "I got a new job at Adobe."),
    ], [
        At("2020-06-01", "employer", none=True),
        At("2021-06-01", "employer", has=("Oracle",), lacks=("Salesforce", "Adobe")),
        At("2022-06-01", "employer", has=("Salesforce",), lacks=("Oracle", "Adobe")),
        At("2023-06-01", "employer", has=("Adobe",), lacks=("Oracle", "Salesforce")),
    ], history=[Hist("2021-06-01", "employer", ("Oracle",)), Hist("2022-06-01", "employer", ("Salesforce",))]),
    # -- pets -------------------------------------------------------------------------------
    _case("pet_greyhound_biscuit", "pets", [
        M("2024-04-01", "I adopted a greyhound called Biscuit!"),
    ], [At(None, "pet", has=("Biscuit",))]),
    _case("pet_beagle_luna", "pets", [
        M("2024-04-01", "We adopted a beagle puppy and named her Luna."),
    ], [At(None, "pet", has=("Luna",))]),
    _case("pet_dog_named", "pets", [M("2024-02-01", "My dog Rex loves the beach.")], [
        At(None, "pet", has=("Rex",)),
    ]),
    _case("pet_passed_away", "pets", [
        M("2023-02-01", "I have a dog named Rex."),
        M("2024-02-01", "Rex passed away last week, I'm heartbroken."),
    ], [
        At("2023-06-01", "pet", has=("Rex",)),
        At("2024-06-01", "pet", lacks=("Rex",)),
    ], context=[Ctx("Tell me about my pets", "2024-06-01", stale=("Rex",))]),
    _case("pet_two_cats", "pets", [M("2024-03-01", "I have two cats, Milo and Otis.")], [
        At(None, "pet", has=("Milo", "Otis")),
    ]),
    _case("pet_gave_away", "pets", [
        M("2023-03-01", "I have a hamster named Peanut."),
        M("2024-03-01", "We gave Peanut to my cousin because of my allergies."),
    ], [
        At("2023-06-01", "pet", has=("Peanut",)),
        At("2024-06-01", "pet", lacks=("Peanut",)),
    ]),
    _case("pet_adopted_then_died_as_of", "asof", [
        M("2022-05-01", "I adopted a cat named Mochi today."),
        M("2024-05-01", "Mochi died last month, she was eighteen."),
    ], [
        At("2022-04-01", "pet", none=True),
        At("2023-05-01", "pet", has=("Mochi",)),
        At("2024-06-01", "pet", lacks=("Mochi",)),
    ], history=[Hist("2023-05-01", "pet", ("Mochi",))]),
    # -- possessions ------------------------------------------------------------------------
    _case("owns_bought_car", "possessions", [M("2024-01-20", "I bought a car last week, a used Honda.")], [
        At(None, "owns", has=("car",)),
    ]),
    _case("owns_sold_car", "possessions", [
        M("2023-01-20", "I bought a car last month."),
        M("2024-01-20", "I sold my car, I take the bus now."),
    ], [
        At("2023-06-01", "owns", has=("car",)),
        At("2024-06-01", "owns", lacks=("car",)),
    ]),
    _case("owns_gave_away_bike", "possessions", [
        M("2023-01-20", "I have a bike I ride to work."),
        M("2024-01-20", "I gave away my bike to a neighbour."),
    ], [
        At("2023-06-01", "owns", has=("bike",)),
        At("2024-06-01", "owns", lacks=("bike",)),
    ]),
    _case("owns_house", "possessions", [M("2024-04-10", "We bought a house in the suburbs in March.")], [
        At(None, "owns", has=("house",)),
    ]),
    _case("owns_wants_boat", "possessions", [M("2024-04-10", "I want to buy a boat someday.")], [
        At(None, "owns", none=True),
    ]),
    _case("owns_no_car", "negations", [M("2024-04-10", "I don't own a car, I bike everywhere.")], [
        At(None, "owns", lacks=("car",)),
    ]),
    # -- preferences ------------------------------------------------------------------------
    _case("pref_espresso_green_tea_matcha", "preferences", [
        M("2024-01-05", "I love espresso, I drink two every morning."),
        M("2024-03-10", "I've switched from espresso to green tea, my doctor said less caffeine."),
        M("2024-06-15", "These days I'm all about matcha, it replaced green tea for me."),
    ], [
        At("2024-02-01", "preference", has=("espresso",)),
        At("2024-04-01", "preference", has=("green tea",), lacks=("espresso",)),
        At("2024-07-01", "preference", has=("matcha",), lacks=("espresso", "green tea")),
    ], history=[Hist("2024-02-01", "preference", ("espresso",))],
       context=[Ctx("What should I drink this morning?", "2024-07-01", stale=("espresso", "green tea"))]),
    _case("pref_sushi_no_longer", "preferences", [
        M("2023-05-01", "I love sushi."),
        M("2024-05-01", "I don't like sushi anymore."),
    ], [
        At("2023-09-01", "preference", has=("sushi",)),
        At("2024-06-01", "preference", lacks=("sushi",)),
    ]),
    _case("pref_favorite_color_changes", "preferences", [
        M("2023-05-01", "My favorite color is blue."),
        M("2024-05-01", "My favorite color is green now."),
    ], [
        At("2023-09-01", "preference", has=("blue",)),
        At("2024-06-01", "preference", has=("green",), lacks=("blue",)),
    ]),
    _case("pref_enjoys_hiking", "preferences", [M("2024-05-01", "I really enjoy hiking on weekends.")], [
        At(None, "preference", has=("hiking",)),
    ]),
    _case("pref_hates_olives", "preferences", [M("2024-05-01", "I hate olives.")], [
        At(None, "dislike", has=("olives",)),
        At(None, "preference", lacks=("olives",)),
    ]),
    _case("pref_question_jazz", "questions", [M("2024-05-01", "Do you like jazz?")], [
        At(None, "preference", none=True),
    ]),
    _case("pref_sister_loves_opera", "others", [M("2024-05-01", "My sister loves opera.")], [
        At(None, "preference", lacks=("opera",)),
    ]),
    _case("pref_favorite_food", "preferences", [M("2024-05-01", "My favorite food is ramen.")], [
        At(None, "preference", has=("ramen",)),
    ]),
    # -- relationships ----------------------------------------------------------------------
    _case("rel_married", "relationships", [M("2024-07-10", "I got married last month!")], [
        At(None, "relationship", has=("married",)),
    ]),
    _case("rel_engaged_then_married", "relationships", [
        M("2023-06-01", "I'm engaged!"),
        M("2024-06-01", "We got married on Saturday."),
    ], [
        At("2023-09-01", "relationship", has=("engaged",)),
        At("2024-07-01", "relationship", has=("married",), lacks=("engaged",)),
    ]),
    _case("rel_married_then_divorced", "relationships", [
        M("2022-06-01", "I'm married, we have two kids."),
        M("2024-06-01", "I got divorced last year."),
    ], [
        At("2022-09-01", "relationship", has=("married",)),
        At("2024-07-01", "relationship", has=("divorced",), lacks=("married",)),
    ]),
    _case("rel_boyfriend_breakup", "relationships", [
        M("2023-06-01", "My boyfriend Jake is taking me to dinner."),
        M("2024-06-01", "Jake and I broke up last month."),
    ], [
        At("2023-09-01", "relationship", has=("Jake",)),
        At("2024-07-01", "relationship", lacks=("Jake",)),
    ]),
    _case("rel_single", "relationships", [M("2024-06-01", "I'm single and happy about it.")], [
        At(None, "relationship", has=("single",)),
    ]),
    _case("rel_sister_named", "relationships", [M("2024-06-01", "My sister Anna lives in Rome.")], [
        At(None, "family", has=("Anna",)),
        At(None, "lives_in", none=True),
    ]),
    # -- names ------------------------------------------------------------------------------
    _case("name_rebecca_call_me_bex", "names", [M("2024-04-02", "My name is Rebecca but call me Bex.")], [
        At(None, "name", has=("Rebecca", "Bex")),
    ]),
    _case("name_simple", "names", [M("2024-04-02", "Hi! My name is Priya.")], [At(None, "name", has=("Priya",))]),
    _case("name_changed", "names", [
        M("2023-04-02", "My name is Sam."),
        M("2024-04-02", "I legally changed my name to Alex last month."),
    ], [
        At("2023-09-01", "name", has=("Sam",)),
        At("2024-06-01", "name", has=("Alex",), lacks=("Sam",)),
    ]),
    _case("name_boss", "names", [M("2024-04-02", "My name is Dana. My boss's name is Victor.")], [
        At(None, "name", has=("Dana",), lacks=("Victor",)),
    ]),
    _case("name_friend_only", "others", [M("2024-04-02", "My friend's name is Oliver.")], [
        At(None, "name", none=True),
    ]),
    # -- negations --------------------------------------------------------------------------
    _case("neg_chicago_to_seattle", "negations", [
        M("2023-03-01", "I live in Chicago."),
        M("2024-03-01", "I don't live in Chicago anymore, I'm in Seattle now."),
    ], [
        At("2023-09-01", "lives_in", has=("Chicago",)),
        At("2024-06-01", "lives_in", has=("Seattle",), lacks=("Chicago",)),
    ], context=[Ctx("Which city am I in?", "2024-06-01", stale=("Chicago",))]),
    _case("neg_google_to_nimbus", "negations", [
        M("2023-03-01", "I work at Google."),
        M("2024-03-01", "I no longer work at Google; I joined a startup called Nimbus."),
    ], [
        At("2023-09-01", "employer", has=("Google",)),
        At("2024-06-01", "employer", has=("Nimbus",), lacks=("Google",)),
    ], context=[Ctx("Where do I work?", "2024-06-01", stale=("Google",))]),
    _case("neg_chicago_only", "negations", [
        M("2023-03-01", "I live in Chicago."),
        M("2024-03-01", "I don't live in Chicago anymore."),
    ], [
        At("2023-09-01", "lives_in", has=("Chicago",)),
        At("2024-06-01", "lives_in", lacks=("Chicago",)),
    ]),
    _case("neg_never_lived", "negations", [M("2024-03-01", "I have never lived in London.")], [
        At(None, "lives_in", none=True),
    ]),
    _case("neg_not_teacher_librarian", "negations", [
        M("2024-03-01", "I'm not a teacher, I'm a librarian."),
    ], [At(None, "occupation", has=("librarian",), lacks=("teacher",))]),
    _case("neg_no_pets", "negations", [M("2024-03-01", "I don't have any pets, my landlord won't allow a dog.")], [
        At(None, "pet", none=True),
    ]),
    _case("neg_moved_out", "negations", [
        M("2023-03-01", "I live in Denver."),
        M("2024-03-01", "I moved out of Denver last month."),
    ], [
        At("2023-09-01", "lives_in", has=("Denver",)),
        At("2024-06-01", "lives_in", lacks=("Denver",)),
    ]),
    # -- hypotheticals ----------------------------------------------------------------------
    _case("hyp_moved_to_paris", "hypotheticals", [
        M("2024-03-01", "If I ever moved to Paris, I'd finally learn French properly."),
    ], [At(None, "lives_in", none=True), At(None, "*", lacks=("Paris",))]),
    _case("hyp_would_love_a_dog", "hypotheticals", [M("2024-03-01", "I would love to have a dog one day.")], [
        At(None, "pet", none=True),
    ]),
    _case("hyp_dream_job", "hypotheticals", [M("2024-03-01", "My dream job would be working as a pilot.")], [
        At(None, "occupation", none=True),
    ]),
    _case("hyp_imagine_tokyo", "hypotheticals", [M("2024-03-01", "Imagine if I lived in Tokyo!")], [
        At(None, "lives_in", none=True),
    ]),
    _case("hyp_if_i_got_a_cat", "hypotheticals", [M("2024-03-01", "If I got a cat I'd name it Pixel.")], [
        At(None, "pet", none=True),
    ]),
    _case("hyp_fact_and_wish", "hypotheticals", [
        M("2024-03-01", "I live in Denver, but if I could I'd live in Hawaii."),
    ], [At(None, "lives_in", has=("Denver",), lacks=("Hawaii",))]),
    # -- questions --------------------------------------------------------------------------
    _case("q_do_you_live", "questions", [M("2024-03-01", "Do you live in Boston?")], [
        At(None, "lives_in", none=True),
    ]),
    _case("q_should_i_move", "questions", [M("2024-03-01", "Should I move to Austin?")], [
        At(None, "lives_in", none=True),
    ]),
    _case("q_become_nurse", "questions", [M("2024-03-01", "Is it hard to become a nurse?")], [
        At(None, "occupation", none=True),
    ]),
    _case("q_assistant_guess_corrected", "questions", [
        M("2024-03-01", "You live in Denver, right?", role="assistant"),
        M("2024-03-01", "No, I live in Dallas."),
    ], [At(None, "lives_in", has=("Dallas",), lacks=("Denver",))]),
    # -- plans that did not happen ----------------------------------------------------------
    _case("plan_move_fell_through", "plans", [
        M("2024-01-10", "I live in Dallas."),
        M("2024-02-10", "I'm planning to move to Austin next month."),
        M("2024-04-10", "The move to Austin fell through, we're staying put."),
    ], [
        At("2024-03-20", "lives_in", has=("Dallas",), lacks=("Austin",)),
        At("2024-05-01", "lives_in", has=("Dallas",), lacks=("Austin",)),
    ]),
    _case("plan_going_to_adopt", "plans", [M("2024-01-10", "I'm going to adopt a cat next week.")], [
        At("2024-01-11", "pet", none=True),
    ]),
    _case("plan_offer_declined", "plans", [
        M("2024-01-10", "I got a job offer from Amazon but I turned it down."),
    ], [At(None, "employer", lacks=("Amazon",))]),
    _case("plan_thinking_of_moving", "plans", [M("2024-01-10", "I'm thinking about moving to Denver.")], [
        At(None, "lives_in", none=True),
    ]),
    _case("plan_interview", "plans", [M("2024-01-10", "I have an interview at Netflix tomorrow.")], [
        At(None, "employer", none=True),
    ]),
    # -- other people's facts ---------------------------------------------------------------
    _case("other_friend_job", "others", [
        M("2024-01-10", "My friend Jake works at Google as an engineer."),
    ], [At(None, "employer", none=True), At(None, "occupation", none=True)]),
    _case("other_brother_moved", "others", [M("2024-01-10", "My brother moved to Denver last year.")], [
        At(None, "lives_in", none=True),
    ]),
    _case("other_reported_speech", "others", [M("2024-01-10", "She said she lives in Miami now.")], [
        At(None, "lives_in", none=True),
    ]),
    _case("other_wife_doctor", "others", [M("2024-01-10", "My wife is a doctor at the clinic.")], [
        At(None, "occupation", none=True),
    ]),
    _case("other_mom_cat", "others", [M("2024-01-10", "My mom adopted a cat named Whiskers.")], [
        At(None, "pet", none=True),
    ]),
    _case("other_assistant_persona", "others", [
        M("2024-01-10", "I work as a teacher and I live in Boston.", role="assistant"),
    ], [At(None, "occupation", none=True), At(None, "lives_in", none=True)]),
    _case("other_two_speakers", "others", [
        M("2024-01-10", "I live in Boston.", name="Alice"),
        M("2024-01-10", "Nice! I live in Chicago.", name="Bob"),
    ], [
        At(None, "lives_in", has=("Boston",), lacks=("Chicago",), subject="Alice"),
        At(None, "lives_in", has=("Chicago",), lacks=("Boston",), subject="Bob"),
    ]),
    # -- statements made late about the past ------------------------------------------------
    _case("late_paris_2015_2018", "late", [
        M("2024-03-01", "I lived in Paris from 2015 to 2018."),
    ], [
        At("2016-06-01", "lives_in", has=("Paris",)),
        At("2024-06-01", "lives_in", lacks=("Paris",)),
    ]),
    _case("late_used_to_live", "late", [M("2024-03-01", "I used to live in Boston.")], [
        At(None, "lives_in", lacks=("Boston",)),
    ]),
    _case("late_used_to_work", "late", [M("2024-03-01", "I used to work at IBM.")], [
        At(None, "employer", lacks=("IBM",)),
    ]),
    _case("late_grew_up", "late", [M("2024-03-01", "I grew up in Ohio.")], [
        At(None, "hometown", has=("Ohio",)),
        At(None, "lives_in", lacks=("Ohio",)),
    ]),
    _case("late_moved_in_2019", "late", [M("2024-03-01", "I moved to Denver in 2019.")], [
        At("2018-06-01", "lives_in", none=True),
        At("2020-06-01", "lives_in", has=("Denver",)),
    ]),
    _case("late_childhood_dog", "late", [M("2024-03-01", "When I was a kid I had a dog named Max.")], [
        At(None, "pet", lacks=("Max",)),
    ]),
    _case("late_moved_last_may", "asof", [M("2024-02-01", "I moved to Lisbon last May.")], [
        At("2023-04-01", "lives_in", none=True),
        At("2023-07-01", "lives_in", has=("Lisbon",)),
    ]),
    # -- the demo: every question answered by correct, relevant facts -----------------------
    _case("demo_sam", "context", [
        M("2024-01-14", "I just moved to Portland and I'm working as a barista for now.", name="Sam"),
        M("2024-02-02", "I love espresso, I have two every morning.", name="Sam"),
        M("2024-03-20", "Checking in from Denver! I moved three weeks ago.", name="Sam"),
        M("2024-04-05", "I adopted a greyhound called Biscuit.", name="Sam"),
        M("2024-05-01", "I started a new job as a graphic designer at a studio downtown.", name="Sam"),
        M("2024-05-20", "I switched from espresso to green tea.", name="Sam"),
        M("2024-07-01", "Lately it's matcha for me, I've given up green tea.", name="Sam"),
    ], [
        At("2024-07-20", "lives_in", has=("Denver",), lacks=("Portland",)),
        At("2024-07-20", "pet", has=("Biscuit",)),
        At("2024-07-20", "occupation", has=("designer",), lacks=("barista",)),
        At("2024-07-20", "preference", has=("matcha",), lacks=("espresso", "green tea")),
    ], context=[
        Ctx("Where does Sam live now?", "2024-07-20", stale=("Portland",)),
        Ctx("What is the name of Sam's dog?", "2024-07-20", stale=("Portland",), off_topic=("Denver", "Portland")),
        Ctx("What does Sam drink in the morning?", "2024-07-20", stale=("espresso", "green tea"),
            off_topic=("Denver", "Portland")),
    ], speaker="Sam"),
)  # fmt: skip
