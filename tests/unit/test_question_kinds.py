"""What kind of answer a question asks for, and whether a sentence can supply it."""

from __future__ import annotations

import pytest

from assistant.compose.answer_types import AnswerType, answer_type, can_answer


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many people live in Tehran?", AnswerType.NUMBER),
        ("How much did the survey cost?", AnswerType.NUMBER),
        ("What percentage of voters took part?", AnswerType.NUMBER),
        ("When was Resolution 598 adopted?", AnswerType.DATE),
        ("In what year did the war end?", AnswerType.DATE),
        ("Which month was the survey completed?", AnswerType.DATE),
        ("Who won the 2022 FIFA World Cup?", AnswerType.PERSON),
        ("By whom was the mandate given?", AnswerType.PERSON),
        ("Where are the lamp posts?", AnswerType.PLACE),
        ("In which country were the talks held?", AnswerType.PLACE),
        ("What legal basis is proposed for regional talks?", None),
        ("Why did the talks fail?", None),
        # "when" inside a clause does not ask for a date
        ("What did she study when she was in school?", None),
    ],
)
def test_the_question_word_decides_the_kind(question: str, kind: AnswerType | None) -> None:
    assert answer_type(question) is kind


@pytest.mark.parametrize(
    ("kind", "question", "sentence", "expected"),
    [
        (AnswerType.NUMBER, "How many lamp posts?", "The survey counted 412 lamp posts.", True),
        (AnswerType.NUMBER, "How many lamp posts?", "Dozens of lamp posts were replaced.", True),
        (AnswerType.NUMBER, "How many lamp posts?", "The lamp posts along the quay were old.", False),
        (AnswerType.DATE, "When was it adopted?", "It was adopted in 1987.", True),
        (AnswerType.DATE, "When was it adopted?", "It was adopted in March.", True),
        (AnswerType.DATE, "When was it adopted?", "It was adopted by the council.", False),
        (AnswerType.PERSON, "Who gave the mandate?", "The mandate came from Javier Pérez.", True),
        (AnswerType.PERSON, "Who gave the mandate?", "The secretary gave the mandate.", True),
        (AnswerType.PERSON, "Who gave the mandate?", "The mandate was given long ago.", False),
        (AnswerType.PLACE, "Where were the talks held?", "The talks were held in Geneva.", True),
        (AnswerType.PLACE, "Where were the talks held?", "The talks were held near the border.", True),
        (AnswerType.PLACE, "Where were the talks held?", "The talks were held quietly.", False),
        # a name the question already gives is not an answer to it
        (AnswerType.PLACE, "Where in Geneva were the talks held?", "The talks were in Geneva.", False),
        (None, "Why did the talks fail?", "Nobody came.", True),
    ],
)
def test_a_sentence_answers_only_with_the_kind_asked_for(
    kind: AnswerType | None, question: str, sentence: str, expected: bool
) -> None:
    assert can_answer(kind, sentence, question) is expected
