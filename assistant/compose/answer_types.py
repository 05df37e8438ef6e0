"""What kind of answer a question asks for, and whether a sentence can supply it.

Similarity alone cannot tell "How many people live in Tehran?" from a question the text
answers: a sentence about Tehran is similar either way. A "how many" question needs a number,
"when" a date, "who" a person or organisation, "where" a place; a sentence without one cannot
be the answer, however similar it is.
"""

from __future__ import annotations

import re
from enum import Enum


class AnswerType(Enum):
    NUMBER = "number"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"


_QUESTION_PATTERNS: list[tuple[AnswerType, re.Pattern[str]]] = [
    (
        AnswerType.NUMBER,
        re.compile(
            r"\b(how (many|much|long|old|far|large|big|often)|what (number|percentage|percent|"
            r"share|proportion|amount|size)|what is the (population|number|total))\b",
            re.I,
        ),
    ),
    (
        AnswerType.DATE,
        # "when" asks for a date only as the question word ("When was ...", "Since when ...");
        # inside a clause ("... when she was in school") it does not.
        re.compile(
            r"^\W*(when|since when|until when|how long ago)\b|\b(what|which) (year|date|day|month|"
            r"decade|century|time of year)\b|\bin what year\b",
            re.I,
        ),
    ),
    (AnswerType.PERSON, re.compile(r"^\W*(who|whom|whose)\b|\b(by whom|which person)\b", re.I)),
    (
        AnswerType.PLACE,
        re.compile(
            r"^\W*where\b|\b(in|from|to) (which|what) (country|city|place|"
            r"region|state|town|nation)\b",
            re.I,
        ),
    ),
]

_NUMBER_WORDS = (
    r"one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
    r"sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|"
    r"hundred|hundreds|thousand|thousands|million|millions|billion|billions|dozen|dozens|half|"
    r"double|twice|single|several|first|second|third|fourth|fifth|percent"
)
_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_MONTHS = (
    r"January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Jan\.|Feb\.|Mar\.|Apr\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\."
)
_DATE = re.compile(
    rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS})\b|\b(Monday|Tuesday|Wednesday|Thursday|"
    r"Friday|Saturday|Sunday|yesterday|today|tomorrow|tonight|century|centuries|decades?|ago|"
    r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|few) "
    r"(years?|months?|weeks?|days?|hours?))\b",
    re.I,
)
_CAPITALISED = re.compile(r"\b[A-Z][\w’'-]*[a-z][\w’'-]*\b|\b[A-Z]{2,}\b")
_PLACE_WORDS = re.compile(
    r"\b(city|capital|country|region|province|state|town|village|border|territory|island|sea|"
    r"gulf|river|coast|continent|abroad|home|soil|neighbo(u)?r(s|ing)?)\b",
    re.I,
)
_PERSON_WORDS = re.compile(
    r"\b(president|minister|leader|king|queen|prince|commander|chairman|secretary|ambassador|"
    r"official|officials|government|administration|council|founder|author|journalist|"
    r"commentator|spokesman|spokesperson|he|she|they|who)\b",
    re.I,
)


def answer_type(question: str) -> AnswerType | None:
    """The answer type a question demands, or None when any statement can answer it."""
    for kind, pattern in _QUESTION_PATTERNS:
        if pattern.search(question):
            return kind
    return None


def _new_names(sentence: str, question: str) -> bool:
    """True when the sentence names something (capitalised, not its first word) the question does not."""
    asked = {w.lower() for w in _CAPITALISED.findall(question)}
    for match in _CAPITALISED.finditer(sentence):
        if match.start() == 0:
            continue
        if match.group(0).lower() not in asked:
            return True
    return False


def has_number(sentence: str) -> bool:
    """A digit or a number word ("three", "dozens", "twice")."""
    return bool(_NUMBER.search(sentence))


def has_date(sentence: str) -> bool:
    """A year, a month, a weekday or a span of time ("two years", "centuries")."""
    return bool(_DATE.search(sentence))


def has_new_name(sentence: str, question: str) -> bool:
    """A capitalised name (not the sentence's first word) that the question does not mention."""
    return _new_names(sentence, question)


def can_answer(kind: AnswerType | None, sentence: str, question: str) -> bool:
    """Whether `sentence` contains the kind of thing the question asks for."""
    if kind is None:
        return True
    if kind is AnswerType.NUMBER:
        return has_number(sentence)
    if kind is AnswerType.DATE:
        return has_date(sentence)
    if kind is AnswerType.PERSON:
        return _new_names(sentence, question) or bool(_PERSON_WORDS.search(sentence))
    return _new_names(sentence, question) or bool(_PLACE_WORDS.search(sentence))
