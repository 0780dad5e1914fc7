"""Lexicons and value helpers for rule-based fact extraction (see :mod:`engram.write.extract`).

Everything here is data or a small pure function on strings. The lexicons are deliberately
closed lists: a job title, pet species or possession outside them is not extracted, because a
wrong fact is worse than a missing one.
"""

from __future__ import annotations

import re

from engram.text.stopwords import STOPWORDS


def _words(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``."""
    return frozenset(text.split())


_I = re.IGNORECASE

#: Titles accepted after "I'm a ..." as well as after "I work as a ...".
JOB_TITLES = _words(
    """
    nurse teacher engineer developer programmer doctor physician surgeon dentist pharmacist lawyer
    attorney paralegal accountant designer architect student chef baker barista bartender waiter
    waitress cashier manager consultant analyst scientist researcher professor lecturer tutor
    librarian journalist reporter editor actor actress firefighter pilot mechanic electrician
    plumber carpenter contractor farmer nanny babysitter caregiver therapist counselor counsellor
    psychologist psychiatrist paramedic vet veterinarian realtor salesman saleswoman entrepreneur
    freelancer intern receptionist secretary administrator janitor clerk banker economist
    trader coach trainer instructor translator interpreter marketer dietitian nutritionist
    optometrist midwife principal stylist hairdresser hairstylist barber tailor florist butcher
    welder machinist technician biologist chemist physicist mathematician historian archaeologist
    geologist ceo cto cfo founder co-founder pastor priest rabbi imam soldier officer sergeant
    homemaker housewife programmer recruiter auditor bookkeeper courier postman surveyor
    """
) | frozenset(
    {
        "software engineer", "software developer", "web developer", "data scientist", "data analyst",
        "graphic designer", "project manager", "product manager", "police officer", "social worker",
        "flight attendant", "real estate agent", "personal trainer", "fitness instructor",
        "yoga instructor", "truck driver", "delivery driver", "bus driver", "taxi driver",
        "nurse practitioner", "lab technician", "sales rep", "sales representative",
        "stay-at-home mom", "stay-at-home dad",
        "dental hygienist", "personal assistant", "teaching assistant", "customer service rep",
    }
)  # fmt: skip
#: Titles that are often hobbies ("I'm a painter"): accepted only with an explicit job phrase.
CREATIVE_TITLES = _words(
    """
    writer author artist painter photographer musician singer dancer poet blogger youtuber
    streamer illustrator animator composer sculptor filmmaker athlete model influencer volunteer
    """
)
#: Words that may qualify a job title: "high school teacher", "senior engineer".
JOB_MODIFIERS = _words(
    """
    senior junior lead head chief assistant associate registered licensed certified freelance
    professional full-time part-time substitute retired software civil mechanical electrical
    chemical graphic web ux ui data social pediatric dental veterinary personal sous pastry
    school high middle elementary primary kindergarten preschool art music math english science
    history yoga dance fitness special education flight police research staff automotive
    aerospace structural environmental biomedical industrial marketing sales hr it store shift
    product interior fashion game sound video content account office construction restaurant
    bank nursing medical legal finance financial tax insurance
    """
)
RELATIONS = {
    "wife": "wife", "husband": "husband", "partner": "partner", "boyfriend": "boyfriend",
    "girlfriend": "girlfriend", "fiance": "partner", "fiancé": "partner", "fiancee": "partner",
    "fiancée": "partner", "son": "son", "sons": "son", "daughter": "daughter",
    "daughters": "daughter", "kid": "kid", "kids": "kid", "child": "kid", "children": "kid",
    "mother": "mother", "mom": "mother", "mum": "mother", "father": "father", "dad": "father",
    "brother": "brother", "brothers": "brother", "sister": "sister", "sisters": "sister",
    "grandma": "grandmother", "grandmother": "grandmother", "grandpa": "grandfather",
    "grandfather": "grandfather", "aunt": "aunt", "uncle": "uncle", "cousin": "cousin",
    "cousins": "cousin", "niece": "niece", "nephew": "nephew",
}  # fmt: skip
RELATION_MODIFIERS = (
    r"(?:(?:little|big|older|younger|baby|twin|eldest|oldest|youngest|middle|dear|lovely|sweet)\s+)?"
)
PET_SPECIES = {
    "dog": "dog", "dogs": "dog", "puppy": "puppy", "puppies": "puppy", "pup": "puppy",
    "cat": "cat", "cats": "cat", "kitten": "kitten", "kittens": "kitten", "kitty": "cat",
    "bunny": "bunny", "bunnies": "bunny", "rabbit": "rabbit", "rabbits": "rabbit",
    "hamster": "hamster", "hamsters": "hamster", "guinea pig": "guinea pig",
    "guinea pigs": "guinea pig", "parrot": "parrot", "parrots": "parrot", "budgie": "budgie",
    "cockatiel": "cockatiel", "goldfish": "goldfish", "turtle": "turtle", "turtles": "turtle",
    "tortoise": "tortoise", "snake": "snake", "lizard": "lizard", "gecko": "gecko",
    "iguana": "iguana", "horse": "horse", "horses": "horse", "pony": "pony", "ferret": "ferret",
    "chinchilla": "chinchilla", "hedgehog": "hedgehog",
}  # fmt: skip
#: Breeds, named as the value in place of the species ("a beagle named Luna"), and their species.
BREEDS = {
    "greyhound": "dog", "beagle": "dog", "labrador": "dog", "golden retriever": "dog",
    "retriever": "dog", "poodle": "dog", "corgi": "dog", "husky": "dog", "pug": "dog",
    "bulldog": "dog", "french bulldog": "dog", "terrier": "dog", "chihuahua": "dog",
    "dachshund": "dog", "german shepherd": "dog", "border collie": "dog", "collie": "dog",
    "spaniel": "dog", "cocker spaniel": "dog", "schnauzer": "dog", "shih tzu": "dog",
    "pit bull": "dog", "pitbull": "dog", "rottweiler": "dog", "doberman": "dog",
    "dalmatian": "dog", "great dane": "dog", "whippet": "dog", "maltese": "dog", "yorkie": "dog",
    "sheepdog": "dog", "shepherd mix": "dog", "siamese": "cat",
    "maine coon": "cat", "tabby": "cat", "ragdoll": "cat", "sphynx": "cat", "bengal": "cat",
}  # fmt: skip
PET_SPECIES.update({breed: breed for breed in BREEDS})
#: What an animal word is: "greyhound" and "puppy" are dogs.
SPECIES_OF = {**BREEDS, "puppy": "dog", "kitten": "cat", "bunny": "rabbit"}
#: Everyday drinks, the values of the single-valued ``drink`` slot (what one drinks daily).
DRINKS = _words(
    """
    coffee espresso latte lattes cappuccino americano macchiato cortado mocha tea chai matcha decaf
    kombucha cocoa
    """
) | frozenset(
    {
        "green tea", "black tea", "herbal tea", "mint tea", "chamomile tea", "chai latte",
        "matcha latte", "flat white", "cold brew", "iced coffee", "yerba mate", "hot chocolate",
        "oat latte", "earl grey", "decaf coffee", "bubble tea",
    }
)  # fmt: skip
DRINK_MODIFIERS = r"(?:(?:a|an)\s+)?(?:(?:double|single|triple|iced|hot|black|strong|oat(?:\s+milk)?|decaf|cold|big|large|small)\s+){0,2}"
PET_ADJECTIVES = (
    r"(?:(?:new|little|cute|sweet|adorable|tiny|baby|rescue|black|white|brown|orange|grey|gray|small"
    r"|big|young|fluffy|furry)\s+){0,2}"
)
POSSESSIONS = _words(
    """
    car truck van suv jeep bike bicycle motorcycle motorbike scooter e-bike house apartment condo
    cabin cottage boat kayak canoe rv camper laptop computer pc macbook phone iphone smartphone
    tablet ipad kindle camera tv television guitar piano violin ukulele cello keyboard drone
    telescope watch smartwatch console playstation xbox printer treadmill grill tent
    """
) | frozenset({"sewing machine", "drum set", "drum kit", "3d printer", "nintendo switch"})
POSSESSION_ADJECTIVES = (
    r"(?:(?:new|brand[\s-]new|used|second[\s-]hand|electric|vintage|little|small|big|gaming|red"
    r"|blue|black|white|silver|green|acoustic|digital)\s+){0,2}"
)
#: Adverbs allowed between the subject and the verb: "I just moved", "I really love".
ADVERBS = (
    r"(?:(?:just|recently|finally|actually|currently|still|now|also|officially|already|even|really"
    r"|totally|absolutely|truly|definitely|honestly|both|all|so|literally|originally)\s+)*"
)
#: Preposition-led phrases that end a value: "a nurse at the clinic" -> "a nurse".
CLAUSE_BREAK = re.compile(
    r"\s*(?:[,;:()!?.…\"]|\s-\s|\s+(?:and|because|but|so|which|that|with|who|whom|where|when|since|as|after"
    r"|before|while|until|though|although|or|for|at|in|on|from|to|than|like|if|unless|whereas|by"
    r"|during|anymore|any\s+more|too|either|again|though|now|here|there|lately|recently|every|all"
    r"|very|so\s+much|a\s+lot|as\s+well)\b)",
    _I,
)
_NAME_WORD = re.compile(r"(?:[A-Z][\w'-]*|St\.|Mt\.|[A-Z]\.(?:[A-Z]\.)+)")
_NAME_JOINERS = frozenset({"of", "de", "la", "del", "van", "von", "da"})
_TITLE_SMALL_WORDS = frozenset({"of", "the", "to", "in", "and", "a", "an", "on", "for", "with", "at", "&"})
#: Capitalised words that are not names of people, places or organisations.
NOT_PROPER = _words(
    """
    i i'm i've i'd i'll me my we us our you your he she it they them this that the a an and but or
    so then there here hey hi hello yes no ok okay wow oh thanks thank please sorry god
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday christmas easter thanksgiving
    halloween today tomorrow yesterday tonight mom dad mum grandma grandpa lol haha omg
    """
)
PRONOUN_STARTS = _words(
    """
    it its it's this that these those them they you your yours him his her hers me my mine us our
    ours myself yourself how what when where why who whom which whether everything anything
    something nothing everyone anyone someone all both each every such some any no none one being
    having getting seeing hearing to there here so that's their theirs his my our its i we
    """
)
#: Single words too vague to stand for a preference: "I love going (for walks)".
VAGUE_GERUNDS = _words(
    "going doing getting having making taking being trying seeing hearing coming caring playing"
)
#: Words that may come right before a first-person subject without making it a relative clause
#: ("that's why I love X" states a preference; "the things I love make ..." does not).
CLAUSE_OPENERS = _words(
    """
    and but so because cause 'cause why when since as now also honestly yes yeah oh well plus
    though although actually really just still then while personally definitely totally
    seriously anyway lol haha wow ok okay cool great too especially how much where hey hi or
    today lately recently always know mean
    """
)
_THIRD_PERSON = {"my": "their", "our": "their", "me": "them", "us": "them", "mine": "theirs",
                 "myself": "themselves", "ourselves": "themselves"}  # fmt: skip


def third_person(words: list[str]) -> list[str] | None:
    """``words`` with first-person object pronouns made third-person ("my" -> "their").

    Returns None when a first-person subject ("I", "we") is inside: an embedded clause.
    """
    if any(word.lower() in ("i", "we") for word in words):
        return None
    return [_THIRD_PERSON.get(word.lower(), word) for word in words]


#: Objects too vague to be a preference: "I love the idea", "I like that".
VAGUE_OBJECTS = _words(
    """
    idea ideas thought thoughts way fact feeling feelings vibe vibes energy support advice update
    updates news pic pics photo photos picture pictures sound look looks name story stories
    suggestion suggestions tip tips thing things stuff moment moments time times part concept
    message attitude spirit enthusiasm kind sort lot bit one ones chance opportunity chat talk
    mindset plan plans progress work job colors colours details detail sentiment reminder memory
    memories reason reasons aspect feature features
    """
)
#: Nouns after "the" that still name a general preference: "I love the outdoors".
GENERIC_THE_OBJECTS = _words(
    "outdoors beach mountains ocean sea rain snow countryside sun forest woods city lake"
)
#: Parts of one's own home: "tackle the bathroom" names the speaker's bathroom, "the museum" nothing.
HOME_OBJECTS = _words(
    "house home apartment flat garden yard backyard garage basement attic kitchen bathroom bedroom closet"
    " lawn roof porch patio"
)
#: Verbs that are a whole plan alone ("planning to travel"); any other verb needs what it acts on
#: ("planning to dedicate [this Friday to admin tasks]", "to start [with a meditation session]").
COMPLETE_VERBS = _words(
    """
    travel ski snowboard hike camp swim surf sail fish hunt retire graduate volunteer exercise meditate
    relocate emigrate elope marry relax rest garden cycle bike jog run skate dance paint bake cook downsize
    """
)
#: Times of the week or day: "I prefer Saturday mornings" says when, not what.
TIME_WORDS = _words(
    """
    monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays
    saturdays sundays morning mornings afternoon afternoons evening evenings night nights weekend weekends
    weekday weekdays day days
    """
)
#: Punctuation that ends a value, not inside a name or a number: "St. George's", "Node.js", "9:30",
#: "4.7.0", "1,500" stay whole.
PUNCTUATION_BREAK = (
    r"(?<!\d),|,(?!\d)|(?<!\d):|:(?!\d)|[;()!?]"
    r"|(?<!\bSt)(?<!\bMt)(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bJr)(?<!\bvs)\.(?!\w)"
)
#: What one plans as a noun: "I'm planning a trip to Lisbon", "a big family reunion".
PLANNED_THINGS = _words(
    """
    trip vacation holiday visit party reunion wedding move getaway tour celebration dinner surprise
    retreat picnic barbecue bbq concert event fundraiser workshop hike road-trip staycation
    honeymoon cruise launch renovation
    """
)
GENERIC_PLAN_WORDS = STOPWORDS | _words("do be get go make try have see it that this so too")
_CAPITAL_START = re.compile(r"[A-Z]")


def trim_value(text: str, max_words: int) -> str:
    """``text`` cut at the first clause boundary, at most ``max_words`` words, stripped."""
    cut = CLAUSE_BREAK.search(text)
    head = text[: cut.start()] if cut else text
    return " ".join(head.split()[:max_words]).strip(" '\"")


def proper_run(text: str, max_words: int = 4, *, possessive: bool = False) -> tuple[str, str] | None:
    """The proper name at the start of ``text`` ("the" dropped) and the text after it.

    Returns None when ``text`` does not start with a capitalised word, when the name is a common
    word (months, "I", "Mom"), or when the name only modifies a following lower-case noun
    ("Pride parade"), which means it is not the whole value.

    Args:
        text: where the name should start.
        max_words: longest name taken.
        possessive: for people and pets: a name ending in "'s" is the name without it ("Max's
            school" -> "Max"), and a lower-case word may follow (a verb: "Rex loves").
    """
    text = text.lstrip()
    if text[:4].lower() == "the ":
        text = text[4:]
    words: list[tuple[str, int]] = []
    for token in re.finditer(r"\S+", text):
        raw = token.group(0)
        word = raw if _NAME_WORD.fullmatch(raw) else raw.rstrip(',.!?;:)"…')
        joiner = word in _NAME_JOINERS and bool(words)
        if len(words) == max_words or not (_NAME_WORD.fullmatch(word) or joiner):
            break
        words.append((word, token.start() + len(word)))
        if word != raw:
            break
    while words and words[-1][0] in _NAME_JOINERS:
        words.pop()
    if not words:
        return None
    name, rest = " ".join(word for word, _ in words), text[words[-1][1] :]
    owner = possessive and name.endswith("'s")
    name = name[:-2] if owner else name
    if (name.lower() in NOT_PROPER and name != "US") or not (possessive or ends_phrase(rest)):
        return None
    return name, rest


def title_run(text: str, max_words: int = 6) -> str | None:
    """A title-case name at the start of ``text``, small words allowed inside ("Back to the Future")."""
    tokens = [token.rstrip(',.!?;:)"…') for token in text.split()]
    raw = text.split()
    words: list[str] = []
    for index, word in enumerate(tokens[: max_words + 2]):
        small = bool(words) and word.lower() in _TITLE_SMALL_WORDS and _capital_follows(raw, index)
        if not (word[:1].isupper() or small):
            break
        words.append(word)
        if word != raw[index] or len(words) == max_words:
            break
    while words and not words[-1][:1].isupper():
        words.pop()
    if not words or " ".join(words).lower() in NOT_PROPER:
        return None
    return " ".join(words)


def _capital_follows(tokens: list[str], index: int) -> bool:
    """Whether small title words from ``index`` on lead to a capitalised word ("to the Future")."""
    for token in tokens[index:]:
        if token[:1].isupper():
            return True
        if token.lower() not in _TITLE_SMALL_WORDS or token != token.rstrip(',.!?;:)"…'):
            return False
    return False


def ends_phrase(rest: str) -> bool:
    """Whether ``rest`` (what follows a value) starts at a phrase boundary.

    A following lower-case content word means the value was only a modifier: "a dog toy",
    "LGBTQ community".
    """
    following = re.match(r"\s*([A-Za-z][\w'-]*)", rest)
    if following is None or rest[: following.start(1)].strip():
        return True
    word = following.group(1)
    return (
        not word.islower()
        or word in STOPWORDS
        or word.endswith("ly")
        or CLAUSE_BREAK.match(" " + word) is not None
        or word
        in {"last", "next", "ago", "this", "yesterday", "today", "tonight", "together", "named", "called"}
    )


def is_proper(value: str) -> bool:
    """Whether ``value`` starts with a capital letter (it keeps its capitalisation)."""
    return bool(_CAPITAL_START.match(value))


def article(noun: str) -> str:
    """``noun`` with "a" or "an" in front."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def strip_article(text: str) -> str:
    """``text`` without a leading "a", "an" or "the"."""
    return re.sub(r"^(?:a|an|the)\s+", "", text.strip(), flags=_I)


def job_title(text: str, *, creative: bool) -> str | None:
    """The job title that ``text`` starts with: "a senior nurse at the clinic" -> "senior nurse".

    The words up to the first clause boundary must be an optional article, at most two
    modifiers ("high school") and a known title, nothing else: "a big fan" and "a nurse
    shark" are not jobs.

    Args:
        text: what follows "I'm" / "I work as" etc.
        creative: an explicit job phrase ("I work as", "a job as"): also accept titles that are
            often hobbies ("painter") and any qualifying word ("product designer").
    """
    words = [word.strip("-") for word in strip_article(trim_value(text, 8)).lower().split()]
    while words and (words[-1] in STOPWORDS or not words[-1]):
        words.pop()
    modifiers: list[str] = []
    while len(words) > 1 and len(modifiers) < 2 and _is_modifier(words[0], explicit=creative):
        modifiers.append(words.pop(0))
    title = " ".join(words)
    if title in JOB_TITLES or (creative and title in CREATIVE_TITLES):
        return " ".join([*modifiers, title])
    return None


def _is_modifier(word: str, *, explicit: bool) -> bool:
    if word in JOB_MODIFIERS:
        return True
    return explicit and word.isalpha() and word not in STOPWORDS and word not in JOB_TITLES
