"""What the MCP tools return: structured results whose field descriptions teach an agent the contract."""

from __future__ import annotations

from pydantic import BaseModel, Field

from assistant.models import IndexReport

_OFFSETS = "Character offset into the document's stored text (as returned by get_document)."


class ToolCitation(BaseModel):
    """The evidence behind one `[n]` marker of the answer."""

    marker: int = Field(description="The n of the `[n]` marker in the answer that this citation supports.")
    doc_id: str = Field(description="The document the quote comes from; pass it to get_document.")
    title: str
    source: str = Field(description="Where the document was loaded from (a file path).")
    start: int = Field(description=_OFFSETS + " The quote starts here.")
    end: int = Field(description=_OFFSETS + " The quote ends here (exclusive).")
    quote: str = Field(
        description="An exact slice of the document: get_document(doc_id, start, end).text == quote. "
        "Never paraphrased."
    )
    page: int | None = Field(None, description="1-based page, for PDFs.")
    url: str | None = Field(None, description="A link that opens the quote in the web UI, when configured.")


class AskResult(BaseModel):
    answer: str = Field(description="The answer; each claim ends with `[n]` markers naming its citation.")
    abstained: bool = Field(
        description="True when the documents hold no good evidence: the answer says so and there are "
        "no citations. Do not answer from elsewhere as if the documents said it."
    )
    tentative: bool = Field(
        False,
        description="True when an answer is given but the evidence may not answer the question: "
        "say so to the user and check the citations before relying on it.",
    )
    citations: list[ToolCitation]
    standalone_question: str | None = Field(
        None, description="The question as searched: a follow-up rewritten to stand alone."
    )


class HistoryTurn(BaseModel):
    """One earlier turn an agent passes back: the question asked and the `answer` text returned."""

    question: str = Field(description="An earlier question of this conversation.")
    answer: str = Field("", description="The answer text `ask` gave to it (with its [n] markers).")


class RankedPassage(BaseModel):
    rank: int = Field(description="1 is the best match.")
    doc_id: str
    title: str
    chunk_id: str
    start: int = Field(description=_OFFSETS)
    end: int = Field(description=_OFFSETS + " Exclusive.")
    score: float = Field(description="Fused retrieval score; only the order is meaningful.")
    text: str = Field(description="The passage: get_document(doc_id, start, end).text == text.")
    page: int | None = None


class SearchResult(BaseModel):
    passages: list[RankedPassage]


class DocumentSlice(BaseModel):
    doc_id: str
    title: str
    source: str
    length: int = Field(description="Characters in the whole stored text.")
    start: int
    end: int
    text: str = Field(description="The stored text from start to end (exclusive).")
    truncated: bool = Field(
        description="True when the slice was cut at the size limit; ask for the next part with start=end."
    )


class DocumentSummary(BaseModel):
    doc_id: str
    title: str
    source: str
    chars: int
    chunks: int


class DocumentList(BaseModel):
    documents: list[DocumentSummary]


class IndexSummary(BaseModel):
    added: list[str]
    replaced: list[str]
    unchanged: list[str]
    removed: list[str]
    skipped: list[str] = Field(description="Files not indexed, each with the reason.")
    documents: int = Field(description="Documents in the index now.")
    chunks: int

    @classmethod
    def of(cls, report: IndexReport) -> IndexSummary:
        return cls(
            added=report.added,
            replaced=report.replaced,
            unchanged=report.unchanged,
            removed=report.removed,
            skipped=[f"{s.path}: {s.reason}" for s in report.skipped],
            documents=report.documents,
            chunks=report.chunks,
        )
