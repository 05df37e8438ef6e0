"""chunk_sentences / chunk_document: exact offsets, coverage, size budget and overlap."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.ingest import chunk_document, chunk_sentences, split_sentences
from assistant.models import ChunkSpan, Span
from tests.conftest import CORPUS_DIR


def assert_chunk_invariants(text: str, chunks: list[ChunkSpan], chunk_size: int, overlap: int) -> None:
    sentences = split_sentences(text)
    covered: list[Span] = []
    for chunk in chunks:
        assert chunk.sentences, "a chunk always has a sentence"
        assert chunk.start == chunk.sentences[0].start
        assert chunk.end == chunk.sentences[-1].end
        assert text[chunk.start : chunk.end] == text[chunk.start : chunk.end].strip()
        if len(chunk.sentences) > 1:
            assert chunk.end - chunk.start <= chunk_size
        index = sentences.index(chunk.sentences[0])
        assert list(chunk.sentences) == sentences[index : index + len(chunk.sentences)]
        covered.extend(chunk.sentences)
    assert sorted(set(covered), key=lambda s: s.start) == sentences  # every sentence is in a chunk
    for previous, current in itertools.pairwise(chunks):
        assert current.start > previous.start  # progress
        shared = [s for s in current.sentences if s in previous.sentences]
        expected = min(overlap, len(previous.sentences) - 1)
        assert len(shared) == expected
        assert shared == list(previous.sentences[len(previous.sentences) - expected :])


@pytest.mark.parametrize(("chunk_size", "overlap"), [(100, 0), (300, 1), (600, 1), (2000, 2)])
def test_corpus_chunks(chunk_size: int, overlap: int) -> None:
    for path in sorted(CORPUS_DIR.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        chunks = chunk_document(text, chunk_size, overlap)
        assert chunks
        assert_chunk_invariants(text, chunks, chunk_size, overlap)


def test_packing_is_greedy_and_overlaps_one_sentence() -> None:
    text = "Aa aa. Bb bb. Cc cc. Dd dd. Ee ee."  # sentences of 6 chars, 1 space apart
    chunks = chunk_document(text, chunk_size=13, overlap_sentences=1)
    assert [text[c.start : c.end] for c in chunks] == [
        "Aa aa. Bb bb.",
        "Bb bb. Cc cc.",
        "Cc cc. Dd dd.",
        "Dd dd. Ee ee.",
    ]
    no_overlap = chunk_document(text, chunk_size=20, overlap_sentences=0)
    assert [text[c.start : c.end] for c in no_overlap] == ["Aa aa. Bb bb. Cc cc.", "Dd dd. Ee ee."]


def test_long_sentence_is_a_chunk_of_its_own_and_is_not_repeated() -> None:
    long_sentence = "This one sentence is much longer than the budget allows."
    text = f"Short. {long_sentence} Tiny. End."
    chunks = chunk_document(text, chunk_size=20, overlap_sentences=1)
    pieces = [text[c.start : c.end] for c in chunks]
    assert pieces == ["Short.", long_sentence, "Tiny. End."]


def test_overlap_larger_than_a_chunk_still_progresses() -> None:
    spans = [Span(i * 10, i * 10 + 8) for i in range(6)]
    chunks = chunk_sentences(spans, chunk_size=18, overlap_sentences=5)
    assert [(c.start, c.end) for c in chunks] == [(0, 18), (10, 28), (20, 38), (30, 48), (40, 58)]


def test_edge_cases() -> None:
    assert chunk_document("", 100) == []
    assert chunk_document("  \n ", 100) == []
    assert chunk_sentences([Span(3, 9)], 1) == [ChunkSpan(3, 9, (Span(3, 9),))]
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_sentences([Span(0, 1)], 0)
    with pytest.raises(ValueError, match="overlap_sentences"):
        chunk_sentences([Span(0, 1)], 10, -1)


_WORDS = st.sampled_from(["alpha", "U.S.", "Mr.", "beta.", "Gamma?", "\n\n", " ", "x" * 120])


@settings(max_examples=200, deadline=None)
@given(st.lists(_WORDS, max_size=80), st.integers(20, 400), st.integers(0, 3))
def test_invariants_hold_for_generated_text(words: list[str], chunk_size: int, overlap: int) -> None:
    text = " ".join(words)
    assert_chunk_invariants(text, chunk_document(text, chunk_size, overlap), chunk_size, overlap)


@settings(max_examples=100, deadline=None)
@given(st.lists(_WORDS, max_size=60), st.integers(20, 400), st.integers(0, 3), st.data())
def test_no_chunk_spans_a_passage_break(
    words: list[str], chunk_size: int, overlap: int, data: st.DataObject
) -> None:
    text = " ".join(words)
    breaks = data.draw(st.lists(st.integers(0, max(len(text), 1)), max_size=4))
    chunks = chunk_document(text, chunk_size, overlap, breaks)
    covered = sorted({s for chunk in chunks for s in chunk.sentences}, key=lambda s: s.start)
    assert covered == split_sentences(text)  # every sentence is still in a chunk
    for chunk in chunks:
        assert not any(chunk.sentences[0].start < edge <= s.start for s in chunk.sentences for edge in breaks)
