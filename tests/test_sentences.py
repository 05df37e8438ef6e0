"""split_sentences: abbreviations, quotes, headings, page breaks, lists, long runs."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest import split_sentences
from assistant.ingest.sentences import MAX_SENTENCE_CHARS
from assistant.models import Span
from tests.conftest import CORPUS_DIR


def sentences(text: str) -> list[str]:
    return [text[span.start : span.end] for span in split_sentences(text)]


def assert_invariants(text: str, spans: list[Span], start: int = 0, end: int | None = None) -> None:
    end = len(text) if end is None else end
    position = start
    for span in spans:
        assert start <= position <= span.start < span.end <= end
        assert text[position : span.start].strip() == ""  # nothing but whitespace skipped
        piece = text[span.start : span.end]
        assert piece == piece.strip()
        assert len(piece) <= MAX_SENTENCE_CHARS
        position = span.end
    assert text[position:end].strip() == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.S. and the U.K. met at the U.N. on Monday. Talks went well.",
            ["The U.S. and the U.K. met at the U.N. on Monday.", "Talks went well."],
        ),
        (
            "The U.S. President spoke. It was brief.",
            ["The U.S. President spoke.", "It was brief."],
        ),
        ("He left the U.S. The talks ended.", ["He left the U.S.", "The talks ended."]),
        (
            "Mr. Smith met Mrs. Jones and Dr. Brown on St. Mark's Day. They talked.",
            ["Mr. Smith met Mrs. Jones and Dr. Brown on St. Mark's Day.", "They talked."],
        ),
        (
            "Bring fruit, e.g. apples, i.e. red ones, etc. and bread. Then go.",
            ["Bring fruit, e.g. apples, i.e. red ones, etc. and bread.", "Then go."],
        ),
        ("See item No. 5 on the list. It matters.", ["See item No. 5 on the list.", "It matters."]),
        (
            "It began on Jan. 5 at 9 a.m. sharp. Nobody came.",
            ["It began on Jan. 5 at 9 a.m. sharp.", "Nobody came."],
        ),
        (
            "A book by J. R. Smith was read. It was good.",
            ["A book by J. R. Smith was read.", "It was good."],
        ),
        (
            "Growth was 3.5 percent in 2024. Inflation fell.",
            ["Growth was 3.5 percent in 2024.", "Inflation fell."],
        ),
        ("He paused... and went on. Then stopped.", ["He paused... and went on.", "Then stopped."]),
        (
            "He said: “We will not capitulate.” Next came the vote.",
            ["He said: “We will not capitulate.”", "Next came the vote."],
        ),
        (
            'She asked "why?" and left. "Fine." He sat.',
            ['She asked "why?" and left.', '"Fine."', "He sat."],
        ),
        ("Really? Yes! Good.", ["Really?", "Yes!", "Good."]),
        ("(This is aside.) Next one.", ["(This is aside.)", "Next one."]),
    ],
)
def test_splits_prose(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_heading_without_punctuation_is_its_own_sentence() -> None:
    text = "And it will be undeterred.\n\nPOLITICS IS LOCAL\n\nThis is a historic moment."
    assert sentences(text) == [
        "And it will be undeterred.",
        "POLITICS IS LOCAL",
        "This is a historic moment.",
    ]


def test_heading_before_a_lowercase_paragraph_stays_a_heading() -> None:
    text = "HITTING RESET\n\nnew sanctions have failed."
    assert sentences(text) == ["HITTING RESET", "new sanctions have failed."]


def test_lowercase_paragraph_continues_a_sentence_across_a_page_break() -> None:
    text = "His government is ready to\n\nmanage tensions with the United States. It waits."
    assert sentences(text) == [
        "His government is ready to\n\nmanage tensions with the United States.",
        "It waits.",
    ]


def test_paragraph_break_ends_an_unpunctuated_paragraph_before_a_capital() -> None:
    text = "A caption under a photo by an agency\n\nThe article continues here."
    assert sentences(text) == [
        "A caption under a photo by an agency",
        "The article continues here.",
    ]


def test_numbered_list_marker_starts_but_does_not_end_a_sentence() -> None:
    text = "Three principles follow.\n\n1. Striking a balance: Since then it held. He spoke.\n2. Next item"
    assert sentences(text) == [
        "Three principles follow.",
        "1. Striking a balance: Since then it held.",
        "He spoke.",
        "2. Next item",
    ]


def test_bulleted_lines_are_separate_sentences() -> None:
    text = "Goals:\n- energy security\n- freedom of navigation"
    assert sentences(text) == ["Goals:", "- energy security", "- freedom of navigation"]


def test_range_arguments_return_offsets_into_the_full_text() -> None:
    text = "Ignore this. First one. Second one. Ignore that."
    start = text.index("First")
    end = text.index(" Ignore that")
    spans = split_sentences(text, start, end)
    assert [text[s.start : s.end] for s in spans] == ["First one.", "Second one."]
    assert_invariants(text, spans, start, end)
    assert split_sentences(text, 5, 5) == []
    assert split_sentences("   \n\n  ") == []


def test_long_text_without_punctuation_is_cut_at_whitespace_quickly() -> None:
    words = ("word " * 40_000).strip()  # 200k characters, no punctuation
    started = time.perf_counter()
    spans = split_sentences(words)
    assert time.perf_counter() - started < 1.0
    assert_invariants(words, spans)
    assert len(spans) >= len(words) // MAX_SENTENCE_CHARS
    assert all(words[s.start : s.end].endswith("word") for s in spans)  # never inside a word


def test_megabyte_of_text_is_linear() -> None:
    unbroken = "x" * 1_000_000
    prose = "The U.S. said no. 5 ran. A. B. c... " * 28_000
    for text in (unbroken, prose):
        started = time.perf_counter()
        spans = split_sentences(text)
        # generous bound: linear splitting takes well under a second; a quadratic one takes minutes
        assert time.perf_counter() - started < 15.0
        assert_invariants(text, spans)
    assert len(split_sentences(unbroken)) == 1000


def test_sample_corpus_sentences() -> None:
    text = (CORPUS_DIR / "zarif-how-iran-sees-the-path-to-peace.txt").read_text(encoding="utf-8")
    spans = split_sentences(text)
    assert_invariants(text, spans)
    found = [text[s.start : s.end] for s in spans]
    assert "POLITICS IS LOCAL" in found
    assert any(s.startswith("His government is ready to\n\nmanage tensions") for s in found)
    trump = [s for s in found if "U.S. President Donald Trump" in s]
    assert len(trump) == 1 and trump[0].startswith("The number of centrifuges")


_PIECES = st.sampled_from(
    ["word", "U.S.", "Mr.", "3.5", " ", "  ", "\n", "\n\n", ".", "?", "!", "”", "“", "A", "b",
     "1.", "...", "e.g.", "\t", "- ", "x" * 300, "\u00a0", "(", ")"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=60), st.integers(0, 40), st.integers(0, 80))
def test_spans_cover_the_range_exactly(parts: list[str], start: int, length: int) -> None:
    text = "".join(parts)
    start = min(start, len(text))
    end = min(len(text), start + length)
    assert_invariants(text, split_sentences(text, start, end), start, end)
    assert_invariants(text, split_sentences(text))
