"""Follow-up resolution: a question that leans on earlier turns, rewritten to stand alone.

"When was that resolution adopted?" after an answer quoting "... under Resolution 598" becomes
"When was Resolution 598 adopted?"; "Which political bureau did he chair?" after a question
about Ismail Haniyeh names him. Rules find what leans (a pronoun with no name before it in the
question, "that <noun>", "the second one", "the latter", an elliptical "and Iraq?" / "what about
2020?"); the replacement comes from the names in the previous turn's question and cited
sentences. A question that leans on nothing is returned unchanged, so an unrelated new question
is searched as asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from assistant.models import Turn
from assistant.store.lexical import STOPWORDS, content_terms, stem

_TOKEN = re.compile(r"[^\W_]+(?:['’.\-][^\W_]+)*\.?|[^\w\s]", re.UNICODE)
_PRONOUN = re.compile(r"\b(he|she|him|his|her|hers|they|them|their|it|its)\b", re.IGNORECASE)
_PERSON_PRONOUNS = frozenset({"he", "she", "him", "his", "her", "hers"})
_POSSESSIVE = frozenset({"his", "their", "its", "hers"})
#: "that resolution": a demonstrative after one of these words points back, never a relative "that"
_DEMONSTRATIVE = re.compile(
    r"(?:^|\b(?:was|is|were|are|did|does|do|has|had|have|of|in|on|at|to|for|by|from|with|about|"
    r"against|after|before|under|during|into|when|where|who|what|which|how|why|sign|signed|"
    r"adopt|adopted|did)\s+)(that|this|these|those)\s+([a-z][\w-]*)",
    re.IGNORECASE,
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
_ORDINAL = re.compile(
    r"\bthe\s+(first|second|third|fourth|fifth|last)\s+one\b|\bthe\s+(former|latter)\b(?!\s+[a-z])", re.I
)
#: a subject pronoun right after one of these ("did he", "was it") is the question's subject
_AUXILIARY = re.compile(
    r"\b(?:did|does|do|was|is|were|are|has|had|have|can|could|will|would|should)\s*$", re.IGNORECASE
)
_ELLIPSIS = re.compile(r"^\s*(?:and|what about|how about|and what about)\s+(.+?)\s*\??\s*$", re.IGNORECASE)
_NAME_JOINERS = frozenset({"of", "the", "de", "for", "al", "bin", "von", "van"})
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
#: most content words an elliptical follow-up ("and Iraq?") may have
ELLIPSIS_MAX_WORDS = 4


@dataclass(frozen=True, slots=True)
class Resolution:
    """A question as it will be searched, and what the conversation adds to its retrieval."""

    question: str
    rewritten: bool
    #: documents cited in the previous turn (a bounded retrieval prior for a follow-up)
    prior_docs: tuple[str, ...] = ()


def names(text: str) -> list[str]:
    """Capitalised spans ("Ismail Haniyeh", "Resolution 598", "Treaty of Paris"), in order."""
    tokens = _TOKEN.findall(text)
    found: list[str] = []
    run: list[str] = []
    #: a lone capitalised word that opens a sentence ("Mere hours after") is no name
    run_starts_sentence = [False]

    def close() -> None:
        while run and run[-1].lower() in _NAME_JOINERS:
            run.pop()
        if run and not (len(run) == 1 and run_starts_sentence[0]):
            found.append(" ".join(run))
        run.clear()

    ends_sentence = True
    for token in tokens:
        bare = token.rstrip(".")
        abbreviation = token.endswith(".") and len(bare) <= 3 and bare[:1].isupper() and not bare.isdigit()
        word = token if abbreviation else bare
        if bare[:1].isupper() and not (ends_sentence and bare.lower() in STOPWORDS):
            if not run:
                run_starts_sentence[0] = ends_sentence
            run.append(word)
        elif run and (bare.isdigit() or bare.lower() in _NAME_JOINERS):
            run.append(word)
        else:
            close()
        ends_sentence = token in {".", "?", "!", ":", '"', "“"} or (token.endswith(".") and not abbreviation)
        if ends_sentence:
            close()
    close()
    return [n for n in dict.fromkeys(found) if n.lower() not in STOPWORDS]


def _turn_texts(turn: Turn) -> list[str]:
    """The previous turn's own words: its question first, then the sentences its answer cited."""
    quotes = [c.quote for c in turn.citations]
    return [turn.question, *(quotes or [turn.answer])]


def _answer_names(turn: Turn) -> list[str]:
    """Names the answer carries: highlighted spans first (the date, the person), then quotes."""
    marked = [
        c.quote[h[0] - c.start : h[1] - c.start] for c in turn.citations if (h := c.highlight) is not None
    ]
    found = [n for text in marked for n in names(text)]
    for text in [c.quote for c in turn.citations] or [turn.answer]:
        found.extend(names(text))
    return list(dict.fromkeys(found))


def _referent(previous: Turn, pronoun: str, question: str) -> str | None:
    """Whom a pronoun means: what the previous question named (the conversation's subject), else
    the first name its answer gave (the person a "who" question found)."""
    asked = names(previous.question)
    answered = [n for n in _answer_names(previous) if n not in asked]
    if pronoun.lower() in _PERSON_PRONOUNS:
        asked = [n for n in asked if len(n.split()) >= 2] or asked
        answered = [n for n in answered if len(n.split()) >= 2] or answered
    order = [n for n in [*asked, *answered] if n.lower() not in question.lower()]
    return order[0] if order else None


def _leans(question: str, match: re.Match[str], previous: Turn) -> bool:
    """Whether a pronoun points outside its question. With nothing before it that it could mean
    ("When was he born?", "Which bureau did he chair?") it does; a possessive after a name of
    the question's own ("Beyonce ... her album") does not; otherwise only when the question
    shares a content word with the previous turn (an unrelated question shares none)."""
    before = question[: match.start()]
    word = match.group(1).lower()
    if names(before):
        if word in _POSSESSIVE or word == "her":
            return False
    elif not content_terms(before) or _AUXILIARY.search(before):
        return True
    earlier = set(content_terms(" ".join(_turn_texts(previous))))
    return bool(earlier & set(content_terms(question)))


def _replace_pronoun(question: str, previous: Turn) -> str | None:
    match = _PRONOUN.search(question)
    if match is None or not _leans(question, match, previous):
        return None
    word = match.group(1)
    name = _referent(previous, word, question)
    if name is None:
        return None
    after = question[match.end() :].lstrip()
    possessive = word.lower() in _POSSESSIVE or (
        word.lower() == "her"
        and bool(after)
        and after.split()[0].lower() not in STOPWORDS
        and after[0].isalpha()
    )
    replacement = (name if name.endswith("'s") else f"{name}'s") if possessive else name
    return question[: match.start()] + replacement + question[match.end() :]


def _noun_name(noun: str, texts: Sequence[str]) -> str | None:
    """The name in `texts` that a "that <noun>" means: one holding the noun ("Resolution 598")."""
    target = stem(noun.lower())
    for text in texts:
        for name in names(text):
            if any(stem(part.lower()) == target for part in name.split()):
                return name
    return None


def _replace_demonstrative(question: str, previous: Turn) -> str | None:
    match = _DEMONSTRATIVE.search(question)
    if match is None or match.group(2).lower() in STOPWORDS:
        return None
    noun = match.group(2)
    name = _noun_name(noun, _turn_texts(previous))
    if name is None:  # "this community" with nothing of that name before: the question's own
        return None
    return question[: match.start(1)] + name + question[match.end(2) :]


def _replace_ordinal(question: str, previous: Turn) -> str | None:
    match = _ORDINAL.search(question)
    if match is None:
        return None
    listed = _answer_names(previous)
    if not listed:
        return None
    word = (match.group(1) or match.group(2)).lower()
    index = {"former": 0, "latter": -1}.get(word, _ORDINALS.get(word, 0))
    if index >= len(listed):
        return None
    return question[: match.start()] + listed[index] + question[match.end() :]


def _expand_ellipsis(question: str, previous: Turn, embed: Callable[[str], np.ndarray] | None) -> str | None:
    """ "and Iraq?" / "what about 2020?": the previous question with its matching slot swapped."""
    match = _ELLIPSIS.match(question)
    if match is None or len(match.group(1).split()) > ELLIPSIS_MAX_WORDS:
        return None
    fragment = match.group(1).strip().rstrip("?").strip()
    earlier = previous.question.strip().rstrip("?").strip()
    if _YEAR.fullmatch(fragment):
        if _YEAR.search(earlier):
            return _YEAR.sub(fragment, earlier, count=1) + "?"
        return f"{earlier} in {fragment}?"
    slots = names(earlier)
    if not slots:
        return f"{earlier}, {fragment}?"
    slot = slots[-1]
    if embed is not None and len(slots) > 1:
        target = embed(fragment)
        slot = max(slots, key=lambda s: float(embed(s) @ target))
    return earlier.replace(slot, fragment, 1) + "?"


def resolve(
    question: str, history: Sequence[Turn], embed: Callable[[str], np.ndarray] | None = None
) -> Resolution:
    """`question` rewritten to stand alone when it leans on the previous turn, else unchanged."""
    if not history:
        return Resolution(question, False)
    previous = history[-1]
    prior = tuple(dict.fromkeys(c.doc_id for c in previous.citations))
    expanded = _expand_ellipsis(question, previous, embed)
    if expanded is not None:
        return Resolution(expanded, True, prior)
    text = question
    for step in (_replace_ordinal, _replace_demonstrative, _replace_pronoun):
        changed = step(text, previous)
        if changed is not None:
            text = changed
    if text == question:
        return Resolution(question, False)
    return Resolution(text, True, prior)
