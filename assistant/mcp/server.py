"""The MCP server: the Assistant's ask, search and document reading as tools for agents.

A thin front end: every tool calls the one Assistant. Tools are read-only unless indexing is
enabled explicitly, and then they index only inside the configured corpus folders.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import Field

from assistant.compose.outcome import TENTATIVE_NOTE
from assistant.core import Assistant
from assistant.errors import AssistantError, ConfigError, user_message
from assistant.mcp.corpus import OutsideCorpusError, corpus_files, resolve_in_corpus
from assistant.mcp.results import (
    AskResult,
    DocumentList,
    DocumentSlice,
    DocumentSummary,
    HistoryTurn,
    IndexSummary,
    RankedPassage,
    SearchResult,
    ToolCitation,
)
from assistant.models import Answer, SearchFilters, Turn, source_url
from assistant.observability.audit import audited
from assistant.state.access import Caller, key_caller, narrow, public_caller
from assistant.state.keys import KeyStore

log = logging.getLogger(__name__)

#: get_document returns at most this many characters per call; agents page with start/end
MAX_SLICE_CHARS = 20_000

INSTRUCTIONS = """\
Answers questions from a private, indexed document collection with exact, verifiable citations.
Start with `ask` for a question in words; use `search` to explore what the documents say about a
topic; use `list_documents` to see what is indexed; use `get_document` to read a document or to
verify a quote. Every citation's `quote` is an exact slice of the document's stored text:
get_document(doc_id, start, end).text == quote. When `abstained` is true, the documents do not
answer the question: say so instead of answering from elsewhere."""

_ASK = """\
Answer a question from the indexed documents, with citations.

Use this first for any question the documents might answer. The answer text carries `[n]`
markers; each citation (marker n) gives doc_id, title, start/end character offsets and `quote`,
the exact text of the document at those offsets (verify with get_document). Quote the answer
with its markers rather than rewording the evidence. `abstained: true` means the documents hold
no good evidence: report that instead of guessing. Optional: `doc_ids` to restrict the answer to
some documents (from list_documents), `top_k` passages to read (default from the server),
`history`: the conversation's earlier turns, oldest first, each `{question, answer}` as asked and
answered, so that a follow-up ("when was that resolution adopted?") is read against them; the
result's `standalone_question` shows how it was read."""

_SEARCH = """\
Find the passages that best match a query, ranked (1 = best), without composing an answer.

Use it to explore a topic, to gather context for a longer task, or when `ask` abstained and you
want to see what the documents do say. Each passage has doc_id, start/end offsets into the
stored text and its text (get_document(doc_id, start, end).text == text)."""

_GET_DOCUMENT = """\
Read a document's stored text, whole or a slice [start, end) in characters.

Use it to verify a citation (get_document(doc_id, start, end).text equals the citation's quote),
to read around a quote (widen start/end), or to read a document. A document longer than
20,000 characters comes back in parts: `truncated: true`, then call again with start = end.
Unknown doc_ids are an error: take ids from list_documents, ask or search."""

_LIST_DOCUMENTS = """\
List the indexed documents: doc_id, title, source path, length in characters, chunks.

Use it to see what the collection covers and to pick doc_ids for ask/search filters."""

_INDEX = """\
Index documents from the configured corpus folders (all of them when `paths` is empty).

Paths are files or folders, absolute or relative to a corpus folder; anything outside the corpus
folders is refused. Re-indexing is incremental: unchanged files are skipped, changed ones
replaced. New documents can be asked about as soon as this returns."""

Question = Annotated[str, Field(description="The question, in words.")]
DocIds = Annotated[
    list[str] | None, Field(description="Restrict to these doc_ids (from list_documents); omit for all.")
]
TopK = Annotated[int | None, Field(ge=1, le=100, description="Passages to retrieve (1-100).")]
Offset = Annotated[int | None, Field(ge=0, description="Character offset into the stored text.")]
History = Annotated[
    list[HistoryTurn] | None,
    Field(description="Earlier turns of this conversation, oldest first; omit for a new question."),
]


def build_server(
    assistant: Assistant,
    *,
    allow_indexing: bool = False,
    corpus_dirs: Sequence[Path] = (),
    public_url: str | None = None,
) -> MCPServer:
    """An MCP server over `assistant`; indexing tools only with `allow_indexing`.

    The tools see the documents of ASSISTANT_MCP_KEY's sets (the public sets without one); the
    key is looked up on every call, so revoking it stops the tools at once."""
    caller = mcp_caller(assistant)
    caller()  # an unknown key fails here, before the server starts

    @contextmanager
    def acting(tool: str) -> Iterator[Caller]:
        """One tool call: its caller, looked up once (a revoked key is a tool error), its audit
        line, and domain errors as tool errors."""
        try:
            who = caller()
        except AssistantError as exc:
            with audited(None, "MCP", tool):
                raise ToolError(user_message(exc)) from exc
        with audited(who.name, "MCP", tool), tool_errors():
            yield who

    server: MCPServer = MCPServer(
        name="assistant",
        title="Cited answers from your documents",
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(description=_ASK, annotations=read_only)
    def ask(
        question: Question, doc_ids: DocIds = None, top_k: TopK = None, history: History = None
    ) -> Annotated[CallToolResult, AskResult]:
        turns = [Turn(question=t.question, answer=t.answer) for t in history or []]
        with acting("ask") as who:
            filters = narrow(_filters(doc_ids), who)
            answer = assistant.ask(question, top_k=top_k, filters=filters, history=turns)
        result = ask_result(answer, public_url)
        return CallToolResult(
            content=[TextContent(type="text", text=ask_text(result))],
            structured_content=result.model_dump(mode="json"),
        )

    @server.tool(description=_SEARCH, annotations=read_only)
    def search(query: Question, top_k: TopK = None, doc_ids: DocIds = None) -> SearchResult:
        with acting("search") as who:
            passages = assistant.search(query, top_k=top_k, filters=narrow(_filters(doc_ids), who))
        return SearchResult(
            passages=[
                RankedPassage(rank=rank, **p.model_dump(exclude={"source"}))
                for rank, p in enumerate(passages, start=1)
            ]
        )

    @server.tool(description=_GET_DOCUMENT, annotations=read_only)
    def get_document(doc_id: str, start: Offset = None, end: Offset = None) -> DocumentSlice:
        with acting("get_document") as who:
            record = assistant.get_document(doc_id, who.sets)
        length = len(record.text)
        first = 0 if start is None else start
        last = length if end is None else end
        if first > length or last > length or first > last:
            raise ToolError(
                f"start={first}, end={last} is not a range of '{doc_id}', which has {length:,} characters; "
                "use 0 <= start <= end <= length"
            )
        truncated = last - first > MAX_SLICE_CHARS
        last = min(last, first + MAX_SLICE_CHARS)
        return DocumentSlice(
            doc_id=record.doc_id,
            title=record.title,
            source=record.source,
            length=length,
            start=first,
            end=last,
            text=record.text[first:last],
            truncated=truncated,
        )

    @server.tool(description=_LIST_DOCUMENTS, annotations=read_only)
    def list_documents() -> DocumentList:
        with acting("list_documents") as who:
            documents = assistant.list_documents(who.sets)
        fields = set(DocumentSummary.model_fields)
        return DocumentList(documents=[DocumentSummary(**d.model_dump(include=fields)) for d in documents])

    if allow_indexing:
        roots = [Path(root) for root in corpus_dirs]
        if not roots:
            raise ValueError("indexing needs at least one corpus folder")

        @server.tool(
            description=_INDEX,
            annotations=ToolAnnotations(
                read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
            ),
        )
        def index_documents(
            paths: Annotated[
                list[str] | None, Field(description="Files or folders inside the corpus folders.")
            ] = None,
        ) -> IndexSummary:
            if assistant.settings.mcp_key is not None and caller().sets is not None:
                # the HTTP rule for a scoped key on a write (403): reading keys never index
                raise ToolError("ASSISTANT_MCP_KEY may only read; indexing needs an admin key")
            try:
                requested = [resolve_in_corpus(p, roots) for p in paths] if paths else roots
            except OutsideCorpusError as exc:
                raise ToolError(str(exc)) from exc
            files, refused = corpus_files(requested, roots)
            with tool_errors():
                report = assistant.index_paths(files) if files else None
            summary = IndexSummary.of(report) if report else _unchanged(assistant)
            summary.skipped.extend(f"{s.path}: {s.reason}" for s in refused)
            log.info("MCP indexing: %d added, %d replaced", len(summary.added), len(summary.replaced))
            return summary

    return server


def mcp_caller(assistant: Assistant) -> Callable[[], Caller]:
    """Who the tools act for: ASSISTANT_MCP_KEY's caller, or the public caller without a key.
    Each call looks the key up again (RevokedKeyError once it is revoked)."""
    settings = assistant.settings
    keys = KeyStore.for_index(assistant.index_dir)

    def caller() -> Caller:
        if settings.mcp_key is None:
            return public_caller(settings)
        found = key_caller(settings, keys, settings.mcp_key.get_secret_value())
        if found is None:
            raise ConfigError(
                "ASSISTANT_MCP_KEY is not a key of this index: create one with "
                "`assistant keys create NAME --sets ...` (or use ASSISTANT_API_KEY)"
            )
        return found

    return caller


@contextmanager
def tool_errors() -> Iterator[None]:
    """Domain errors become tool errors (is_error results the agent can read), not crashes."""
    try:
        yield
    except AssistantError as exc:
        raise ToolError(user_message(exc)) from exc


def _filters(doc_ids: list[str] | None) -> SearchFilters | None:
    return SearchFilters(doc_ids=doc_ids) if doc_ids else None


def _unchanged(assistant: Assistant) -> IndexSummary:
    stats = assistant.stats()
    empty: list[str] = []
    return IndexSummary(
        added=empty,
        replaced=empty,
        unchanged=empty,
        removed=empty,
        skipped=[],
        documents=stats["documents"],
        chunks=stats["chunks"],
    )


def ask_result(answer: Answer, public_url: str | None) -> AskResult:
    return AskResult(
        answer=answer.answer,
        abstained=answer.abstained,
        tentative=answer.tentative,
        citations=[
            ToolCitation(**c.model_dump(exclude={"chunk_id"}), url=source_url(public_url, c))
            for c in answer.citations
        ],
        standalone_question=answer.standalone_question,
    )


def ask_text(result: AskResult) -> str:
    """What a model reads: the answer, then each citation with its offsets and exact quote."""
    if not result.citations:
        return result.answer
    lines = [result.answer, ""]
    if result.tentative:
        lines += [TENTATIVE_NOTE, ""]
    lines += ["Citations (quote = get_document(doc_id, start, end).text):"]
    for c in result.citations:
        lines.append(f'[{c.marker}] {c.doc_id} [{c.start}:{c.end}] "{c.title}": "{c.quote}"')
    return "\n".join(lines)
