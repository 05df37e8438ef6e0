"""Which questions ask for an author, and when a title names the document asked about."""

from __future__ import annotations

import pytest

from assistant.compose.authorship import asks_for_author, names_title
from assistant.ingest.loaders import byline_span


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("Who wrote the article about Iran's path to peace?", True),
        ("Who is the author of How Iran Sees the Path to Peace?", True),
        ("Which essay was written by a former foreign minister?", True),
        ("Who served as foreign minister?", False),
        ("What did the article propose?", False),
    ],
)
def test_authorship_questions(question: str, asks: bool) -> None:
    assert asks_for_author(question) is asks


def test_the_title_must_hold_most_of_the_question_s_words() -> None:
    title = "How Iran Sees the Path to Peace"
    assert names_title("Who wrote the article about Iran's path to peace?", title)
    assert not names_title("Who wrote Hamlet?", title)
    # one shared word of four is not the title
    assert not names_title("Who wrote about Iran's nuclear enrichment levels?", title)


def test_the_byline_span_is_the_name() -> None:
    head = "How Iran Sees the Path to Peace\n\nBy [Mohammad Javad Zarif](#)\n\nDecember 2, 2024\n"
    span = byline_span(head)
    assert span is not None and head[span[0] : span[1]] == "Mohammad Javad Zarif"
    assert byline_span("No byline here.\n") is None
