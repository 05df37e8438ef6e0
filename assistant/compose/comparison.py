"""Comparison questions: "Are A and B both ...?", "Is X older than Y?", "Which ..., X or Y?".

No single sentence answers them: the facts sit in two documents, one per side, and the answer
("Yes.", "No." or the side chosen) is written by comparing them. Each side is searched on its
own (the composer's `search_again`, the same retrieval as the question's), the sentence about
that side that best states the compared property is found, and the answer cites both sides'
sentences. A side whose sentences are missing gives no comparison: the plain answer is shown
instead, marked tentative. A "No." whose sentences only fail to mention the property, rather
than state another value of it ("Nevada" against "Michigan"), is tentative too.

Rules are about forms of questions and kinds of values (names, nationalities, years, amounts),
never about one question's words.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from assistant.compose.evidence import Piece, compose_answer, names
from assistant.compose.seam import ComposeContext
from assistant.ingest.sentences import looks_like_heading
from assistant.models import Answer
from assistant.store import chunk_key
from assistant.store.lexical import content_terms, words

Form = Literal["both", "same", "than", "which"]

_AUX = r"(?:are|were|is|was|did|do|does|have|has|had)"
#: "Are A and B both P?", "Are both A and B P?", "Were A and B of the same P?"
_JOINT = re.compile(rf"^\W*{_AUX}\s+(?P<both>both\s+)?(?P<a>.+?),?\s+and\s+(?P<rest>.+?)[\s?.!]*$", re.I)
_SAME = re.compile(r"\s+the\s+same\s+", re.I)
_BOTH_WORD = re.compile(r"\s+both\s+", re.I)
#: "Which P, X or Y?", "Which P: the X or the Y?", "Which band, X or Y, had more members?"
_WHICH_TAIL = re.compile(
    r"^\W*(?:which|who|whom|what)\b(?P<p>.+?)[,:]\s*(?P<a>[^,:?]+?),?\s+or\s+(?P<b>[^,:?]+?)[\s?.!]*$", re.I
)
_WHICH_INSIDE = re.compile(
    r"^\W*(?:which|who|whom|what)\b(?P<p1>[^,:]*),\s*(?P<a>[^,:?]+?),?\s+or\s+(?P<b>[^,:?]+?),\s*(?P<p2>.+?)"
    r"[\s?.!]*$",
    re.I,
)
#: a side is a name, not a clause ("Baran collaborate at any point after they")
_CLAUSE = re.compile(r"\b(?:he|she|it|they|we|you|after|before|when|while|because|if|who|which|that)\b", re.I)
_PARENTHESIS = re.compile(r"\([^()]*\)")
_LEADING_ARTICLE = re.compile(r"^(?:the|a|an)\s+", re.I)

#: comparatives that a date decides: the earlier year is the older one
_EARLIER = frozenset({"older", "earlier", "elder", "first"})
_LATER = frozenset({"younger", "later", "newer"})
#: comparatives that an amount decides, larger first
_MORE = frozenset({"more", "larger", "bigger", "taller", "longer", "higher", "greater", "heavier", "wider"})
_LESS = frozenset({"less", "fewer", "smaller", "shorter", "lower", "lighter", "narrower"})
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_AMOUNT = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
#: how far after an amount the property's noun may come ("52-story" -> "52 story"; "628 ft tall")
UNIT_WORDS = 3
_COMPARATIVE = "|".join(sorted(_EARLIER | _LATER | _MORE | _LESS))
#: "Is X older than Y?", "Was X born earlier than Y?", "Is X more populous than Y?"
_THAN = re.compile(
    rf"^\W*{_AUX}\s+(?P<a>.+?)\s+(?:born\s+)?(?P<adj>(?:more|less)\s+\w+|{_COMPARATIVE})\s+than\s+"
    r"(?P<b>.+?)[\s?.!]*$",
    re.I,
)

#: a country and its people are one value: "American" states "from the United States"
_NATIONS = {
    "usa": r"united states(?: of america)?|u\.s\.a?\.?|usa|america|american",
    "uk": r"united kingdom|britain|british|uk",
    "england": r"england|english",
    "scotland": r"scotland|scottish",
    "wales": r"wales|welsh",
    "ireland": r"ireland|irish",
    "france": r"france|french",
    "germany": r"germany|german",
    "italy": r"italy|italian",
    "spain": r"spain|spanish",
    "canada": r"canada|canadian",
    "australia": r"australia|australian",
    "japan": r"japan|japanese",
    "china": r"china|chinese",
    "india": r"india|indian",
    "russia": r"russia|russian",
    "mexico": r"mexico|mexican",
    "brazil": r"brazil|brazilian",
    "turkey": r"turkey|turkish",
    "sweden": r"sweden|swedish",
    "norway": r"norway|norwegian",
    "netherlands": r"netherlands|dutch",
    "poland": r"poland|polish",
    "austria": r"austria|austrian",
    "greece": r"greece|greek",
}
_NATION = re.compile("|".join(rf"\b(?P<{k}>{v})(?!\w)" for k, v in _NATIONS.items()), re.I)
#: the property is a nationality: only nationality values compare
_NATIONALITY = re.compile(r"\b(nationality|nationalities|citizenship|country|countries|origin)\b", re.I)
#: verbs and fillers of a property phrase that no sentence needs to repeat
_FILLER = frozenset(
    content_terms("located described used considered known called classified types type kinds kind")
)


@dataclass(frozen=True, slots=True)
class Comparison:
    """A recognised comparison: its form, the two sides as the question names them, and the
    compared property ("from the United States", "nationality", "older")."""

    form: Form
    sides: tuple[str, str]
    property: str


def recognise(question: str) -> Comparison | None:
    """The comparison a question asks, or None when it is not one of the forms above."""
    text = " ".join(question.split())
    if match := _THAN.match(text):
        return _made("than", match.group("a"), match.group("b"), match.group("adj"))
    if match := _WHICH_INSIDE.match(text):
        prop = f"{match.group('p1')} {match.group('p2')}"
        return _made("which", match.group("a"), match.group("b"), prop)
    if match := _WHICH_TAIL.match(text):
        return _made("which", match.group("a"), match.group("b"), match.group("p"))
    if match := _JOINT.match(text):
        return _joint(match.group("a"), match.group("rest"), bool(match.group("both")))
    return None


def _joint(first: str, rest: str, both_before: bool) -> Comparison | None:
    same = _SAME.split(rest, maxsplit=1)
    if len(same) == 2:
        second = _leading_name(same[0])
        return _made("same", first, second, same[1]) if second else None
    parts = _BOTH_WORD.split(f" {rest} ", maxsplit=1)
    if len(parts) == 2 and parts[0].strip():
        return _made("both", first, parts[0], parts[1])
    if not both_before:
        return None
    second = _leading_name(rest)
    return _made("both", first, second, rest[len(second) :]) if second else None


def _leading_name(text: str) -> str | None:
    """The capitalised name a phrase opens with ("Huernia described as ..." -> "Huernia")."""
    stripped = _LEADING_ARTICLE.sub("", text.strip())
    found = names(stripped, frozenset(w.lower() for w in stripped.split()[:1]))
    if found and found[0][0] == 0:
        return stripped[: found[0][1]].strip(" ,;:")
    return None


def _made(form: Form, first: str, second: str, prop: str) -> Comparison | None:
    sides = tuple(_LEADING_ARTICLE.sub("", s.strip(" ,;:")) for s in (first, second))
    prop = prop.strip(" ,;:?")
    if not all(words(s) for s in sides) or not prop or any(_CLAUSE.search(s) for s in sides):
        return None
    return Comparison(form, (sides[0], sides[1]), prop)


# --- values -------------------------------------------------------------------------------


def canonical_terms(text: str) -> frozenset[str]:
    """Content terms with every country or nationality as one term ("American" -> "nation:usa")."""
    rest = _NATION.sub(" ", text)
    return frozenset(content_terms(rest)) | {f"nation:{n}" for n in _nations(text)}


def _nations(text: str) -> list[str]:
    return [m.lastgroup for m in _NATION.finditer(text) if m.lastgroup]


def _values(sentence: str, sides: Sequence[str], nationality: bool) -> list[str]:
    """The names a sentence states, in order, other than the compared sides' own names.

    Parentheses are left out: they gloss (a native name, "Turkish: ...", dates), not state."""
    sentence = _PARENTHESIS.sub(" ", sentence)
    if nationality:
        return _nations(sentence)
    own = set().union(*(content_terms(s) for s in sides))
    found = []
    for start, end in names(sentence):
        name = sentence[start:end]
        nation = _nations(name)
        terms = set(content_terms(name))
        if terms and not terms & own:
            found.append(nation[0] if nation else " ".join(sorted(terms)))
    return found


@dataclass(frozen=True, slots=True)
class Property:
    """What a sentence must hold to state the property: its names and its other words, all of
    them ("jazz bands" is not stated by "a rock band": the qualifier is the point)."""

    names: frozenset[str]
    words: frozenset[str]

    @classmethod
    def of(cls, phrase: str) -> Property:
        terms = canonical_terms(phrase)
        capitalised = {
            t for i, w in enumerate(phrase.split()) if i > 0 and w[:1].isupper() for t in content_terms(w)
        }
        named = {t for t in terms if t.startswith("nation:")} | (capitalised & terms)
        return cls(frozenset(named), frozenset(terms - named - _FILLER))

    def coverage(self, terms: frozenset[str]) -> tuple[int, float]:
        """(names held, share of the other words held): higher states the property better."""
        share = len(self.words & terms) / len(self.words) if self.words else 1.0
        return len(self.names & terms), share

    def stated_by(self, terms: frozenset[str]) -> bool:
        held, share = self.coverage(terms)
        return held == len(self.names) and share == 1.0

    def named_by(self, terms: frozenset[str]) -> bool:
        """Whether a sentence holds all the property's names ("Gordon and Irish Setters"), or
        its words when it has none: a choice made on one common word is unsure."""
        return self.names <= terms if self.names else self.stated_by(terms)


# --- evidence -----------------------------------------------------------------------------


@dataclass(slots=True)
class SideEvidence:
    """The sentence about one side that best states the compared property."""

    side: str
    piece: Piece
    terms: frozenset[str]


def _about(side: str, sentence: str, title: str) -> bool:
    """A sentence is about a side when it names it, or sits in the document titled by it."""
    return _names_side(side, sentence) or _titled(side, title) > 0


def _names_side(side: str, text: str) -> bool:
    wanted = set(content_terms(side))
    if wanted:
        return wanted <= set(content_terms(text))
    # a name of function words only ("For Against") is looked for as written
    return re.search(rf"(?<!\w){re.escape(side)}(?!\w)", text, re.I) is not None


def _titled(side: str, title: str) -> int:
    """2 when the document's title is the side's name, 1 when it is with a qualifier in
    parentheses ("Ed Wood (film)"), else 0."""
    bare = _PARENTHESIS.sub(" ", title)
    if words(bare.lower()) != words(side.lower()):
        return 0
    return 1 if bare.strip() != title.strip() else 2


def _sentences(contexts: Iterable[ComposeContext]) -> list[tuple[Piece, str]]:
    """Every sentence of the contexts' chunks once, with its document's title."""
    seen: set[tuple[str, int]] = set()
    found: list[tuple[Piece, str]] = []
    for context in contexts:
        titles = {
            k: v.title
            for k, v in context.snapshot.document_meta(c.row.doc_id for c in context.chunks).items()
        }
        for retrieved in context.chunks:
            row = retrieved.row
            for sentence in context.snapshot.sentences(row.doc_id, row.first_sentence, row.last_sentence):
                if (sentence.doc_id, sentence.ord) in seen:
                    continue
                seen.add((sentence.doc_id, sentence.ord))
                text = row.text[sentence.start - row.start : sentence.end - row.start]
                if not looks_like_heading(text):
                    found.append(
                        (Piece(sentence, chunk_key(row.doc_id, row.ord), text), titles.get(row.doc_id, ""))
                    )
    return found


def _side_evidence(side: str, wanted: Property, pool: list[tuple[Piece, str]]) -> SideEvidence | None:
    """The sentence about `side` holding most of the property; the document's earliest on a tie
    (a document's opening sentence defines its subject)."""
    best: tuple[tuple[int, float, int, int], SideEvidence] | None = None
    for piece, title in pool:
        if not _about(side, piece.text, title):
            continue
        terms = canonical_terms(piece.text)
        held, share = wanted.coverage(terms)
        rank = (held, share, _titled(side, title), -piece.row.ord)
        if best is None or rank > best[0]:
            best = (rank, SideEvidence(side, piece, terms))
    return best[1] if best else None


# --- verdicts -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer's first words and whether the sentences state it or only fail to contradict."""

    lead: str
    stated: bool
    #: the side the answer names ("which X or Y"): its sentence is cited first
    chosen: SideEvidence | None = None


def _verdict(asked: Comparison, first: SideEvidence, second: SideEvidence) -> Verdict | None:
    if asked.form == "both":
        wanted = Property.of(asked.property)
        held = [wanted.stated_by(e.terms) for e in (first, second)]
        if all(held):
            return Verdict("Yes.", True)
        # a "No." is stated when the failing side names another value of the property's kind
        failing = first if not held[0] else second
        other = bool(wanted.names) and bool(_values(failing.piece.text, asked.sides, False))
        return Verdict("No.", other)
    if asked.form == "same":
        nationality = bool(_NATIONALITY.search(asked.property))
        values = [_values(e.piece.text, asked.sides, nationality) for e in (first, second)]
        if not all(values):
            return None
        return Verdict("Yes." if values[0][0] == values[1][0] else "No.", True)
    if asked.form == "than":
        chosen = _by_amount(asked.property, first, second)
        if chosen is None:
            return None
        return Verdict("Yes." if chosen is first else "No.", True)
    if chosen := _by_amount(asked.property, first, second):
        return Verdict(f"{chosen.side}.", True, chosen)
    if chosen := _by_coverage(asked.property, first, second):
        return Verdict(f"{chosen.side}.", Property.of(asked.property).named_by(chosen.terms), chosen)
    return None


def _by_amount(prop: str, first: SideEvidence, second: SideEvidence) -> SideEvidence | None:
    """The side that the comparative in `prop` picks by its year or amount; None without one."""
    words = {w.lower() for w in re.findall(r"\w+", prop)}
    if words & (_EARLIER | _LATER):
        pattern, smaller_wins = _YEAR, bool(words & _EARLIER)
    elif words & (_MORE | _LESS):
        pattern, smaller_wins = _AMOUNT, bool(words & _LESS)
    else:
        return None
    units = frozenset(content_terms(prop))
    found = [_first_number(pattern, e.piece.text, units) for e in (first, second)]
    if found[0] is None or found[1] is None or found[0] == found[1]:
        return None
    return first if (found[0] < found[1]) == smaller_wins else second


def _first_number(pattern: re.Pattern[str], text: str, units: frozenset[str]) -> float | None:
    """The first year in a sentence, or its first amount of something the property names
    ("more members": "5 members"); an amount is never a year ("formed in 1990")."""
    if pattern is _YEAR:
        match = _YEAR.search(text)
        return float(match.group(0)) if match else None
    flat = _PARENTHESIS.sub(" ", text)
    for match in _AMOUNT.finditer(flat):
        following = content_terms(" ".join(flat[match.end() :].split()[:UNIT_WORDS]))
        if not _YEAR.fullmatch(match.group(0)) and units & set(following):
            return float(match.group(0).replace(",", ""))
    return None


def _by_coverage(prop: str, first: SideEvidence, second: SideEvidence) -> SideEvidence | None:
    """The side whose sentence holds more of the property; None on a tie."""
    wanted = Property.of(prop)
    a, b = (wanted.coverage(e.terms) for e in (first, second))
    if a == b:
        return None
    return first if a > b else second


# --- the answer ---------------------------------------------------------------------------


def answer_comparison(
    context: ComposeContext, plain: Callable[[], Answer], score: Callable[[ComposeContext], float]
) -> Answer:
    """The comparison's answer with both sides' sentences cited, else `plain()`: as it is for a
    question that is no comparison, marked tentative for one whose sides lack evidence.

    `score` gives the calibrated chance that a context's passages answer its question; the
    answer's confidence is the lower of the two sides'.
    """
    asked = recognise(context.question)
    if asked is None:
        return plain()
    answered = _compared(asked, context, score)
    if answered is not None:
        return answered
    fallback = plain()
    fallback.tentative = not fallback.abstained
    return fallback


def _compared(
    asked: Comparison, context: ComposeContext, score: Callable[[ComposeContext], float]
) -> Answer | None:
    wanted = Property.of(asked.property)
    evidence: list[SideEvidence] = []
    searched: list[ComposeContext] = []
    for side in asked.sides:
        hop = context.search_again(f"{side} {asked.property}") if context.search_again else None
        own = [hop] if hop is not None else []
        found = _side_evidence(side, wanted, _sentences([*own, context]))
        if found is None:
            return None
        evidence.append(found)
        searched.extend(own)
    first, second = evidence
    if (first.piece.row.doc_id, first.piece.row.ord) == (second.piece.row.doc_id, second.piece.row.ord):
        return None
    verdict = _verdict(asked, first, second)
    if verdict is None:
        return None
    confidence = min(score(c) for c in searched) if len(searched) == 2 else score(context)
    passages = list(context.passages)
    seen = {p.chunk_id for p in passages}
    for hop in searched:
        passages.extend(p for p in hop.passages if p.chunk_id not in seen)
        seen.update(p.chunk_id for p in hop.passages)
    joined = dataclasses.replace(context, passages=passages)
    cited = [first.piece, second.piece] if verdict.chosen is not second else [second.piece, first.piece]
    answer = compose_answer(joined, cited, round(confidence, 4))
    answer.answer = f"{verdict.lead} {answer.answer}"
    answer.tentative = not verdict.stated
    return answer
