"""The Assistant: the one object every front end (CLI, HTTP, web, Slack, eval) calls."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.compose.extractive import ExtractiveComposer
from assistant.compose.outcome import mark_tentative
from assistant.compose.seam import (
    AnswerDelta,
    AnswerReady,
    ComposeContext,
    Composer,
    StreamEvent,
    StreamingComposer,
)
from assistant.compose.verifier import load_verifier
from assistant.conversation import prior_doc_ids, resolve, with_prior
from assistant.embedding import DocumentEmbedder, Embedder, make_query_embedder
from assistant.errors import (
    ConfigError,
    DocumentNotFoundError,
    IndexCorruptError,
    InvalidQuestionError,
    ModelMismatchError,
)
from assistant.indexing import Progress, build_index, remove_document, sync_source
from assistant.indexing.vector_cache import FILE_NAME as VECTOR_CACHE_FILE
from assistant.indexing.vector_cache import CachingEmbedder, VectorCache
from assistant.models import (
    Answer,
    DocumentInfo,
    DocumentMeta,
    DocumentRecord,
    IndexReport,
    Passage,
    SearchFilters,
    Turn,
    as_turn,
)
from assistant.observability.audit import returned
from assistant.observability.metrics import build_timer, observe_answer
from assistant.retrieval.hybrid import RetrievedChunk, SearchMode, retrieve
from assistant.settings import Settings
from assistant.sources import Source
from assistant.sources.registry import SourceRegistry, SourceStatus, make_source
from assistant.store import FORMAT_VERSION, Manifest, ReadView, chunk_key, open_store
from assistant.store.lexical import content_terms

if TYPE_CHECKING:
    from assistant.state.feedback import FeedbackStore
    from assistant.state.gaps import GapStore, Reason

log = logging.getLogger(__name__)

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")

#: earlier questions of a conversation that are added to a follow-up's retrieval query
HISTORY_TURNS = 2
#: a reader retries opening the newest snapshot this many times while writers retire them
OPEN_ATTEMPTS = 5
#: a question with fewer content words than this is read together with the earlier turns
FOLLOW_UP_MIN_TERMS = 3


class Assistant:
    """Index documents and answer questions with cited answers over one index directory.

    Thread-safe: reads use an immutable snapshot; a newer snapshot (from this process or another
    one) is picked up by the next request without disturbing requests in flight.
    """

    def __init__(
        self,
        index_dir: Path,
        settings: Settings,
        embedder: Embedder | None = None,
        composer: Composer | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        if settings.index_dir != self.index_dir:  # one index directory, whichever way it was given
            settings = settings.model_copy(update={"index_dir": self.index_dir})
        self.settings = settings
        self.store = open_store(self.index_dir, settings)
        self.embedder: Embedder = embedder or DocumentEmbedder(settings)
        self._query_embedder: Embedder | None = None
        self.extractive = ExtractiveComposer(
            settings.max_answer_sentences, verifier=load_verifier() if settings.verifier == "on" else None
        )
        self._composers: dict[str, Composer] = {"extractive": composer or self.extractive}
        self._snapshot: ReadView | None = None
        self._swap_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._feedback: FeedbackStore | None = None
        self._gaps: GapStore | None = None
        self._vector_cache: VectorCache | None = None

    # --- construction ---------------------------------------------------------------------

    @classmethod
    def load(cls, index_dir: str | Path = "index", settings: Settings | None = None) -> Assistant:
        """Open an existing index; IndexNotFoundError (naming the build command) if there is none."""
        settings = settings or Settings()
        assistant = cls(Path(index_dir), settings)
        assistant._snapshot = assistant.store.open()
        assistant._check_model(assistant._snapshot.manifest)
        return assistant

    @classmethod
    def open_or_create(cls, index_dir: str | Path = "index", settings: Settings | None = None) -> Assistant:
        """Open the index if there is one, else start with an empty one (built on first add)."""
        settings = settings or Settings()
        assistant = cls(Path(index_dir), settings)
        if assistant.store.exists():
            assistant._snapshot = assistant.store.open()
            assistant._check_model(assistant._snapshot.manifest)
        return assistant

    def _check_model(self, manifest: Manifest) -> None:
        if manifest.model != self.settings.embedding_model:
            raise ModelMismatchError(
                f"the index at {self.index_dir} was built with the embedding model "
                f"'{manifest.model}' but '{self.settings.embedding_model}' is configured; set "
                f"ASSISTANT_EMBEDDING_MODEL={manifest.model} or rebuild with "
                f"`assistant index build --rebuild --index-dir {self.index_dir}`"
            )

    # --- snapshots ------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Switch to a newer snapshot if one was committed (cheap: one small file read)."""
        name = self.store.current_name()
        current = self._snapshot
        if name is None or (current is not None and current.name == name):
            return False
        with self._swap_lock:
            if self._snapshot is not None and self._snapshot.name == name:
                return False
            snapshot = self._open_snapshot(name)
            self._check_model(snapshot.manifest)
            self._snapshot = snapshot
            log.info("now serving snapshot %s", name)
            return True

    def _open_snapshot(self, name: str) -> ReadView:
        """Open snapshot `name`; if a writer retired it meanwhile (faster writers than this
        reader can commit KEEP_SNAPSHOTS times between reading CURRENT and opening the files),
        open the newer current one instead. Damage to a snapshot that is still current raises."""
        for _ in range(OPEN_ATTEMPTS - 1):
            try:
                return self.store.open(name)
            except IndexCorruptError:
                newer = self.store.current_name()
                if newer is None or newer == name:
                    raise
                name = newer
        return self.store.open(name)

    def snapshot(self) -> ReadView | None:
        """The snapshot new requests should use (after picking up any newer one)."""
        self.refresh()
        return self._snapshot

    # --- asking ---------------------------------------------------------------------------

    def _validate(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestionError("the question is empty; ask something in words")
        if _LONE_SURROGATE.search(question):
            raise InvalidQuestionError(
                "the question contains invalid characters (unpaired UTF-16 surrogates); "
                "send it as valid Unicode text"
            )
        limit = self.settings.max_question_chars
        if len(question) > limit:
            raise InvalidQuestionError(
                f"the question is {len(question):,} characters long; the limit is {limit:,} "
                "(ASSISTANT_MAX_QUESTION_CHARS)"
            )
        return question.strip()

    def _top_k(self, top_k: int | None) -> int:
        value = self.settings.top_k if top_k is None else top_k
        if not isinstance(value, int) or value < 1 or value > 100:
            raise InvalidQuestionError(f"top_k must be between 1 and 100, got {top_k!r}")
        return value

    @property
    def query_embedder(self) -> Embedder:
        """Embeds questions: the int8 ONNX export unless ASSISTANT_QUERY_EMBEDDER says otherwise
        (built on first use, so opening an index imports neither torch nor onnxruntime)."""
        if self._query_embedder is None:
            with self._swap_lock:
                if self._query_embedder is None:
                    if isinstance(self.embedder, DocumentEmbedder):
                        self._query_embedder = make_query_embedder(self.settings, self.embedder)
                    else:  # an embedder of the caller's own: questions must go through it too
                        self._query_embedder = self.embedder
        return self._query_embedder

    @query_embedder.setter
    def query_embedder(self, embedder: Embedder) -> None:
        self._query_embedder = embedder

    def embed_query(self, text: str) -> np.ndarray:
        return self.query_embedder.embed([text])[0]

    def _context(
        self,
        question: str,
        top_k: int | None,
        filters: SearchFilters | None,
        history: Sequence[Turn | str] | None,
        timings: dict[str, float],
        mode: SearchMode = "hybrid",
    ) -> ComposeContext | None:
        question = self._validate(question)
        k = self._top_k(top_k)
        turns = [t for t in map(as_turn, history or []) if t.question.strip()][-HISTORY_TURNS:]
        earlier = [t.question.strip() for t in turns]
        snapshot = self.snapshot()
        if snapshot is None or snapshot.manifest.chunks == 0:
            return None
        # a follow-up that leans on the last turn ("when was that resolution adopted?") is
        # rewritten to stand alone, and is searched and scored as rewritten
        resolution = resolve(question, turns, self.embed_query if mode != "keyword" else None)
        question = resolution.question
        forms = [question]
        if earlier:
            # a follow-up ("and when was that?") leans on earlier turns; search with both forms
            forms.append(" ".join([*earlier, question])[: self.settings.max_question_chars * 2])
        started = time.perf_counter()
        vectors = [self.embed_query(f) if mode != "keyword" else None for f in forms]
        timings["embed"] = _ms(started)
        started = time.perf_counter()
        # the caller's sets go into the store's search with the doc_ids (filtered inside it)
        doc_ids = filters.doc_ids if filters is not None else None
        sets = filters.sets if filters is not None else None
        expand = self.settings.query_expansion == "on"
        forms_with_vectors = list(zip(vectors, forms, strict=True))
        chunks = retrieve(snapshot, forms_with_vectors, k, doc_ids, mode, sets, expand)
        if resolution.rewritten and resolution.prior_docs:
            prior = prior_doc_ids(resolution.prior_docs, doc_ids)
            first = [(vectors[0], question)]
            found = retrieve(snapshot, first, k, prior, mode, sets, expand) if prior else []
            chunks = with_prior(chunks, found, k)
        timings["retrieve"] = _ms(started)
        # Sentences are scored against the question itself unless it is too short to stand alone.
        standalone = (
            resolution.rewritten or len(content_terms(question)) >= FOLLOW_UP_MIN_TERMS or not earlier
        )
        use = 0 if standalone else 1
        vector = vectors[use]
        query_text = forms[use]

        def search_again(text: str) -> ComposeContext | None:
            """The same question searched with another text (a second hop), same filters."""
            again = self.embed_query(text) if mode != "keyword" else None
            found = retrieve(snapshot, [(again, text)], k, doc_ids, mode, sets, expand)
            return _compose_context(question, text, again, found, snapshot) if found else None

        context = _compose_context(question, query_text, vector, chunks, snapshot)
        context.search_again = search_again if self.settings.two_hop else None
        return context

    def composer(self, name: str | None = None) -> Composer:
        """The composer to use: `name`, else the LLM one when ASSISTANT_LLM is set, else extractive."""
        chosen = name or self.settings.composer or ("llm" if self.settings.llm else "extractive")
        if chosen not in self._composers:
            if chosen != "llm":
                raise InvalidQuestionError(f"unknown composer '{chosen}'; use extractive or llm")
            if not self.settings.llm:
                raise InvalidQuestionError(
                    "the llm composer needs a model: set ASSISTANT_LLM (e.g. ollama:llama3.1)"
                )
            from assistant.compose.llm import make_llm_composer

            self._composers["llm"] = make_llm_composer(
                self.settings, fallback=self.extractive, embed=self.embed_query
            )
        return self._composers[chosen]

    def ask(
        self,
        question: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        history: Sequence[Turn | str] | None = None,
        composer: str | None = None,
    ) -> Answer:
        """Answer with cited sentences, or abstain when the documents hold no good evidence."""
        for event in self.stream(question, top_k, filters, history, composer, deltas=False):
            if isinstance(event, AnswerReady):
                return event.answer
        raise AssertionError("stream() ended without an answer")

    def stream(
        self,
        question: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        history: Sequence[Turn | str] | None = None,
        composer: str | None = None,
        deltas: bool = True,
    ) -> Iterator[StreamEvent]:
        """Yield AnswerDelta events as the answer is produced, then one AnswerReady (always last).
        Validation errors raise before the first event."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        chosen = self.composer(composer)
        context = self._context(question, top_k, filters, history, timings)
        if context is None:
            empty = _empty_index_answer(question.strip(), timings, started)
            observe_answer(empty)
            yield AnswerReady(empty)
            return
        compose_started = time.perf_counter()
        answer: Answer | None = None
        if deltas and isinstance(chosen, StreamingComposer):
            for event in chosen.stream(context, self.settings.abstain_threshold):
                if isinstance(event, AnswerReady):
                    answer = event.answer
                else:
                    yield event
        else:
            answer = chosen.compose(context, self.settings.abstain_threshold)
            if deltas:
                for piece in _sentence_pieces(answer.answer):
                    yield AnswerDelta(piece)
        if answer is None:
            raise AssertionError(f"the {chosen.name} composer streamed no answer")
        timings["compose"] = _ms(compose_started)
        timings["total"] = _ms(started)
        answer.timings_ms = timings
        answer.standalone_question = context.question
        answer.question = question.strip()
        answer = mark_tentative(answer, self.settings.confident_threshold, composer_marked=answer.tentative)
        observe_answer(answer)
        returned([c.doc_id for c in answer.citations] + [p.doc_id for p in answer.passages])
        self._record_gap(answer)
        yield AnswerReady(answer)

    def search(
        self,
        query: str,
        top_k: int | None = None,
        filters: SearchFilters | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Passage]:
        """Ranked passages for a query (no answer composition)."""
        context = self._context(query, top_k, filters, None, {}, mode)
        passages = [] if context is None else context.passages
        returned(p.doc_id for p in passages)
        return passages

    def as_retriever(self, top_k: int | None = None) -> Any:
        """A langchain_core BaseRetriever over this assistant's hybrid search."""
        from assistant.retrieval.langchain_adapter import AssistantRetriever

        return AssistantRetriever(assistant=self, top_k=self._top_k(top_k))

    # --- documents ------------------------------------------------------------------------

    def _manifest(self) -> Manifest:
        """The manifest a new snapshot is written with (model facts + chunking settings)."""
        live = self._snapshot.manifest if self._snapshot is not None else None
        if live is not None and live.model == self.settings.embedding_model:
            dimension = live.dimension
        else:
            dimension = self.embedder.dimension
        return Manifest(
            format_version=FORMAT_VERSION,
            model=self.settings.embedding_model,
            dimension=dimension,
            chunk_size=self.settings.chunk_size,
            chunk_overlap_sentences=self.settings.chunk_overlap_sentences,
        )

    def index_paths(
        self,
        paths: Sequence[Path],
        prune: bool = False,
        rebuild: bool = False,
        progress: Progress | None = None,
        sets: Sequence[str] | None = None,
    ) -> IndexReport:
        """Index files and folders incrementally; the new snapshot is live when this returns."""
        with self._write_lock, build_timer():
            if not rebuild:  # a rebuild must not need the (possibly damaged) live snapshot
                self.refresh()
            report = build_index(
                self.store,
                self._build_embedder(),
                self.settings,
                self._manifest(),
                [Path(p) for p in paths],
                prune=prune,
                rebuild=rebuild,
                progress=progress,
                sets=sets,
            )
            self.refresh()
            # export the query model now, while torch is loaded anyway (no-op once cached)
            _ = self.query_embedder
            return report

    def _build_embedder(self) -> Embedder:
        """The document embedder behind the vector cache (none when the cache is off)."""
        if self.settings.vector_cache_entries == 0:
            return self.embedder
        if self._vector_cache is None:
            path = self.index_dir / VECTOR_CACHE_FILE
            self._vector_cache = VectorCache(path, self.settings.vector_cache_entries)
        return CachingEmbedder(self.embedder, self._vector_cache)

    def sync_source(self, source: Source, progress: Progress | None = None) -> IndexReport:
        """Bring the index in line with one source (new, changed and vanished items), then go live."""
        with self._write_lock:
            self.refresh()
            report = sync_source(
                self.store, self._build_embedder(), self.settings, self._manifest(), source, progress=progress
            )
            self.refresh()
            return report

    def sources(self) -> SourceRegistry:
        """The sources registered for this index (sources.json beside it)."""
        return SourceRegistry(self.index_dir)

    def sync_registered(self, source_id: str | None = None) -> list[SourceStatus]:
        """Sync every registered source (or one), recording each outcome as it completes."""
        registry = self.sources()
        chosen = [s for s in registry.load() if source_id in (None, s.id)]
        if source_id is not None and not chosen:
            raise ConfigError(f"no source '{source_id}': `assistant sources list` shows them")
        done = []
        for status in chosen:
            source = make_source(status)
            done.append(registry.record(status, source, self.sync_source(source)))
        return done

    def remove_document(self, doc_id: str) -> None:
        """Delete one document from dense and keyword search (DocumentNotFoundError if unknown)."""
        with self._write_lock:
            self.refresh()
            if self._snapshot is None or not remove_document(self.store, self._manifest(), doc_id):
                raise DocumentNotFoundError(f"no document with doc_id '{doc_id}' in the index")
            self.refresh()

    def list_documents(self, sets: Sequence[str] | None = None) -> list[DocumentInfo]:
        """Every document, or those in `sets` (a caller limited to them sees no others)."""
        snapshot = self.snapshot()
        if snapshot is None:
            return []
        docs = snapshot.documents()
        if sets is not None:
            visible = set(snapshot.doc_ids_in_sets(sets))
            docs = [d for d in docs if d["doc_id"] in visible]
        returned(d["doc_id"] for d in docs)
        return [DocumentInfo(**d) for d in docs]

    def get_document(self, doc_id: str, sets: Sequence[str] | None = None) -> DocumentRecord:
        """One document; outside `sets` it does not exist for the caller (DocumentNotFoundError)."""
        snapshot = self.snapshot()
        found = snapshot.document(doc_id) if snapshot is not None else None
        hidden = (
            found is not None
            and snapshot is not None
            and sets is not None
            and doc_id not in snapshot.doc_ids_in_sets(sets)
        )
        if found is None or hidden:
            raise DocumentNotFoundError(f"no document with doc_id '{doc_id}' in the index")
        returned([doc_id])
        return DocumentRecord(**found)

    def stats(self) -> dict[str, Any]:
        snapshot = self.snapshot()
        if snapshot is None:
            return {"documents": 0, "chunks": 0, "model": self.settings.embedding_model, "index_version": ""}
        manifest = snapshot.manifest
        return {
            "documents": manifest.documents,
            "chunks": manifest.chunks,
            "model": manifest.model,
            "index_version": manifest.snapshot,
        }

    @property
    def feedback(self) -> FeedbackStore:
        """Ratings of answers from every front end, in SQLite next to the index."""
        if self._feedback is None:
            from assistant.state.feedback import FeedbackStore

            self._feedback = FeedbackStore(self.index_dir / "feedback.sqlite")
        return self._feedback

    # ---- content gaps (assistant/state/gaps.py) ----
    @property
    def gaps(self) -> GapStore:
        """Questions the documents answered badly, kept beside the index."""
        if self._gaps is None:
            from assistant.state.gaps import GAPS_FILENAME, GapStore

            self._gaps = GapStore(self.index_dir / GAPS_FILENAME, self.settings.gaps_retention_days)
        return self._gaps

    def _record_gap(self, answer: Answer) -> None:
        if not self.settings.gaps_enabled:
            return
        low = answer.confidence is not None and answer.confidence < self.settings.gaps_confidence_below
        if answer.abstained or low:
            doc_ids = list(dict.fromkeys(p.doc_id for p in answer.passages))
            reason: Reason = "refused" if answer.abstained else "low_confidence"
            try:
                self.gaps.record(answer.question, reason, doc_ids, answer.confidence)
            except (sqlite3.Error, OSError) as exc:  # a gap log that cannot be written never costs an answer
                log.warning("content gap not recorded: %s", exc)


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _compose_context(
    question: str, text: str, vector: np.ndarray | None, chunks: list[RetrievedChunk], snapshot: ReadView
) -> ComposeContext:
    """What a composer is given for `chunks` found with `text` (no vector: keyword search)."""
    return ComposeContext(
        question=question,
        query_text=text,
        query_vector=vector if vector is not None else np.zeros(snapshot.manifest.dimension),
        chunks=chunks,
        snapshot=snapshot,
        passages=_passages(snapshot, chunks),
    )


def _passages(snapshot: ReadView, chunks: list[RetrievedChunk]) -> list[Passage]:
    meta = snapshot.document_meta(c.row.doc_id for c in chunks)
    passages = []
    for chunk in chunks:
        doc = meta.get(chunk.row.doc_id, DocumentMeta("", ""))
        passages.append(
            Passage(
                chunk_id=chunk_key(chunk.row.doc_id, chunk.row.ord),
                doc_id=chunk.row.doc_id,
                score=round(chunk.score, 6),
                text=chunk.row.text,
                title=doc.title,
                source=doc.source,
                start=chunk.row.start,
                end=chunk.row.end,
                page=chunk.row.page,
            )
        )
    return passages


def _empty_index_answer(question: str, timings: dict[str, float], started: float) -> Answer:
    import uuid

    from assistant.compose.extractive import ABSTAIN_TEXT

    timings["total"] = _ms(started)
    return Answer(
        id=uuid.uuid4().hex,
        question=question,
        answer=ABSTAIN_TEXT,
        abstained=True,
        timings_ms=timings,
        standalone_question=question,
    )


def _sentence_pieces(text: str) -> list[str]:
    """Split an answer into word groups so a client can render it progressively."""
    words = text.split(" ")
    return [" ".join(words[i : i + 4]) + (" " if i + 4 < len(words) else "") for i in range(0, len(words), 4)]
