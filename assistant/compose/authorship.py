"""Who wrote it: questions about a document's author, answered from its byline.

"Who wrote the article about Iran's path to peace?" The sentences of the body rarely say who
wrote them; the byline does ("By Mohammad Javad Zarif"), but a byline is a heading, never an
answer candidate. When a question asks for an author and the rest of its words name a retrieved
document by its title, the answer cites that document's byline. Questions about works that no
retrieved title names ("Who wrote Hamlet?") take the usual path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from assistant.compose.evidence import BYLINE_CHARS, Piece, piece_of
from assistant.ingest.loaders import byline_span
from assistant.store import ReadView
from assistant.store.lexical import content_terms

_ASKS_AUTHOR = re.compile(
    r"\bwho\b[^?]*\b(?:wrote|writes|written|authored|penned)\b|\bauthors?\b|\bwritten by\b", re.I
)
#: words that say what kind of text is meant, not which one
_KIND_OF_TEXT = frozenset(
    content_terms(
        "article essay piece op-ed oped column paper report book document text post story letter "
        "author authors wrote write writes written authored penned"
    )
)
#: share of the question's remaining words that the title must hold
TITLE_SHARE = 0.5
#: a byline is among a document's first sentences (title, subtitle, byline, date)
MAX_BYLINE_SENTENCE = 8


def asks_for_author(question: str) -> bool:
    """Whether the question asks who wrote something ("Who wrote ...", "the author of ...")."""
    return bool(_ASKS_AUTHOR.search(question))


def names_title(question: str, title: str) -> bool:
    """Whether the question's words, less "who wrote the article", are mostly the title's."""
    asked = set(content_terms(question)) - _KIND_OF_TEXT
    held = asked & set(content_terms(title))
    return bool(held) and len(held) >= TITLE_SHARE * len(asked)


def byline(doc_id: str, snapshot: ReadView) -> Piece | None:
    """The sentence holding the document's "By NAME" line near its start, if it has one."""
    span = byline_span(snapshot.text_slice(doc_id, 0, BYLINE_CHARS))
    if span is None:
        return None
    for row in snapshot.sentences(doc_id, 0, MAX_BYLINE_SENTENCE):
        if row.start <= span[0] < row.end:
            return piece_of(row, snapshot)
    return None


def authored_byline(question: str, doc_ids: Sequence[str], snapshot: ReadView) -> Piece | None:
    """For an authorship question, the byline of the first retrieved document its title names."""
    if not asks_for_author(question):
        return None
    meta = snapshot.document_meta(doc_ids)
    for doc_id in dict.fromkeys(doc_ids):
        if doc_id in meta and names_title(question, meta[doc_id].title):
            found = byline(doc_id, snapshot)
            if found is not None:
                return found
    return None
