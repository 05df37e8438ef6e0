"""Data shapes shared by every stage and front end (the Answer contract lives here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range [start, end) into a document's stored text."""

    start: int
    end: int


PageRanges = Sequence[tuple[int, int, int]]


def page_at(pages: PageRanges, offset: int) -> int | None:
    """The 1-based page holding character `offset`, from (start, end, page) ranges; None if none."""
    for start, end, page in pages:
        if start <= offset < end:
            return int(page)
    return None


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """What a citation or passage shows of its document besides the text."""

    title: str
    source: str
    pages: tuple[tuple[int, int, int], ...] = ()


@dataclass(slots=True)
class LoadedDocument:
    """What a loader returns: the stored text plus metadata.

    `pages` maps character ranges of `text` to 1-based page numbers (PDF pages, PPTX slides).
    """

    text: str
    title: str
    source: str
    pages: list[tuple[int, int, int]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    #: offsets where a passage must begin (each slide of a deck is its own passage)
    passage_breaks: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChunkSpan:
    """One chunk: a character range of the document and the sentence spans inside it."""

    start: int
    end: int
    sentences: tuple[Span, ...]


class Passage(BaseModel):
    """A retrieved chunk with its fused score."""

    chunk_id: str
    doc_id: str
    score: float
    text: str
    title: str = ""
    source: str = ""
    start: int = 0
    end: int = 0
    page: int | None = None


class Citation(BaseModel):
    """One `[n]` marker's evidence: `quote == document_text[start:end]`, exactly."""

    marker: int
    doc_id: str
    source: str
    title: str
    chunk_id: str
    start: int
    end: int
    quote: str
    page: int | None = None
    highlight: list[int] | None = Field(
        None,
        description="[start, end) document offsets, inside [start, end), of the part of the quote "
        "that carries the answer (the date for 'when', the name for 'who'); null when none",
    )


class Answer(BaseModel):
    """The answer contract returned by `ask --json`, `POST /ask` and eval reports."""

    id: str = ""
    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = Field(default_factory=list)
    passages: list[Passage] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)
    composer: Literal["extractive", "llm"] = "extractive"
    confidence: float | None = Field(
        None, description="the extractive composer's evidence score; it abstains below the threshold"
    )
    standalone_question: str | None = Field(
        None,
        description="the question as searched: a follow-up that leaned on earlier turns, rewritten "
        "to stand alone ('When was Resolution 598 adopted?'); equal to `question` otherwise",
    )
    tentative: bool = Field(
        False,
        description="answered below the confident threshold: shown as 'may not answer your "
        "question', with its passages (policy: docs/answer-model.md)",
    )


class Turn(BaseModel):
    """One earlier turn of a conversation: the question and the answer given, with its citations."""

    question: str
    answer: str = ""
    citations: list[Citation] = Field(default_factory=list)


def as_turn(item: Turn | str) -> Turn:
    """A history entry as a Turn: a bare string is an earlier question whose answer is unknown."""
    return item if isinstance(item, Turn) else Turn(question=item)


class SearchFilters(BaseModel):
    """Restrict retrieval; an empty filter means the whole index."""

    doc_ids: list[str] | None = None
    #: the document sets the caller may see (None: every document); intersected with doc_ids
    sets: list[str] | None = None


class DocumentInfo(BaseModel):
    """A document as listed by the index (no text)."""

    doc_id: str
    title: str
    source: str
    chunks: int
    chars: int
    content_hash: str
    indexed_at: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: the document sets it is in (who may see it)
    sets: list[str] = Field(default_factory=list)


class DocumentRecord(DocumentInfo):
    """A document with its stored text, against which citation offsets are checked."""

    text: str
    pages: list[tuple[int, int, int]] = Field(default_factory=list)


class SkippedFile(BaseModel):
    path: str
    reason: str


class IndexReport(BaseModel):
    """Summary of one `index build` run."""

    added: list[str] = Field(default_factory=list)
    replaced: list[str] = Field(default_factory=list)
    unchanged: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)
    documents: int = 0
    chunks: int = 0
    embedded_texts: int = 0
    reused_texts: int = 0  # texts whose vectors came from the vector cache, not the model
    seconds: float = 0.0


def source_url(public_url: str | None, citation: Citation) -> str | None:
    """Deep link to the web UI's source view for one citation, or None without a public URL."""
    if not public_url:
        return None
    base = public_url.rstrip("/")
    doc = quote(citation.doc_id, safe="")
    return f"{base}/#/doc/{doc}?start={citation.start}&end={citation.end}"
