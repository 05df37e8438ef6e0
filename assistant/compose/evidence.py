"""Evidence assembly: from the chosen sentences to cited answer text that says what was asked.

The selection step picks the sentences that answer; this step makes them readable on their own
and no longer than needed. The rules, in this order (the two on references apply to the best
sentence only: a runner-up supports the answer and is quoted as it is, since its antecedents
made answers long, sample p90 119 words, while they held the answer for 2 of 2,545 held-out
SQuAD questions):

- **Lists.** A question asking for several things ("Which countries ...", "What are the three
  pillars ...") is answered by the sentence that holds the items ("... pillars: deterrence,
  peace, and diplomacy."); when the best sentence holds the list, the runners-up without one
  are dropped.
  When the best sentence only announces the items (it ends with a colon, or the next sentence
  is a numbered or bulleted item), the next sentence is added.
- **People.** A personal pronoun ("he", "his", "she", "her") anywhere in the sentence, with no
  name before it in that sentence or in the answer's preceding sentence of the same document,
  is resolved to the nearest of the MAX_ANTECEDENTS sentences before it that names someone
  (a capitalised name, not a heading, and not itself a sentence whose "he" is unresolved). A
  lone capitalised first word counts as a name only when it also occurs capitalised mid-sentence
  nearby ("Pezeshkian recognizes ..." yes, "Officials met ..." no). That sentence is added, as
  its own citation when it is not adjacent, unless the sentence also leans on the one just
  before it ("He said this union ..."): then the sentences in between come too. When that
  sentence names the document's author (the "By NAME" byline near the top), or the sentence
  sits in a paragraph that opens with the author's name (an author bio) and no closer name
  exists, the author's name is written before the quote instead
  ("Mohammad Javad Zarif (the author): “He …” [1]"): quotes stay exact. When the question
  names someone that sentence names ("What are the pillars of Pezeshkian's policy?" answered by
  "He anchored ..."), nothing is added: the reader knows whom "he" means.
- **Other references.** A sentence that opens leaning on the one before ("They can use ...",
  "However, ...") or holds a demonstrative phrase anywhere whose noun it has not used before
  ("believes this provision can ...") pulls in the sentence before it, up to MAX_ANTECEDENTS
  back while each pulled one leans too; a heading is never pulled in. Calendar phrases ("this
  year") point at no sentence.
- **Answer-bearing span.** For "when", "who", "how many" and "where" questions, the date, name,
  number or place in each cited quote that is closest to the question's words is put on the
  citation as `highlight` (absolute offsets inside the quote's own); the quote never changes.
  Names and numbers the question already holds are not answers; for "who", a name beside a role
  ("X, former commander") or in full beats an organisation; for "where", a name after a
  preposition of place; for "how many", an amount beats a bare year.

The answer leads with the best sentence (selection puts it first): its citation starts at that
sentence, and the antecedents it pulled in and the other sentences follow as their own citations,
even when the best one leans on them ("this provision can serve as ..."): on held-out SQuAD the
best sentence holds the answer far more often than its antecedent does. Otherwise consecutive
sentences of one document become one citation, so every quote is a contiguous slice of the
stored text.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assistant.compose.answer_types import AnswerType, answer_type
from assistant.ingest.loaders import byline_author
from assistant.ingest.sentences import looks_like_heading
from assistant.models import Answer, Citation, page_at
from assistant.store import SentenceRow
from assistant.store.lexical import STOPWORDS, content_terms

if TYPE_CHECKING:
    from assistant.compose.seam import ComposeContext
    from assistant.store import ReadView

#: how many sentences back an answer may reach for the antecedent of a reference
MAX_ANTECEDENTS = 2
#: how much of a document's head is searched for its "By NAME" byline
BYLINE_CHARS = 1500
#: how far back a paragraph's opening is looked for (an author bio is short)
PARAGRAPH_LOOKBACK_CHARS = 3000

#: a sentence opening like this leans on the one before it ("They can use ...", "However, ...")
_OPENS_WITH_REFERENCE = re.compile(
    r"^\W*(this|that|these|those|it|its|he|she|they|them|his|her|their|such|the latter|"
    r"the former|both|there|thus|therefore|hence|accordingly|as a result|in (this|that) "
    r"(way|case|sense)|to (do )?(so|this|that)|for (this|that) reason|however|but|yet|"
    r"instead|moreover|furthermore|in addition|also|again|then|still)\b",
    re.I,
)
#: a demonstrative phrase anywhere ("believes this provision can ...") points back as well;
#: "this year" and its like point at the calendar, not at an earlier sentence
_DEMONSTRATIVE = re.compile(r"\b(?:this|these|such) ([a-z]+)", re.I)
_CALENDAR = frozenset(
    re.findall(
        r"\w+", "year week month day time morning evening summer winter spring autumn century decade era"
    )
)
#: pronouns that stand for a person, wherever they occur in the sentence
_PERSONAL_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers|himself|herself)\b", re.I)
#: a run of capitalised words, allowing particles and hyphens ("Jalal Khosh-chehre",
#: "University of Tehran")
_NAME_RUN = re.compile(
    r"\b[A-Z][\w’'-]*(?:\s+(?:(?:al|bin|ibn|de|van|von|der|da|of|of the)\s+)?(?:[A-Z]\.|[A-Z][\w’'-]*))*"
)
#: words that make a name an organisation or an office rather than a person
_ORGANISATION = re.compile(
    r"\b(corps|council|union|party|ministry|university|committee|guards?|army|forces|bank|"
    r"company|court|assembly|parliament|agency|association|organi[sz]ation|government|"
    r"administration|republic|nations|states|accords?|treaty|minister|president|secretary)\b",
    re.I,
)
#: a person named with a role beside them: "Mohsen Rezaei, former commander", "journalist Tucker Carlson"
_APPOSITIVE_AFTER = re.compile(r"^,\s+(?!(?:and|or|but|which|who)\b)(?:the\s+|a\s+)?[a-z]")
_ROLE_BEFORE = re.compile(
    r"\b(journalist|commander|minister|president|leader|secretary|spokes(?:man|woman|person)|author|"
    r"writer|director|chairman|chief|general|king|queen|prince|professor|dr\.?|mr\.?|mrs\.?|ms\.?|"
    r"senator|governor|mayor|ambassador|representative|envoy|analyst|scientist)\s+$",
    re.I,
)
#: a place is usually named after a preposition of place ("at University of Tehran")
_LOCATIVE = re.compile(r"\b(in|at|from|to|near|into|across|throughout)\s+(the\s+)?$", re.I)
_NOT_NAMES = frozenset(
    re.findall(
        r"\w+",
        "january february march april may june july august september october november december "
        "monday tuesday wednesday thursday friday saturday sunday now yet still however thus mere "
        "eventually meanwhile instead moreover furthermore notably accordingly indeed finally "
        "today tomorrow yesterday",
    )
)
_LEADING_MARKER = re.compile(r"^[\s\-*•+\d.)]*")

#: a question that asks for several things: "which countries", "what are the three ...", "list"
_LIST_QUESTION = re.compile(
    r"^\W*(?:(?:which|what)\s+(?:are|were)\b|(?:which|what)\s+(?:\w+\s+)?(?!(?:does|is|was|has|"
    r"process|class|access|address|business|press|loss|status|basis|crisis|thesis|analysis)\b)"
    r"\w+[^s\W]s\b|(?:list|name)\s+(?:the|all)\b)|\b(?:two|three|four|five|six|seven|eight|"
    r"nine|ten|several)\s+\w+s\b",
    re.I,
)
#: a sentence that holds a list of items: "... pillars: a, b, and c", "such as a, b and c"
_HOLDS_LIST = re.compile(
    r"(?::|\bsuch as\b|\bincluding\b|\bnamely\b)[^.;:]*,[^.;:]*\b(?:and|or)\b\s+\S", re.I
)
#: the next sentence is a list item ("1. ...", "- ...")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+")

_DATE_SPAN = re.compile(
    r"\b(?:(?:[Ff]rom|[Bb]etween)\s+)?(?:(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
    r"(?:\s+(?:night|morning|evening))?,?\s+)?"
    r"(?:(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)\s+\d{1,2}(?:,?\s+\d{4})?"
    r"|\d{1,2}\s+(?:January|February|March|April|May|June|July|August|September|October|"
    r"November|December)(?:\s+\d{4})?"
    r"|(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December)(?:\s+(?:of\s+)?\d{4})?"
    r"|\d{3,4}s?(?:\s*(?:to|and|-|–|—)\s*\d{2,4})?(?:\s+(?:BC|AD|BCE|CE))?)\b",
)
_NUMBER_SPAN = re.compile(
    r"(?:\b(?:over|about|around|nearly|almost|more than|less than|fewer than|some|roughly|"
    r"approximately|at least)\s+)?(?:\$|£|€)?"
    r"(?P<number>\b\d[\d,]*(?:\.\d+)?|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|twenty|thirty|forty|fifty|hundred|thousand|dozens?|"
    r"hundreds|thousands|millions?|billions?)\b)"
    r"(?:\s*(?:%|percent\b|per cent\b|million\b|billion\b|thousand\b|hundred\b|bn\b|m\b))?"
    r"(?:\s+(?P<unit>[a-z][a-z-]+))?",
    re.I,
)
#: a bare year is a date, not an amount
_YEAR = re.compile(r"^(?:1[0-9]{3}|20[0-9]{2})s?$")


class ChosenSentence(Protocol):
    """What selection hands over: a sentence row, the chunk it was found in and its text."""

    @property
    def row(self) -> SentenceRow: ...
    @property
    def chunk_id(self) -> str: ...
    @property
    def text(self) -> str: ...


@dataclass(slots=True)
class Piece:
    """One sentence of the answer, with the chunk it is cited from."""

    row: SentenceRow
    chunk_id: str
    text: str


@dataclass(slots=True)
class Evidence:
    """The answer's sentences in reading order, and the author named before any of them."""

    pieces: list[Piece]
    #: (doc_id, ord) of a sentence -> the author's name to write before the quote holding it
    authors: dict[tuple[str, int], str]


# --- references ---------------------------------------------------------------------------


def refers_back(sentence: str) -> bool:
    """Whether a sentence needs the one before it to be understood.

    It does when it opens leaning back ("They can use ...") or holds a demonstrative phrase
    whose noun the sentence has not used before it: "believes this provision can ..." leans
    back; "criticized in papers ..., and the criticisms in these papers" does not.
    """
    return bool(_OPENS_WITH_REFERENCE.match(sentence)) or leans_on_previous(sentence)


def leans_on_previous(sentence: str) -> bool:
    """Whether a sentence needs the one just before it for more than whom "he" means: it opens
    with another reference ("They", "However") or holds a demonstrative phrase ("this union")."""
    opening = _OPENS_WITH_REFERENCE.match(sentence)
    if opening and not _PERSONAL_PRONOUN.fullmatch(opening.group(1)):
        return True
    for match in _DEMONSTRATIVE.finditer(sentence):
        noun = match.group(1).lower()
        if noun in STOPWORDS or noun in _CALENDAR:
            continue
        if not set(content_terms(noun)) & set(content_terms(sentence[: match.start()])):
            return True
    return False


def names(text: str, known: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Spans of capitalised names in a sentence, leading function words dropped ("When Corliss").

    Any word is capitalised at the start of a sentence, so a lone first word counts only when
    it is in `known` (words seen capitalised mid-sentence nearby): "Pezeshkian recognizes ..."
    names someone when "Pezeshkian" occurs nearby; "Officials met ..." names nobody.
    """
    lead = len(_LEADING_MARKER.match(text).group(0))  # type: ignore[union-attr]
    found = []
    for match in _NAME_RUN.finditer(text):
        tokens = list(re.finditer(r"\S+", match.group(0)))
        while tokens and _function_word(tokens[0].group(0)):
            tokens.pop(0)
        if not tokens:
            continue
        start = match.start() + tokens[0].start()
        if len(tokens) == 1 and start <= lead and tokens[0].group(0).lower() not in known:
            continue
        found.append((start, match.end()))
    return found


def _function_word(word: str) -> bool:
    lowered = word.lower().strip("’'")
    return lowered in STOPWORDS or lowered in _NOT_NAMES


def known_names(sentences: Iterable[str]) -> frozenset[str]:
    """Words capitalised after the first word of some sentence: names, not sentence openings."""
    found: set[str] = set()
    for sentence in sentences:
        lead = len(_LEADING_MARKER.match(sentence).group(0))  # type: ignore[union-attr]
        for match in _NAME_RUN.finditer(sentence):
            words = match.group(0).split()
            found.update(w.lower() for w in (words if match.start() > lead else words[1:]))
    return frozenset(found)


def names_someone(sentence: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether a sentence can be the antecedent of "he"/"she": it names someone and is not
    itself about a "he" named elsewhere ("From 2013, he served as ..." is not)."""
    return not unresolved_person(sentence, known) and bool(names(sentence, known))


def unresolved_person(sentence: str, known: frozenset[str] = frozenset()) -> bool:
    """Whether a personal pronoun in the sentence has no name before it in the sentence."""
    pronoun = _PERSONAL_PRONOUN.search(sentence)
    if pronoun is None:
        return False
    body = _LEADING_MARKER.sub("", sentence[: pronoun.start()])
    return not names(body, known)


# --- lists --------------------------------------------------------------------------------


def asks_for_list(question: str) -> bool:
    """Whether a question asks for several items ("which countries", "the three pillars")."""
    return bool(_LIST_QUESTION.search(question))


def holds_list(sentence: str) -> bool:
    """Whether a sentence enumerates items ("pillars: a, b, and c", "such as a, b and c")."""
    return bool(_HOLDS_LIST.search(sentence))


def announces_list(sentence: str, following: str | None) -> bool:
    """Whether the items of a list start after this sentence (a colon, or a list item next)."""
    if sentence.rstrip().endswith(":"):
        return True
    return following is not None and bool(_LIST_ITEM.match(following))


# --- the answer-bearing span --------------------------------------------------------------


def answer_span(kind: AnswerType | None, text: str, question: str) -> tuple[int, int] | None:
    """Offsets in `text` of the date, name, number or place that answers, or None.

    Among the spans of the asked kind, the one nearest to the words the text shares with the
    question wins (a sentence may hold several dates; the one next to "sworn in" answers
    "when was he sworn in"). Names the question already mentions are not answers.
    """
    spans = _typed_spans(kind, text, question)
    if not spans:
        return None
    anchors = _question_word_positions(text, question)
    if not anchors:
        return spans[0]

    def distance(span: tuple[int, int]) -> int:
        return min(max(start - span[1], span[0] - end, 0) for start, end in anchors)

    return min(spans, key=lambda s: (distance(s), s[0]))


def _typed_spans(kind: AnswerType | None, text: str, question: str) -> list[tuple[int, int]]:
    if kind is AnswerType.DATE:
        return [m.span() for m in _DATE_SPAN.finditer(text) if m.group(0).strip()]
    if kind is AnswerType.NUMBER:
        return _number_spans(text, question)
    if kind in (AnswerType.PERSON, AnswerType.PLACE):
        asked = set(content_terms(question))
        found = [
            _trim_possessive(text, span)
            for span in names(text)
            if not set(content_terms(text[span[0] : span[1]])) & asked
        ]
        if kind is AnswerType.PERSON:
            # a person is usually named in full (first and last name), an organisation is not one
            people = [s for s in found if not _ORGANISATION.search(text[s[0] : s[1]])]
            preferred = (
                [s for s in people if _has_role(text, s)]
                or [s for s in people if len(text[s[0] : s[1]].split()) > 1]
                or people
            )
        else:
            preferred = [s for s in found if _LOCATIVE.search(text[max(0, s[0] - 20) : s[0]])]
        return preferred or found
    return []


def _number_spans(text: str, question: str) -> list[tuple[int, int]]:
    """Amounts in the text: a number with its unit ("25 countries", "over 60 percent"); not a
    number the question already holds ("in 2010"), and bare years only when nothing else is."""
    asked = {m.group("number").lower().rstrip(".,") for m in _NUMBER_SPAN.finditer(question)}
    spans: list[tuple[int, int]] = []
    years: list[tuple[int, int]] = []
    for match in _NUMBER_SPAN.finditer(text):
        number = match.group("number").lower().rstrip(".,")
        if number in asked:
            continue
        start, end = match.span()
        unit = match.group("unit")
        if unit and (unit.lower() in STOPWORDS or unit.lower().endswith(("ed", "ing", "ly"))):
            end = match.start("unit")
        start, end = _trim_span(text, (start, end))
        if end > start:
            (years if _YEAR.match(number) else spans).append((start, end))
    return spans or years


def _has_role(text: str, span: tuple[int, int]) -> bool:
    """Whether a name stands beside a role ("X, former commander", "journalist X")."""
    return bool(
        _APPOSITIVE_AFTER.match(text[span[1] : span[1] + 12])
        or _ROLE_BEFORE.search(text[max(0, span[0] - 20) : span[0]])
    )


def _trim_span(text: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    while end > start and not text[end - 1].isalnum() and text[end - 1] not in "%":
        end -= 1
    return start, end


def _trim_possessive(text: str, span: tuple[int, int]) -> tuple[int, int]:
    start, end = span
    for suffix in ("'s", "’s"):
        if text[start:end].endswith(suffix):
            return start, end - len(suffix)
    return start, end


def _question_word_positions(text: str, question: str) -> list[tuple[int, int]]:
    wanted = set(content_terms(question))
    return [m.span() for m in re.finditer(r"[\w’'-]+", text) if set(content_terms(m.group(0))) & wanted]


# --- assembly -----------------------------------------------------------------------------


def gather(chosen: Sequence[ChosenSentence], question: str, snapshot: ReadView) -> Evidence:
    """The chosen sentences with what they need to be read alone, in reading order."""
    if asks_for_list(question):
        chosen = _list_sentences(chosen)
    picked: dict[tuple[str, int], Piece] = {}
    for sentence in chosen:
        picked[(sentence.row.doc_id, sentence.row.ord)] = Piece(
            sentence.row, sentence.chunk_id, sentence.text
        )
    authors: dict[tuple[str, int], str] = {}
    if chosen:  # the best sentence gets what it needs to be read alone; runners-up stand as they are
        lead = picked[(chosen[0].row.doc_id, chosen[0].row.ord)]
        _add_antecedents(lead, picked, authors, snapshot, question)
    if asks_for_list(question) and chosen:
        _add_list_continuation(chosen[0], picked, snapshot)
    first_seen = {c.row.doc_id: i for i, c in reversed(list(enumerate(chosen)))}
    keys = sorted(picked, key=lambda k: (first_seen.get(k[0], len(first_seen)), k[1]))
    return Evidence([picked[k] for k in keys], authors)


def _list_sentences(chosen: Sequence[ChosenSentence]) -> Sequence[ChosenSentence]:
    """When the best sentence (selection puts it first) holds the items, the runners-up without
    items go: a list answers a list question. Other sentences with items stay (the items may be
    spread over documents). When the best one holds no list, the choice stands: a runner-up's
    list may be of something else ("the US, China, Russia, and the EU").
    """
    if not chosen or not holds_list(chosen[0].text):
        return chosen
    return [c for c in chosen if holds_list(c.text)]


def _add_list_continuation(
    first: ChosenSentence, picked: dict[tuple[str, int], Piece], snapshot: ReadView
) -> None:
    if holds_list(first.text):
        return
    row = first.row
    following = snapshot.sentences(row.doc_id, row.ord + 1, row.ord + 1)
    if not following:
        return
    text = snapshot.text_slice(row.doc_id, following[0].start, following[0].end)
    if announces_list(first.text, text):
        chunk_id = snapshot.chunk_containing(row.doc_id, following[0].start, following[0].end)
        picked.setdefault((row.doc_id, following[0].ord), Piece(following[0], chunk_id, text))


def _add_antecedents(
    piece: Piece,
    picked: dict[tuple[str, int], Piece],
    authors: dict[tuple[str, int], str],
    snapshot: ReadView,
    question: str,
) -> None:
    row = piece.row
    previous = _previous(row, snapshot)
    known = known_names([piece.text, *(p.text for p in previous)])
    needs_name = unresolved_person(piece.text, known) and not _answer_names_before(row, picked, known)
    resolved = needs_name and _resolve_person(piece, previous, known, picked, authors, snapshot, question)
    if resolved and not leans_on_previous(piece.text):
        return
    text = piece.text
    for before in previous:
        if (row.doc_id, before.row.ord) in picked or not refers_back(text) or looks_like_heading(before.text):
            break
        picked[(row.doc_id, before.row.ord)] = before
        text = before.text


def _previous(row: SentenceRow, snapshot: ReadView) -> list[Piece]:
    """Up to MAX_ANTECEDENTS sentences before `row`, nearest first."""
    if row.ord == 0:
        return []
    rows = snapshot.sentences(row.doc_id, max(0, row.ord - MAX_ANTECEDENTS), row.ord - 1)
    return [piece_of(r, snapshot) for r in reversed(rows)]


def piece_of(row: SentenceRow, snapshot: ReadView) -> Piece:
    """A stored sentence as an answer piece: its text and the chunk it is cited from."""
    return Piece(
        row,
        snapshot.chunk_containing(row.doc_id, row.start, row.end),
        snapshot.text_slice(row.doc_id, row.start, row.end),
    )


def _answer_names_before(
    row: SentenceRow, picked: dict[tuple[str, int], Piece], known: frozenset[str]
) -> bool:
    """Whether the answer already holds a sentence just before `row` that names someone."""
    before = picked.get((row.doc_id, row.ord - 1))
    return before is not None and names_someone(before.text, known)


def _resolve_person(
    piece: Piece,
    previous: list[Piece],
    known: frozenset[str],
    picked: dict[tuple[str, int], Piece],
    authors: dict[tuple[str, int], str],
    snapshot: ReadView,
    question: str,
) -> bool:
    """Name whom "he"/"she" means; False when no sentence near it and no author bio does.

    The name is left out when the question holds it already (see the module docstring)."""
    row = piece.row
    author = _author(row.doc_id, snapshot)
    for before in previous:
        if looks_like_heading(before.text) or not names_someone(before.text, known):
            continue
        if author and mentions(before.text, author):
            authors[(row.doc_id, row.ord)] = author
        elif not _question_names(question, before.text, known):
            picked.setdefault((row.doc_id, before.row.ord), before)
        return True
    if author and _in_author_paragraph(row, author, snapshot):
        authors[(row.doc_id, row.ord)] = author
        return True
    return False


def _question_names(question: str, sentence: str, known: frozenset[str]) -> bool:
    """Whether the question names someone the sentence names (so it says whom "he" means)."""
    asked = set(content_terms(question))
    return any(set(content_terms(sentence[start:end])) & asked for start, end in names(sentence, known))


def _author(doc_id: str, snapshot: ReadView) -> str | None:
    return byline_author(snapshot.text_slice(doc_id, 0, BYLINE_CHARS))


def mentions(text: str, name: str) -> bool:
    """Whether `text` names `name` (case and spacing aside)."""
    return " ".join(name.lower().split()) in " ".join(text.lower().split())


def _in_author_paragraph(row: SentenceRow, author: str, snapshot: ReadView) -> bool:
    """Whether the paragraph holding `row` opens with the author's name (an author bio)."""
    head = snapshot.text_slice(row.doc_id, max(0, row.start - PARAGRAPH_LOOKBACK_CHARS), row.start)
    opening = head.rsplit("\n\n", 1)[-1]
    return mentions(_LEADING_MARKER.sub("", opening)[: len(author) + 10], author)


def runs(pieces: list[Piece], lead: ChosenSentence | None = None) -> list[list[Piece]]:
    """Group consecutive sentences of the same document: one citation per run.

    A run always starts at `lead` (the best sentence), so the answer can open with it (see
    `leading_runs`)."""
    start = (lead.row.doc_id, lead.row.ord) if lead is not None else None
    grouped: list[list[Piece]] = []
    for piece in pieces:
        last = grouped[-1][-1].row if grouped else None
        if (
            last is not None
            and last.doc_id == piece.row.doc_id
            and last.ord + 1 == piece.row.ord
            and (piece.row.doc_id, piece.row.ord) != start
        ):
            grouped[-1].append(piece)
        else:
            grouped.append([piece])
    return grouped


def leading_runs(grouped: list[list[Piece]], best: Sequence[ChosenSentence]) -> list[list[Piece]]:
    """The run holding the best sentence first (the answer leads), the others in reading order."""
    if not best:
        return grouped
    key = (best[0].row.doc_id, best[0].row.ord)
    lead = [run for run in grouped if any((p.row.doc_id, p.row.ord) == key for p in run)]
    return lead + [run for run in grouped if run not in lead]


def compose_answer(context: ComposeContext, chosen: Sequence[ChosenSentence], confidence: float) -> Answer:
    """The Answer: each run of sentences quoted exactly and cited, the answer's span marked."""
    snapshot = context.snapshot
    evidence = gather(chosen, context.question, snapshot)
    meta = snapshot.document_meta(p.row.doc_id for p in evidence.pieces)
    kind = answer_type(context.question)
    parts: list[str] = []
    citations: list[Citation] = []
    lead = chosen[0] if chosen else None
    for marker, run in enumerate(leading_runs(runs(evidence.pieces, lead), chosen[:1]), start=1):
        first, last = run[0].row, run[-1].row
        quote = snapshot.text_slice(first.doc_id, first.start, last.end)
        doc = meta[first.doc_id]
        span = answer_span(kind, quote, context.question)
        citations.append(
            Citation(
                marker=marker,
                doc_id=first.doc_id,
                source=doc.source,
                title=doc.title,
                chunk_id=run[0].chunk_id,
                start=first.start,
                end=last.end,
                quote=quote,
                page=page_at(doc.pages, first.start),
                highlight=[first.start + span[0], first.start + span[1]] if span else None,
            )
        )
        parts.append(_cited_text(quote, marker, _run_author(run, evidence.authors)))
    return Answer(
        id=uuid.uuid4().hex,
        question=context.question,
        answer=" ".join(parts),
        abstained=False,
        citations=citations,
        passages=context.passages,
        confidence=confidence,
    )


def _run_author(run: Iterable[Piece], authors: dict[tuple[str, int], str]) -> str | None:
    for piece in run:
        author = authors.get((piece.row.doc_id, piece.row.ord))
        if author:
            return author
    return None


def _cited_text(quote: str, marker: int, author: str | None) -> str:
    flat = " ".join(quote.split())
    if author:
        return f"{author} (the author): “{flat}” [{marker}]"
    return f"{flat} [{marker}]"
