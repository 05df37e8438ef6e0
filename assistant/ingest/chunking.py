"""Sentence-aware chunking: whole consecutive sentences packed up to a character budget.

Why not LangChain's RecursiveCharacterTextSplitter: with `add_start_index=True` it
recovers each chunk's offset with `str.find`, which points at the first copy of a
passage that occurs twice in a document (boilerplate, a repeated quote), so a citation
built on that offset would quote the wrong place. It also cuts wherever a separator
fits the budget, inside sentences and after abbreviations such as "U.S.". Here every
chunk is built from sentence spans of the stored text, so `text[chunk.start:chunk.end]`
is exact by construction and a cited sentence is never cut in half.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from assistant.ingest.sentences import split_sentences
from assistant.models import ChunkSpan, Span


def chunk_sentences(
    sentences: Sequence[Span], chunk_size: int, overlap_sentences: int = 1
) -> list[ChunkSpan]:
    """Greedily pack consecutive sentences while a chunk spans at most `chunk_size` characters.

    A chunk always holds at least one sentence (so one longer than `chunk_size` becomes
    its own chunk). Each next chunk starts `overlap_sentences` sentences before the
    previous one ended, when that still moves forward.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    chunks: list[ChunkSpan] = []
    first = 0
    count = len(sentences)
    while first < count:
        last = first
        while last + 1 < count and sentences[last + 1].end - sentences[first].start <= chunk_size:
            last += 1
        chunks.append(
            ChunkSpan(
                start=sentences[first].start,
                end=sentences[last].end,
                sentences=tuple(sentences[first : last + 1]),
            )
        )
        if last == count - 1:
            break
        first = max(last + 1 - overlap_sentences, first + 1)
    return chunks


def chunk_document(
    text: str, chunk_size: int, overlap_sentences: int = 1, breaks: Sequence[int] = ()
) -> list[ChunkSpan]:
    """Split `text` into sentences and pack them into chunks (offsets index into `text`).

    `breaks` are offsets where a new passage must begin (a deck's slides): no chunk, and no
    overlap, spans one; a sentence belongs to the part it starts in.
    """
    sentences = split_sentences(text)
    if not breaks:
        return chunk_sentences(sentences, chunk_size, overlap_sentences)
    edges = sorted(breaks)
    parts: dict[int, list[Span]] = {}
    for sentence in sentences:
        parts.setdefault(bisect_right(edges, sentence.start), []).append(sentence)
    return [
        chunk
        for _, part in sorted(parts.items())
        for chunk in chunk_sentences(part, chunk_size, overlap_sentences)
    ]
