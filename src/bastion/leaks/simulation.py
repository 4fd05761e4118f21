"""Simulated items and leaks, to measure how well tracing works before it is needed.

Used by the leak-tracing tests and ``benchmarks/leaks.py``, and usable by an
owner who wants to know how much evidence a project's own items carry
(``len(find_slots(text))`` per item is the number to look at: about 24 readable
slots identify one person among 1,000 from one intact item).

* :func:`generate_items` writes varied English prose (team updates, research
  notes, support answers, travel reports) of about ``words`` words, drawing
  every canonical form at random (British or American spelling, with or
  without serial commas, contracted or not), so the canonical side of each slot
  is not always the same form. It is rich in slot opportunities on purpose;
  real items typically carry fewer (see the benchmark notes).
* The attacks model what happens to leaked text: a copy through an HTML page
  and a sanitiser, Unicode normalisation, OCR-style character errors, an
  excerpt, obfuscation with invisible and compatibility characters, and a
  paraphrase (which no wording-level mark survives).
"""

from __future__ import annotations

import html
import random
import re
import unicodedata
from collections.abc import Callable

# --------------------------------------------------------------------------- prose generator

_TEAMS = [
    "the support team", "our analysts", "the research group", "the night shift", "the editors", "the field engineers",
    "the volunteers", "the pilot customers", "the finance office", "the design crew", "the warehouse staff",
    "the interns", "the review board", "the regional managers", "the translators", "the lab technicians",
]  # fmt: skip
_THINGS = [
    "the quarterly report", "the onboarding flow", "the migration plan", "the survey results", "the new pricing page",
    "the archive", "the test harness", "the field notes", "the training schedule", "the supplier contract",
    "the visitor guide", "the incident timeline", "the budget draft", "the style manual", "the release checklist",
    "the seating plan", "the inventory sheet", "the safety briefing", "the grant proposal", "the route map",
]  # fmt: skip
_NOUNS = [
    "invoices", "receipts", "contracts", "shipping labels", "photos", "maps", "notebooks", "sensors", "cables",
    "batteries", "tickets", "badges", "forms", "keys", "manuals", "samples", "boxes", "folders", "chairs", "lamps",
    "printers", "tablets", "brochures", "posters", "spreadsheets", "recordings", "transcripts", "slides",
]  # fmt: skip
_ADJECTIVES = [
    "slow", "reliable", "confusing", "helpful", "expensive", "fragile", "consistent", "noisy", "careful", "thorough",
    "outdated", "clear", "awkward", "tidy", "generous", "strict", "patient", "cautious",
]  # fmt: skip
_PLACES = [
    "the warehouse", "the north office", "the harbour", "the lab", "the visitor centre", "the old theatre",
    "the library", "the depot", "the annex", "the training room", "the main hall", "the loading dock",
]  # fmt: skip
_IZE = [
    "organi", "prioriti", "summari", "optimi", "standardi", "finali", "categori", "visuali", "normali", "customi",
    "recogni", "reali", "minimi", "emphasi", "stabili", "moderni",
]  # fmt: skip
_OUR = ["colour", "behaviour", "flavour"]


class _Writer:
    """Random choices for one item; each helper returns a canonical form picked at random."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.british = rng.random() < 0.5
        self.curly = rng.random() < 0.5
        self.dash = rng.choice([" — ", "—", " - "])

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def neg(self, expanded: str, contracted: str) -> str:
        return self.pick(expanded, contracted)

    def team(self) -> str:
        return self.pick(*_TEAMS)

    def thing(self) -> str:
        return self.pick(*_THINGS)

    def adj(self) -> str:
        return self.pick(*_ADJECTIVES)

    def place(self) -> str:
        place = self.pick(*_PLACES)
        if not self.british:
            place = place.replace("centre", "center").replace("theatre", "theater").replace("harbour", "harbor")
        return place

    def items(self, count: int = 3) -> str:
        words = self.rng.sample(_NOUNS, count)
        serial = "," if self.rng.random() < 0.5 else ""
        return ", ".join(words[:-1]) + f"{serial} {self.pick('and', 'or')} {words[-1]}"

    def ize(self, suffix: str = "e") -> str:
        return self.pick(*_IZE) + ("s" if self.british else "z") + suffix

    def our(self) -> str:
        word = self.pick(*_OUR)
        return word if self.british else word.replace("our", "or")

    def spell(self, british: str, american: str) -> str:
        return british if self.british else american

    def quote(self, text: str) -> str:
        return f"“{text}”" if self.curly else f'"{text}"'

    def syn(self, *forms: str) -> str:
        return self.pick(*forms)


_Template = Callable[[_Writer], str]

_TEMPLATES: list[_Template] = [
    lambda w: (
        f"{w.team().capitalize()} {w.neg('do not', 'don’t')} want to {w.ize()} {w.thing()} until {w.syn('we are', 'we’re')} sure about the numbers."
    ),
    lambda w: (
        f"We checked the {w.items()} before lunch, {w.syn('although', 'though')} nobody could find the spare set."
    ),
    lambda w: (
        f"{w.syn('Moreover,', 'Furthermore,')} {w.team()} {w.neg('cannot', 'can’t')} reach {w.place()} {w.syn('toward', 'towards')} the end of the week."
    ),
    lambda w: f"It is {w.adj()} work{w.dash}{w.syn('perhaps', 'maybe')} the most {w.adj()} part of the job.",
    lambda w: (
        f"The manager called it {w.quote(w.pick('a reasonable compromise', 'good enough for now', 'the safe option', 'a temporary fix'))} and moved on."
    ),
    lambda w: (
        f"{w.syn('For example,', 'For instance,')} the {w.our()} of the new {w.pick('labels', 'signs', 'covers', 'screens')} {w.neg('does not', 'doesn’t')} match the old ones."
    ),
    lambda w: f"They are planning to {w.ize()} the {w.items()} {w.syn('among', 'amongst')} the three sites.",
    lambda w: (
        f"{w.syn('In addition,', 'Additionally,')} the {w.pick('email', 'e-mail')} from {w.team()} {w.neg('did not', 'didn’t')} mention {w.thing()}."
    ),
    lambda w: (
        f"If you are unsure, ask {w.team()}; they {w.neg('will not', 'won’t')} mind, and they {w.neg('have not', 'haven’t')} complained before."
    ),
    lambda w: (
        f"The {w.pick('dataset', 'data set')} is small, so it is {w.adj()} to {w.ize()} it by hand{w.dash}{w.syn('perhaps', 'maybe')} an afternoon of work."
    ),
    lambda w: (
        f"We {w.neg('should not', 'shouldn’t')} rely on {w.thing()} alone; {w.team()} and the {w.pick('auditors', 'drivers', 'cleaners', 'clients')} help {w.syn('each other', 'one another')} {w.syn('a lot', 'often')}."
    ),
    lambda w: (
        f"{w.syn('Therefore,', 'Thus,')} the visit to {w.place()} {w.neg('is not', 'isn’t')} {w.adj()}, {w.syn('although', 'though')} it is long."
    ),
    lambda w: (
        f"The new {w.pick('website', 'web site')} lists {w.items()}, which {w.neg('was not', 'wasn’t')} the case last year."
    ),
    lambda w: (
        f"Nobody could {w.ize()} the notes{w.dash}they {w.neg('were not', 'weren’t')} {w.spell('labelled', 'labeled')}, and the {w.our()} was off."
    ),
    lambda w: (
        f"{w.syn('In short,', 'In brief,')} we {w.neg('have not', 'haven’t')} {w.ize('ed')} {w.thing()} yet, and {w.syn('we are', 'we’re')} behind."
    ),
    lambda w: (
        f"She said the plan was {w.quote(w.pick('ambitious but doable', 'too early to judge', 'mostly on track', 'worth a second look'))}, and {w.team()} agreed."
    ),
    lambda w: (
        f"We moved {w.syn('a lot of', 'lots of')} {w.pick(*_NOUNS)} to {w.place()} in order to free the {w.pick('hallway', 'desk', 'shelf', 'van')}."
    ),
    lambda w: (
        f"The {w.spell('modelling', 'modeling')} work {w.neg('does not', 'doesn’t')} {w.syn('usually', 'often')} need {w.items()}."
    ),
    lambda w: (
        f"{w.team().capitalize()} {w.neg('would not', 'wouldn’t')} {w.ize()} anything {w.syn('while', 'whilst')} the audit was open."
    ),
    lambda w: (
        f"Our {w.spell('neighbours', 'neighbors')} at {w.place()} {w.neg('are not', 'aren’t')} happy with the noise, {w.syn('although', 'though')} they {w.neg('did not', 'didn’t')} say so."
    ),
    lambda w: f"{w.syn('Perhaps', 'Maybe')} {w.team()} {w.neg('will not', 'won’t')} need the {w.items()} after all.",
    lambda w: (
        f"I am not sure it {w.neg('has not', 'hasn’t')} been {w.ize('ed')}{w.dash}the {w.spell('judgement', 'judgment')} call was {w.adj()}."
    ),
    lambda w: (
        f"They are {w.adj()} about the {w.spell('per cent', 'percent')} figures, {w.syn('although', 'though')} the trend {w.neg('is not', 'isn’t')} new."
    ),
    lambda w: (
        f"The {w.spell('grey', 'gray')} {w.pick('folders', 'boxes', 'crates', 'binders')} hold the {w.items()}; we {w.neg('cannot', 'can’t')} {w.ize()} them today."
    ),
    lambda w: (
        f"{w.syn('Afterward', 'Afterwards')}, {w.team()} {w.neg('did not', 'didn’t')} {w.ize()} the {w.spell('colour', 'color')} charts."
    ),
    lambda w: (
        f"You are welcome to {w.ize()} {w.thing()}, but it {w.neg('should not', 'shouldn’t')} take more than an hour."
    ),
    lambda w: (
        f"{w.team().capitalize()} {w.neg('have not', 'haven’t')} {w.ize('ed')} the {w.items()}, and {w.syn('they are', 'they’re')} not in a hurry."
    ),
    lambda w: (
        f"The {w.spell('travelling', 'traveling')} exhibit {w.syn('toward', 'towards')} {w.place()} {w.neg('was not', 'wasn’t')} {w.adj()} at all."
    ),
    lambda w: (
        f"We {w.neg('do not', 'don’t')} think the {w.spell('cancelled', 'canceled')} order was {w.adj()}{w.dash}it was {w.adj()}."
    ),
    lambda w: (
        f"{w.syn('Although', 'Though')} {w.team()} {w.neg('could not', 'couldn’t')} attend, {w.syn('they are', 'they’re')} keen to {w.ize()} the next visit."
    ),
]


# Sentences with no slot opportunity, to dilute the generator down to ordinary prose.
_PLAIN: list[_Template] = [
    lambda w: f"The meeting with {w.team()} ran for two hours.",
    lambda w: f"Most of the work happened at {w.place()} during the second week.",
    lambda w: f"{w.team().capitalize()} asked for more time to review {w.thing()}.",
    lambda w: "The results were mixed but useful for planning the next stage.",
    lambda w: "A short summary went out to everyone on Friday morning.",
    lambda w: f"Several people pointed out gaps in {w.thing()}.",
    lambda w: "The new process saves time on routine checks.",
    lambda w: "Nobody expected the change to take this long.",
    lambda w: "We kept a log of every decision in a shared document.",
    lambda w: "The first draft was too long and had to be cut by half.",
    lambda w: f"{w.team().capitalize()} found two mistakes in the totals.",
    lambda w: "The budget for the next quarter depends on these figures.",
    lambda w: f"Visitors at {w.place()} gave mostly positive feedback.",
    lambda w: "The old tool still works for small jobs.",
    lambda w: "Training sessions will continue every other week.",
]


def generate_items(count: int, *, seed: int = 0, words: int = 200, plain_share: float = 0.0) -> list[str]:
    """``count`` prose items of about ``words`` words, reproducible from ``seed``.

    ``plain_share`` is the share of sentences drawn from templates without any
    slot opportunity: 0 gives slot-rich prose (about 45-50 slots per 200 words),
    0.8 is close to ordinary prose (about 12 per 200 words).
    """
    rng = random.Random(seed)
    items = []
    for _ in range(count):
        writer = _Writer(rng)
        sentences: list[str] = []
        total = 0
        order = rng.sample(range(len(_TEMPLATES)), len(_TEMPLATES))
        for index in order:
            while rng.random() < plain_share:
                plain = rng.choice(_PLAIN)(writer)
                sentences.append(plain)
                total += len(plain.split())
            if total >= words:
                break
            sentence = _TEMPLATES[index](writer)
            sentences.append(sentence)
            total += len(sentence.split())
            if total >= words:
                break
        paragraphs, current = [], []
        for sentence in sentences:
            current.append(sentence)
            if len(current) >= rng.randint(3, 5):
                paragraphs.append(" ".join(current))
                current = []
        if current:
            paragraphs.append(" ".join(current))
        text = "\n\n".join(paragraphs)
        if not writer.curly:
            text = text.replace("’", "'")
        items.append(text)
    return items


# --------------------------------------------------------------------------- attacks


def copy_paste(text: str, rng: random.Random) -> str:
    """The variant text, unchanged."""
    return text


def html_sanitiser(text: str, rng: random.Random) -> str:
    """Published as HTML (escaped, tagged, some &nbsp;), then pasted through a sanitiser."""
    escaped = html.escape(text, quote=True)
    words = escaped.split(" ")
    for i in range(len(words)):
        roll = rng.random()
        if roll < 0.05:
            words[i] = f"<b>{words[i]}</b>"
        elif roll < 0.08:
            words[i] = f'<span class="x">{words[i]}</span>'
    page = "&nbsp;".join(w if rng.random() < 0.9 else w + "&nbsp;" for w in words)
    page = "".join(f"<p>\n  {p}\n</p>\n" for p in page.split("\n\n"))
    stripped = re.sub(r"<[^>]*>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(stripped)).strip()


_ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060"]


def nfkc_zero_width(text: str, rng: random.Random) -> str:
    """Unicode NFKC and zero-width stripping, as tools that scrub invisible watermarks do."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if unicodedata.category(ch) != "Cf")


def obfuscate(text: str, rng: random.Random) -> str:
    """Invisible characters and look-alike compatibility forms inserted to defeat matching."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isalpha() and rng.random() < 0.02:
            ch = chr(ord(ch) + 0xFEE0)  # fullwidth form
        out.append(ch)
        if rng.random() < 0.03:
            out.append(rng.choice(_ZERO_WIDTH))
    return "".join(out).replace("fi", "ﬁ")


_OCR = {"m": "rn", "l": "1", "O": "0", "o": "0", "e": "c", "c": "e", "i": "l", "S": "5", "B": "8", "n": "h", "u": "v"}


def char_edits(text: str, rng: random.Random, rate: float = 0.01) -> str:
    """OCR-style errors on ``rate`` of the characters: confusions, drops and stray characters."""
    out = []
    for ch in text:
        if rng.random() >= rate:
            out.append(ch)
            continue
        roll = rng.random()
        if roll < 0.5:
            out.append(_OCR.get(ch, rng.choice("aeiourstnl")))
        elif roll < 0.75:
            continue
        else:
            out.append(ch + rng.choice("aeiourstnl.,"))
    return "".join(out)


def half_excerpt(text: str, rng: random.Random) -> str:
    """A contiguous half of the item, cut at word boundaries."""
    words = text.split(" ")
    length = max(1, len(words) // 2)
    start = rng.randint(0, len(words) - length)
    return " ".join(words[start : start + length])


_PARAPHRASE_RULES: list[tuple[str, str]] = [
    (r"(?i)\bdon['’]t\b", "do not"), (r"(?i)\bdoesn['’]t\b", "does not"), (r"(?i)\bdidn['’]t\b", "did not"),
    (r"(?i)\bisn['’]t\b", "is not"), (r"(?i)\baren['’]t\b", "are not"), (r"(?i)\bwasn['’]t\b", "was not"),
    (r"(?i)\bweren['’]t\b", "were not"), (r"(?i)\bcan['’]t\b|\bcannot\b", "are unable to"), (r"(?i)\bwon['’]t\b", "will not"),
    (r"(?i)\bwouldn['’]t\b", "would not"), (r"(?i)\bcouldn['’]t\b", "could not"), (r"(?i)\bshouldn['’]t\b", "should not"),
    (r"(?i)\bhasn['’]t\b", "has not"), (r"(?i)\bhaven['’]t\b", "have not"), (r"(?i)\bwe['’]re\b", "we are"),
    (r"(?i)\bthey['’]re\b", "they are"), (r"(?i)\bit['’]s\b", "it is"), (r"(?i)\byou['’]re\b", "you are"),
    (r",? (and|or) ", r" \1 "), (r"[“”]", '"'), (r" ?— ?| - ", ", "),
    (r"(?i)\b(organi|summari|optimi|standardi|finali|categori|visuali|normali|customi|recogni|reali|minimi|emphasi|stabili|moderni|prioriti)s", r"\1z"),
    (r"(?i)\b(col|behavi|fav|neighb|lab|hon|flav|harb)our", r"\1or"), (r"(?i)\bcentre\b", "center"), (r"(?i)\btheatre\b", "theater"),
    (r"(?i)\btowards?\b", "to"), (r"(?i)\bamongst\b|\bamong\b", "between"), (r"(?i)\bperhaps\b|\bmaybe\b", "possibly"),
    (r"(?i)\bfor (example|instance)\b", "say"), (r"(?i)\balthough\b|\bthough\b", "even if"), (r"(?i)\bwhilst\b|\bwhile\b", "as long as"),
    (r"(?i)\b(moreover|furthermore|additionally|in addition),", "Also,"), (r"(?i)\b(therefore|thus),", "So,"),
    (r"(?i)\bin (short|brief),", "Overall,"), (r"(?i)\be-?mail\b", "message"), (r"(?i)\bweb ?site\b", "site"),
    (r"(?i)\bdata ?set\b", "collection"), (r"(?i)\bper ?cent\b", "%"), (r"(?i)\bgr[ae]y\b", "dark"),
    (r"(?i)\beach other\b|\bone another\b", "together"), (r"(?i)\b(a lot of|lots of)\b", "many"),
    (r"(?i)\bmodel+ing\b", "model building"), (r"(?i)\btravel+ing\b", "touring"), (r"(?i)\bcancel+ed\b", "dropped"),
    (r"(?i)\blabel+ed\b", "marked"), (r"(?i)\bjudge?ment\b", "decision"), (r"(?i)\bafterwards?\b", "later"),
]  # fmt: skip


def paraphrase(text: str, rng: random.Random) -> str:
    """A rewording: every stylistic choice normalised or replaced, sentences reordered and trimmed."""
    for pattern, replacement in _PARAPHRASE_RULES:
        text = re.sub(pattern, replacement, text)
    sentences = re.split(r"(?<=[.!?])\s+", text.replace("\n\n", " "))
    rng.shuffle(sentences)
    kept = [s for s in sentences if rng.random() < 0.9]
    return " ".join(kept)


ATTACKS: dict[str, Callable[[str, random.Random], str]] = {
    "copy": copy_paste,
    "html_sanitiser": html_sanitiser,
    "nfkc_zero_width": nfkc_zero_width,
    "obfuscation": obfuscate,
    "char_edits_1pct": char_edits,
    "half_excerpt": half_excerpt,
    "paraphrase": paraphrase,
}

# Canary templates and paraphrases that restate the same facts in other words and formats.
CANARY_TEXT = (
    "Pilot summary. The {place} pilot reached {figure} weekly active users by {date}, according to {name}, "
    "who coordinated the rollout. Feedback was broadly positive, and the team plans a second phase."
)


def paraphrase_canary(fact: dict[str, str], rng: random.Random) -> str:
    """A human-style rewrite of a rendered canary: same facts, new wording and formats."""
    figure = fact["figure"].replace(",", rng.choice(["", ",", " "]))
    day, month = fact["date"].split(" ")
    date = rng.choice([f"{month} {day}", f"{day} {month}", f"the {day}th of {month}", f"{month[:3]}. {day}"])
    family = fact["name"].split(" ")[-1]
    forms = [
        f"According to {family}, roughly {figure} people were using it every week in {fact['place']} by {date}.",
        f"By {date} the rollout in {fact['place']} had about {figure} weekly users ({fact['name']} ran it).",
        f"{fact['name']} says usage hit {figure} a week at the {fact['place']} site before {date}; people liked it.",
    ]
    return rng.choice(forms)
