"""Check the model's `[n]` markers against the passages and turn each into an exact citation.

The reply is rewritten as it arrives (streamed or whole, the same code runs), so markers are
resolved as they arrive, not at the end:
- a marker naming no passage (`[7]` with five passages) is dropped with the space before it;
- `[1, 2]` and `[Passage 1]` are written as `[1][2]` and `[1]`;
- each valid marker becomes a citation of the one sentence of that passage that best supports
  the claim it follows (the text since the previous marker): embedding similarity of the claim
  against the sentence embeddings stored at index time, plus the share of the claim's words the
  sentence contains. When that sentence refers back ("this provision ...") and the sentence
  before it is in the passage too, the quote starts there. The quote is the stored text's slice;
- identical citations share one marker; markers are numbered 1, 2, ... in order of first use.
A `[` near the end of the text so far is held back until it is known whether it opens a marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from assistant.compose.extractive import refers_back
from assistant.compose.seam import ComposeContext
from assistant.models import Citation, DocumentMeta, page_at
from assistant.store import SentenceRow, chunk_key
from assistant.store.lexical import content_terms

Embed = Callable[[str], np.ndarray]

_LABEL = r"(?:(?:passage|source|doc(?:ument)?)\s*)?"
MARKER = re.compile(rf"\[\s*{_LABEL}(\d{{1,3}}(?:\s*[,;]\s*{_LABEL}\d{{1,3}})*)\s*\]", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_WORD = re.compile(r"\w")
#: a `[` this close to the end of the text so far may still become a marker
MAX_MARKER_CHARS = 40
#: the claim a marker supports is at most this much of the text before it
MAX_CLAIM_CHARS = 600
#: sentence score: similarity to the claim vs. share of the claim's content words it holds
SIMILARITY_WEIGHT = 0.7
OVERLAP_WEIGHT = 0.3


class CitationResolver:
    """Feed it the reply piece by piece; it returns the text to show and collects citations.

    `embed` turns a claim into a vector comparable with the stored sentence embeddings (the
    Assistant's query embedder); without it every claim is matched with the question's vector.
    """

    def __init__(self, context: ComposeContext, embed: Embed | None = None) -> None:
        self._context = context
        self._embed = embed
        self._meta = context.snapshot.document_meta(c.row.doc_id for c in context.chunks)
        self._sentences: dict[int, list[SentenceRow]] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._markers: dict[tuple[str, int, int], int] = {}
        self.citations: list[Citation] = []
        self.invalid_markers = 0
        self._parts: list[str] = []
        self._pending = ""  # received, not yet shown (a possible marker's start)
        self._held_space = ""  # trailing whitespace, shown only once more text follows
        self._started = False
        self._since_marker = ""
        self._last_claim = ""

    @property
    def text(self) -> str:
        """The rewritten reply so far: exactly the concatenation of what feed/finish returned."""
        return "".join(self._parts)

    def feed(self, piece: str) -> str:
        """Take the next piece of the reply; return the rewritten text that is now final."""
        self._pending += piece
        out: list[str] = []
        while (match := MARKER.search(self._pending)) is not None:
            out.append(self._plain(self._pending[: match.start()]))
            out.append(self._marker(match))
            self._pending = self._pending[match.end() :]
        cut = _safe_length(self._pending)
        out.append(self._plain(self._pending[:cut]))
        self._pending = self._pending[cut:]
        return self._record(out)

    def finish(self) -> str:
        """The reply is complete: release what was held back (trailing whitespace is dropped)."""
        out = self._plain(self._pending)
        self._pending = ""
        self._held_space = ""
        return self._record([out])

    def _record(self, out: list[str]) -> str:
        text = "".join(out)
        if text:
            self._parts.append(text)
        return text

    def _plain(self, text: str) -> str:
        if not text:
            return ""
        self._since_marker += text
        text = self._held_space + text
        core = text.rstrip()
        self._held_space = text[len(core) :]
        if not self._started:
            core = core.lstrip()
            if not core:
                self._held_space = ""
                return ""
            self._started = True
        return core

    def _marker(self, match: re.Match[str]) -> str:
        numbers = list(dict.fromkeys(int(n) for n in _NUMBER.findall(match.group(1))))
        valid = [n for n in numbers if 1 <= n <= len(self._context.chunks)]
        self.invalid_markers += len(numbers) - len(valid)
        if not valid:
            if "\n" not in self._held_space:
                self._held_space = ""  # "claim [7]." reads "claim.", a paragraph break stays
            return ""
        claim = self._claim()
        markers = list(dict.fromkeys(self._cite(n, claim) for n in valid))
        text = self._held_space + "".join(f"[{m}]" for m in markers)
        self._held_space = ""
        if not self._started:
            self._started = True
            text = text.lstrip()
        return text

    def _claim(self) -> str:
        """The text a marker supports: since the previous marker, else that marker's claim."""
        if _WORD.search(self._since_marker):
            self._last_claim = self._since_marker[-MAX_CLAIM_CHARS:].strip()
            self._since_marker = ""
        return self._last_claim or self._context.question

    def _cite(self, number: int, claim: str) -> int:
        row = self._context.chunks[number - 1].row
        start, end = self._best_span(number, claim)
        key = (row.doc_id, start, end)
        if key in self._markers:
            return self._markers[key]
        marker = len(self.citations) + 1
        doc = self._meta.get(row.doc_id, DocumentMeta("", ""))
        self.citations.append(
            Citation(
                marker=marker,
                doc_id=row.doc_id,
                source=doc.source,
                title=doc.title,
                chunk_id=chunk_key(row.doc_id, row.ord),
                start=start,
                end=end,
                quote=self._context.snapshot.text_slice(row.doc_id, start, end),
                page=page_at(doc.pages, start),
            )
        )
        self._markers[key] = marker
        return marker

    def _best_span(self, number: int, claim: str) -> tuple[int, int]:
        """Offsets of the passage's sentence that best supports the claim."""
        row = self._context.chunks[number - 1].row
        if number not in self._sentences:
            self._sentences[number] = self._context.snapshot.sentences(
                row.doc_id, row.first_sentence, row.last_sentence
            )
        sentences = self._sentences[number]
        if not sentences:  # an index without sentence rows: cite the whole passage
            return row.start, row.end
        vector = self._vector(claim)
        terms = set(content_terms(claim))

        def text(sentence: SentenceRow) -> str:
            return row.text[sentence.start - row.start : sentence.end - row.start]

        def support(index: int) -> float:
            similarity = float(sentences[index].embedding @ vector)
            if not terms:
                return similarity
            overlap = len(terms & set(content_terms(text(sentences[index])))) / len(terms)
            return SIMILARITY_WEIGHT * similarity + OVERLAP_WEIGHT * overlap

        best = max(range(len(sentences)), key=support)
        start = sentences[best].start
        if best > 0 and refers_back(text(sentences[best])):
            start = sentences[best - 1].start  # "this provision" needs the sentence naming it
        return start, sentences[best].end

    def _vector(self, claim: str) -> np.ndarray:
        if self._embed is None:
            return self._context.query_vector
        if claim not in self._vectors:
            self._vectors[claim] = np.asarray(self._embed(claim), dtype=np.float32)
        return self._vectors[claim]


def _safe_length(pending: str) -> int:
    """How much of `pending` can be shown: all of it unless it ends in what may open a marker."""
    start = pending.rfind("[")
    if start == -1:
        return len(pending)
    tail = pending[start:]
    if "]" in tail or "\n" in tail or len(tail) > MAX_MARKER_CHARS:
        return len(pending)
    return start
