"""Fact extraction on user-assistant chats: phrasings labelled wrong in the precision sample
(benchmarks/facts_labels.jsonl: LongMemEval, BEAM, LoCoMo), the correct facts kept beside
them, and quotation marks."""

from __future__ import annotations

import pytest

from tests.extract_support import pairs

# Precision on user-assistant chats: the phrasings of facts labelled wrong in
# benchmarks/facts_labels.jsonl (LongMemEval, BEAM, LoCoMo), each with what it must give now.
_BAILEY = (
    "act as bailey:\n\nYou 6:07 AM\nInvited\nAmy Scott, M.Ed., LPC Associate\nto connect\nHi Dr. Scott,\n\n"
    "You 3:38 PM\nThanks for connecting, Dr. Scott.\n\nI work at Televero Health and we are currently "
    "recruiting for psychiatry positions.\n\nBest regards,\nBailey\nAmy Scott 11:12 PM\nI am not a psychiatrist."
)
_ARTICLE = (
    'Give me 10 bullets points on this "Why Famed Value Investor Bill Miller Is Still Bullish on Bitcoin\n'
    "Order Reprints\nPrint Article\n\nMiller, 72, is sticking with the plan he announced in January.\n\n"
    "I also like Farfetch [FTCH], a luxury-goods online company. I intend to be more active with the "
    "Santa Fe Institute [a nonprofit that researches complex systems] and I'm on the board of Johns Hopkins."
)
_TRANSCRIPT = (
    "Here's the next part. When you're done reading, tell me you're \"Done and are ready for the next part\": "
    "yeah, in particular, this group chat is like 10 people. I like like most people who if you make "
    "playlists, you're always trying to create the perfect playlist."
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # a value cut inside a name or a number: now whole
        (  # whole, the value is too long to be a plan (more than 7 words): nothing, not "attend the Easter Vigil at St"
            "I'm planning to attend the Easter Vigil at St. Joseph's Church this Sunday, where my friend "
            "Rachel is getting baptized.",
            [],
        ),
        ("I'm planning to attend the 9:30 am mass at St. Mary's this Sunday.", []),
        ("I'm planning to catch the 9:30 train to Boston.", [("plan", "catch the 9:30 train to Boston")]),
        ("I'm planning to visit St. Mary's this Sunday.", [("plan", "visit St. Mary's")]),
        (
            "I'm planning a family trip to St. George's, and I want to make sure everyone has a great time.",
            [("plan", "family trip to St. George's")],
        ),
        (
            "I'm planning to use Socket.io namespaces for chatrooms, such as /room/general and /room/private, "
            "but I'm not sure how to implement them correctly.",
            [("plan", "use Socket.io namespaces for chatrooms")],
        ),
        ("I'm planning to use OpenCV 4.7.0 for the webcam feed.", [("plan", "use OpenCV 4.7.0 for the webcam feed")]),
        ("I plan to save 1,500 dollars.", [("plan", "save 1,500 dollars")]),
        # a bare verb whose object was cut, a gerund without its object, half of "both ... and ..."
        (
            "I already have a team lunch scheduled for this Thursday, and I'm planning to dedicate this "
            "Friday to admin tasks like budgeting and invoicing.",
            [],
        ),
        (
            "I'm planning to start with a 5-minute guided meditation session, 3 times a week, using the "
            "Headspace app.",
            [],
        ),
        (
            "I'm also planning to collaborate with other influencers and thought leaders in my industry to "
            "expand my reach.",
            [],
        ),
        ("I plan to return on July 20, I'll definitely bring you some kind of souvenir!", []),
        (
            "I'm planning to use my laptop for both work and entertainment, including video editing and "
            "streaming, so I need to choose one that can handle these tasks.",
            [],
        ),
        (
            'As for podcasts, I enjoy listening to "The Daily Boost" and "The Motivation Minute" - they\'re '
            "great for getting me pumped up.",
            [],
        ),
        ("I prefer combining journaling with art therapy for deeper emotional release.", []),
        ("I prefer combining professional development with personal healing for holistic growth.", []),
        ("And in my free time, I enjoy curling up with a good book, escaping reality.", []),
        # what the preference is about is in the clause that was cut
        ("I prefer recipes that balance nutrition and flavor to satisfy all family members.", []),
        ("I prefer cooking meals that accommodate all restrictions at once, like gluten-free.", []),
        ("I prefer properties with low HOA fees, and I think good natural light is important.", []),
        ("I prefer proofs that clearly state all assumptions in the inductive hypothesis.", []),
        ("I prefer structured counseling sessions combined with informal weekly check-ins.", []),
        ("For running, I prefer Saturday mornings and Wednesday evenings.", []),
        # a relative clause is not the plan
        (
            "The town I'm planning to visit is Oakdale, and I'd say I prefer a mix of paved paths and dirt "
            "trails.",
            [],
        ),
        ("The stream I'm planning to fish at is called Oak Creek, and it's about an hour's drive.", []),
        (
            'I have a beautiful digital print of "Moonlit Ocean" by Jack Harris that I plan to frame and hang '
            "in my bedroom.",
            [],
        ),
        ("It helps with my problems on parallel lines, which I plan to solve by February 5, 2024", []),
        # values that name nothing without the conversation
        ("I'm planning to make the sauce this weekend, and I'm excited to try out the avocado oil.", []),
        ("I'm planning to visit the museum after my ride, so I'll check their website.", []),
        (
            "Next, I'm actually planning to focus on the paint job, using my new airbrush compressor.",
            [],
        ),
        ("I don't have a road bike yet, but I'm planning to invest in one soon.", []),
        ("I'm planning to spend quality time with close friends like Ryan.", []),
        # a condition anywhere in the clause
        (
            "I'm planning to give a 60-day notice to my landlord by November 1 if my condo purchase proceeds, "
            "and I was wondering if that's a standard practice",
            [],
        ),
        ("I plan to move to Austin once I finish my degree.", []),
        ("Once I get the job, I plan to buy a house in Austin.", []),
        ("I'm planning to sell my car, assuming the new one arrives on time.", []),
        # text the user pastes is not the user speaking
        (_BAILEY, []),
        (_ARTICLE, []),
        (_TRANSCRIPT, []),
        ("Q: Where do you work?\nA: I work at Televero Health.\nQ: And your hobbies?\nA: I love hiking.", []),
        ('He wrote: "I work at Televero Health and I love hiking. I moved to Denver last year."', []),
        (
            "Write a script for an episode of It's Always Sunny In Philadelphia. Frank has died and left all "
            "of his money to Charlie. My dog Rex is in it too.",
            [],
        ),
        ("The transcript continues with:\n[00:14:08.210] - Steven Shattuck\nSo I love first-time donors.", []),
        # "engaged" as attentive, not about to marry
        ("I'll make sure to really listen to Rachael and show that I'm engaged.", []),
    ],
)
def test_user_chat_precision(text: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(text, speaker=None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # facts labelled correct in the same samples: the fixes above must keep them
        (
            "I'm planning to visit the nearby mountains, so I'd say mountain biking is what I'm looking for.",
            [("plan", "visit the nearby mountains")],
        ),
        ("As for the next deeper cleaning task, I'm planning to tackle the bathroom this week.", [("plan", "tackle the bathroom")]),
        ("Now, I'm planning to deploy the app on AWS and set up monitoring.", [("plan", "deploy the app on AWS")]),
        (
            "I'm planning to implement the object counting feature after I stabilize the detection.",
            [("plan", "implement the object counting feature")],
        ),
        ("I'm planning to add the Java Moss and Anacharis to the tank this weekend.", [("plan", "add the Java Moss")]),
        (
            "I'm also planning to participate in the upcoming charity 5K run on November 12th.",
            [("plan", "participate in the upcoming charity 5K run")],
        ),
        ("I'm planning to make a stir-fry with the kale and carrots.", [("plan", "make a stir-fry")]),
        ("My budget is around $2,000 per person, and I'm planning to travel with my fiancée.", [("plan", "travel")]),
        ("We're planning to ski, try the local cuisine, and enjoy the beautiful views.", [("plan", "ski")]),
        ("I'm planning to explore the city, try out different local cuisines.", [("plan", "explore the city")]),
        (
            "I'm planning to plant my seedlings in the raised bed I recently built.",
            [("plan", "plant their seedlings in the raised bed")],
        ),
        (
            "Since I'm planning to build a sustainable home with eco-friendly materials, I want to check the codes.",
            [("plan", "build a sustainable home")],
        ),
        (
            "Speaking of annual passes, I'm also planning to visit other theme parks in the area, like Knott's.",
            [("plan", "visit other theme parks in the area")],
        ),
        (
            "I'm planning to use my WRX for autocross and track days, and I'm excited.",
            [("plan", "use their WRX for autocross")],
        ),
        (
            "I'm planning to visit Best Buy on March 19 to test laptops in person, and I wonder if they price-match.",
            [("plan", "visit Best Buy")],
        ),
        ("I'm planning a trip to Japan in March, and I'd love some tips if you have any.", [("plan", "trip to Japan")]),
        ("I plan to go running once a week.", [("plan", "go running once a week")]),
        ("I love colorful murals that celebrate different cultures.", [("preference:colorful murals", "loves")]),
        (
            "I prefer scenic routes, especially if they go through national parks or have nice views.",
            [("preference:scenic routes", "likes")],
        ),
        ("I prefer formula-based solutions for sums to save time.", [("preference:formula-based solutions", "likes")]),
        (
            "I prefer in-person meetings over virtual for complex project discussions.",
            [("preference:in-person meetings over virtual", "likes")],
        ),
        (
            "I prefer using lightweight Alpine-based containers for faster deployment.",
            [("preference:using lightweight alpine-based containers", "likes")],
        ),
        ("I love going on road trips with friends and family.", [("preference:going on road trips", "loves")]),
        ("I love camping trips with my fam, 'cause nature brings peace.", [("preference:camping trips", "loves")]),
        ("I prefer planning ahead with detailed schedules to reduce stress.", [("preference:planning ahead", "likes")]),
        (
            "I prefer tackling challenging problems that combine algebra, geometry, and calculus.",
            [("preference:tackling challenging problems", "likes")],
        ),
        ("I'm a big fan of Bill Simmons, so I think I'll check out his podcast.", [("preference:bill simmons", "likes")]),
        ('She said "hi". I love hiking.', [("preference:hiking", "loves")]),
        ("I'm engaged to Tom and we're planning a wedding.", [("plan", "wedding"), ("relationship_status", "engaged")]),
        ("I'm planning to downsize and I've started listing items.", [("plan", "downsize")]),
        ("Here's my plan: I'm planning to visit Paris next month.", [("plan", "visit Paris")]),
    ],
)
def test_user_chat_precision_keeps_correct_facts(text: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(text, speaker=None) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # an inch mark after a digit opens no quotation: the facts after it stay
        ('I\'m 5\'10" tall. I live in Denver now.', [("lives_in", "Denver")]),
        ('My TV is 55" wide. I work as a nurse.', [("occupation", "nurse")]),
        ('She said "I am 30" and left. I work as a nurse.', [("occupation", "nurse")]),
        # a real quotation still gives nothing, even across sentences
        ('He wrote "I live in Paris. I work as a nurse." on the card.', []),
    ],
)
def test_quotation_marks_and_inch_marks(text: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(text, speaker=None) == expected
