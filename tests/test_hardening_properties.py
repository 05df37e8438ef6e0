"""Property-based tests: offsets of chunks, sentences and citations slice the stored text exactly.

Arbitrary Unicode (combining marks, RTL, emoji, NUL, CRLF, no punctuation, one 200,000-character
"sentence"): nothing raises, chunks cover the document and every offset is exact. The composer
is checked on real indexes (real model, FAISS, SQLite) built from generated documents, with a
bounded number of examples because each one builds an index.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.core import Assistant
from assistant.ingest import chunk_document, load_file, normalise_text, split_sentences
from assistant.ingest.sentences import MAX_SENTENCE_CHARS
from assistant.settings import Settings
from tests.helpers import assert_contract

HOSTILE_PIECES = [
    "\u0301", "\u0327\u0308", "e\u0301", "\u05e9\u05dc\u05d5\u05dd", "\u0645\u0631\u062d\u0628\u0627",
    "\u202e", "\u202c", "\u200f", "\u200d", "\ufeff", "👩‍👩‍👧‍👦", "🇮🇷", "🕊️", "\x00", "\r\n", "\r",
    "\n\n", "\t", "\u2028", "\u3000", "U.S.", "Mr.", "...", "…", "?!", "- ", "1. ", "«", "»", "\"",
]  # fmt: skip
PIECES = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(HOSTILE_PIECES),
    st.sampled_from(["The harbour", " opens", " at dawn", ".", " Ships", " wait", "!", " "]),
)
TEXTS = st.lists(PIECES, max_size=80).map("".join)


def check_chunks(text: str, chunk_size: int, overlap: int) -> None:
    chunks = chunk_document(text, chunk_size, overlap)
    sentences = split_sentences(text)
    # sentences: ordered, disjoint, trimmed, bounded, covering every non-space character
    covered = [False] * len(text)
    previous_end = 0
    for sentence in sentences:
        assert previous_end <= sentence.start < sentence.end <= len(text)
        piece = text[sentence.start : sentence.end]
        assert not piece[0].isspace() and not piece[-1].isspace()
        assert sentence.end - sentence.start <= MAX_SENTENCE_CHARS
        for i in range(sentence.start, sentence.end):
            covered[i] = True
        previous_end = sentence.end
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))
    # chunks: exact slices of whole consecutive sentences, every sentence in some chunk
    assert bool(chunks) == bool(sentences)
    seen = []
    for chunk in chunks:
        assert chunk.sentences
        assert chunk.start == chunk.sentences[0].start and chunk.end == chunk.sentences[-1].end
        assert (
            list(chunk.sentences) == sentences[sentences.index(chunk.sentences[0]) :][: len(chunk.sentences)]
        )
        assert len(chunk.sentences) == 1 or chunk.end - chunk.start <= chunk_size
        seen.extend(chunk.sentences)
    assert set(seen) == set(sentences)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, chunk_size=st.integers(1, 700), overlap=st.integers(0, 3))
def test_chunks_slice_raw_text_exactly(text: str, chunk_size: int, overlap: int) -> None:
    check_chunks(text, chunk_size, overlap)


@settings(max_examples=400, deadline=None)
@given(text=TEXTS, chunk_size=st.integers(100, 700))
def test_normalised_text_chunks_exactly_and_normalising_is_idempotent(text: str, chunk_size: int) -> None:
    clean = normalise_text(text)
    assert normalise_text(clean) == clean
    assert "\r" not in clean and "\x00" not in clean
    check_chunks(clean, chunk_size, 1)


@settings(max_examples=10, deadline=None)
@given(
    unit=st.sampled_from(["a", "word ", "\u0645\u0631\u062d ", "😀", "e\u0301", "x\x00", "\u3000"]),
    chunk_size=st.integers(100, 2000),
)
def test_one_200000_character_sentence(unit: str, chunk_size: int) -> None:
    text = (unit * (200_000 // len(unit) + 1))[:200_000]
    check_chunks(text, chunk_size, 1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=TEXTS)
def test_loaded_text_file_is_its_normalised_text(text: str, tmp_path: Path) -> None:
    path = tmp_path / "doc.txt"
    path.write_text(text, encoding="utf-8", newline="")
    try:
        document = load_file(path)
    except Exception as exc:  # refusals must be LoadError with a reason, never anything else
        from assistant.errors import LoadError

        assert isinstance(exc, LoadError) and str(exc)
        return
    assert document.text == normalise_text(text.removeprefix("\ufeff"))


# --- the composer on real indexes of generated documents ---------------------------------

WORDS = [
    "harbour", "lamp", "ferry", "tide", "council", "bond", "Valmora", "survey", "quay", "ledger",
    "keeper", "storm", "1987", "412", "March", "minister", "island", "repairs", "euros", "night",
]  # fmt: skip
SENTENCE = st.lists(st.sampled_from(WORDS), min_size=3, max_size=14).map(" ".join)
SEPARATORS = [". ", "! ", "? ", "\r\n", "\n\n", " ", "… ", "\x00 "]


@st.composite
def documents(draw: st.DrawFn, binary: bool = True) -> str:
    """Sentences of WORDS between hostile pieces; with `binary=False` no NUL, so the loader
    stores it (a NUL byte makes a file binary, which the loader refuses)."""
    pieces = [p for p in HOSTILE_PIECES if binary or "\x00" not in p]
    noise = st.sampled_from([*pieces, "", "", ""])
    separators = st.sampled_from([s for s in SEPARATORS if binary or "\x00" not in s])
    parts = []
    for _ in range(draw(st.integers(1, 12))):
        parts.append(draw(noise) + draw(SENTENCE).capitalize() + draw(noise))
        parts.append(draw(separators))
    return "".join(parts)


COMPOSER_EXAMPLES = 30


@settings(
    max_examples=COMPOSER_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    # the first document is always stored, so every example checks citations; the others may
    # be refused as binary, which the count below accounts for
    texts=st.tuples(documents(binary=False), st.lists(documents(), max_size=2)).map(
        lambda drawn: [drawn[0], *drawn[1]]
    ),
    question=SENTENCE,
    chunk_size=st.sampled_from([100, 200, 600]),
)
def test_citations_slice_the_stored_text_exactly(
    texts: list[str], question: str, chunk_size: int, tmp_path_factory: object, sample_assistant: Assistant
) -> None:
    folder = tmp_path_factory.mktemp("generated")  # type: ignore[attr-defined]
    docs = folder / "docs"
    docs.mkdir()
    for number, text in enumerate(texts):
        (docs / f"doc{number}.txt").write_text(text, encoding="utf-8", newline="")
    index_dir = folder / "index"
    # abstain_threshold below any score: every answerable question gets citations to check
    settings_ = Settings(index_dir=index_dir, chunk_size=chunk_size, abstain_threshold=-10.0)
    assistant = Assistant(index_dir, settings_, sample_assistant.embedder)
    report = assistant.index_paths([docs])
    stored = {d.doc_id: assistant.get_document(d.doc_id).text for d in assistant.list_documents()}
    assert len(stored) + len(report.skipped) == len(texts)
    assert "doc0" in stored, report.skipped
    for doc_id, text in stored.items():
        # a leading U+FEFF is a UTF-8 byte-order mark, not text: the loader drops it
        assert text == normalise_text(texts[int(doc_id.removeprefix("doc"))].removeprefix("\ufeff"))

    for ask in (question, question + "?", f"When did the {question}?"):
        answer = assistant.ask(ask, top_k=3)
        assert_contract(answer, assistant)
        for citation in answer.citations:
            assert 0 <= citation.start < citation.end <= len(stored[citation.doc_id])
            assert citation.quote.strip() == citation.quote
        for passage in answer.passages:
            assert stored[passage.doc_id][passage.start : passage.end] == passage.text
