"""Query expansion by pseudo-relevance feedback: the dense top passages' own salient words.

A question worded with none of its evidence's words ("who runs the country?" for a passage
naming its president) gives keyword search nothing to hold on to, while dense search often
ranks a passage of the right topic near the top. The rarest words those passages share are the
topic's vocabulary. Added to the question's keyword text (a few words, and only when the dense
top passages miss most of the question's own words), they give its keyword ranking something to
match; the dense ranking and the RRF fusion of the two are unchanged, so the expansion can move
one ranking of two, never outvote the question.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from assistant.store import ReadView, SearchRequest
from assistant.store.lexical import STOPWORDS, content_terms, stem, words

#: dense top passages read for feedback: few, since lower ones are more often off topic
FEEDBACK_PASSAGES = 3
#: words added: enough to name the topic, few enough that no one passage's detail takes over
EXPANSION_TERMS = 5
#: shorter words are mostly abbreviations and fragments, not the topic's vocabulary
MIN_WORD_LENGTH = 3
#: expand only when the dense top passages hold less than this share of the question's own
#: words: a question worded like its evidence is served by its keyword ranking already
WORDED_APART = 0.5


def shared_share(question: str, texts: Sequence[str]) -> float:
    """The share of the question's content words (stemmed) that the texts hold; 1.0 for none."""
    asked = set(content_terms(question))
    if not asked:
        return 1.0
    held = {stem(w) for text in texts for w in words(text)}
    return len(asked & held) / len(asked)


def salient_terms(
    texts: Sequence[str],
    question: str,
    frequency: Mapping[str, int],
    sentences: int,
    limit: int = EXPANSION_TERMS,
) -> list[str]:
    """The `limit` words of `texts` with the highest idf-weighted frequency, as written there.

    Stop words (question words among them), numbers, short words and words the question
    already has are left out; idf is log(sentences / sentence frequency), so a word held by
    every sentence weighs nothing. Ties go to the alphabetically first stem (deterministic).
    """
    asked = set(content_terms(question))
    counts: Counter[str] = Counter()
    written: dict[str, str] = {}
    for text in texts:
        for word in words(text):
            if word in STOPWORDS or len(word) < MIN_WORD_LENGTH or any(c.isdigit() for c in word):
                continue
            term = stem(word)
            if term in asked:
                continue
            counts[term] += 1
            written.setdefault(term, word)
    weights = {
        term: count * math.log(sentences / frequency[term])
        for term, count in counts.items()
        if frequency.get(term, 0) > 0 and sentences > frequency[term]
    }
    best = sorted(weights, key=lambda term: (-weights[term], term))[:limit]
    return [written[term] for term in best]


def expanded(
    view: ReadView,
    request: SearchRequest,
    doc_ids: Sequence[str] | None = None,
    sets: Sequence[str] | None = None,
) -> SearchRequest:
    """`request` with the salient words of its dense top passages added to its keyword text.

    Unchanged when it has no vector, when those passages already hold at least WORDED_APART of
    the question's words, or when they offer no word the question lacks.
    """
    vector, question = request
    if vector is None:
        return request
    top = view.search([request], FEEDBACK_PASSAGES, FEEDBACK_PASSAGES, doc_ids, "dense", sets)
    rows = view.chunks([i for i, _ in top])
    texts = [rows[i].text for i, _ in top if i in rows]
    if shared_share(question, texts) >= WORDED_APART:
        return request
    candidates = {stem(w) for text in texts for w in words(text)}
    frequency = view.document_frequencies(candidates)
    terms = salient_terms(texts, question, frequency, view.manifest.sentences)
    return (vector, " ".join([question, *terms])) if terms else request
