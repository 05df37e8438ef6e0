"""Extractive answer composition: the best few sentences of the retrieved passages, each cited.

Sentences are scored by embedding similarity to the question (their vectors are computed at
index time) plus the share of the question's rare words they contain; a sentence that cannot
supply the kind of answer asked for ("how many" needs a number) is not an answer. The best
sentence is kept, with close runners-up that add something new, and with the sentence before
it when it refers back ("They can use ..."). Every quote is a slice of the stored text.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.answer_types import answer_type, can_answer
from assistant.compose.evidence import compose_answer
from assistant.compose.evidence import refers_back as refers_back
from assistant.compose.seam import ComposeContext
from assistant.ingest.sentences import looks_like_heading
from assistant.lexical import STOPWORDS, content_terms
from assistant.models import Answer
from assistant.store import ReadView, SentenceRow

ABSTAIN_TEXT = "The documents do not cover this question, so there is no answer to give."

#: weights of the sentence score: embedding similarity vs. idf-weighted coverage of question terms
SIMILARITY_WEIGHT = 0.6
COVERAGE_WEIGHT = 0.4
#: a runner-up sentence joins the answer when it scores at least this share of the best one
RUNNER_UP_RATIO = 0.85
#: two sentences this similar say the same thing; keep one
DUPLICATE_SIMILARITY = 0.9
MAX_ANSWER_WORDS = 90
#: confidence lost when none of the question's names and numbers occur in the evidence
MISSING_KEY_TERM_PENALTY = 0.4

_KEY_TERM = re.compile(r"\b[A-Z][\w'’-]*|\b\d[\d,.]*\b")


@dataclass(slots=True)
class _Candidate:
    row: SentenceRow
    chunk_id: str
    text: str
    similarity: float
    coverage: float
    fits_type: bool

    @property
    def score(self) -> float:
        return SIMILARITY_WEIGHT * self.similarity + COVERAGE_WEIGHT * self.coverage


def _idf_weights(snapshot: ReadView, terms: Sequence[str]) -> dict[str, float]:
    total = max(snapshot.manifest.sentences, 1)
    df = snapshot.document_frequencies(terms)
    return {t: math.log(1.0 + total / (1.0 + df.get(t, 0))) for t in set(terms)}


def _coverage(weights: dict[str, float], terms: set[str]) -> float:
    mass = sum(weights.values())
    if mass <= 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in terms) / mass


def collect_candidates(context: ComposeContext) -> list[_Candidate]:
    """Every sentence of the retrieved chunks once, scored against the question."""
    from assistant.store import chunk_key

    question_terms = content_terms(context.query_text)
    weights = _idf_weights(context.snapshot, question_terms)
    kind = answer_type(context.question)
    seen: set[tuple[str, int]] = set()
    candidates: list[_Candidate] = []
    for retrieved in context.chunks:
        row = retrieved.row
        for sentence in context.snapshot.sentences(row.doc_id, row.first_sentence, row.last_sentence):
            key = (sentence.doc_id, sentence.ord)
            if key in seen:
                continue
            seen.add(key)
            sentence_text = row.text[sentence.start - row.start : sentence.end - row.start]
            candidates.append(
                _Candidate(
                    row=sentence,
                    chunk_id=chunk_key(row.doc_id, row.ord),
                    text=sentence_text,
                    similarity=float(sentence.embedding @ context.query_vector),
                    coverage=_coverage(weights, set(content_terms(sentence_text))),
                    fits_type=not looks_like_heading(sentence_text)
                    and can_answer(kind, sentence_text, context.question),
                )
            )
    return candidates


def key_terms(question: str) -> set[str]:
    """Names and numbers the question mentions (capitalised words after the first, digits)."""
    found = set()
    for match in _KEY_TERM.finditer(question):
        if match.start() == 0:
            continue
        term = match.group(0).lower().replace("’", "'").removesuffix("'s").rstrip(".,")
        if term and term not in STOPWORDS:
            found.add(term)
    return found


def confidence(candidates: Sequence[_Candidate], context: ComposeContext) -> float:
    """How well the best sentence that can answer the question supports it (0 when none can).

    The best sentence's score, lowered by the share of the question's names and numbers that
    its document's retrieved passages never mention: a question about "the 1994 treaty" is not
    answered by a passage about the 1987 one, however similar the two are.
    """
    fitting = [c for c in candidates if c.fits_type]
    if not fitting:
        return 0.0
    best = max(fitting, key=lambda c: c.score)
    keys = key_terms(context.question)
    if not keys:
        return best.score
    evidence = " ".join(c.row.text for c in context.chunks if c.row.doc_id == best.row.doc_id).lower()
    missing = sum(1 for term in keys if term not in evidence) / len(keys)
    return best.score - MISSING_KEY_TERM_PENALTY * missing


def _is_duplicate(candidate: _Candidate, chosen: Sequence[_Candidate]) -> bool:
    for other in chosen:
        if float(candidate.row.embedding @ other.row.embedding) >= DUPLICATE_SIMILARITY:
            return True
    return False


def _select(candidates: list[_Candidate], max_sentences: int) -> list[_Candidate]:
    ranked = sorted((c for c in candidates if c.fits_type), key=lambda c: c.score, reverse=True)
    if not ranked:
        return []
    best = ranked[0]
    chosen = [best]
    words = len(best.text.split())
    for candidate in ranked[1:]:
        if len(chosen) >= max_sentences or candidate.score < RUNNER_UP_RATIO * best.score:
            break
        size = len(candidate.text.split())
        if words + size > MAX_ANSWER_WORDS or _is_duplicate(candidate, chosen):
            continue
        chosen.append(candidate)
        words += size
    return chosen


def abstention(context: ComposeContext) -> Answer:
    return Answer(
        id=uuid.uuid4().hex,
        question=context.question,
        answer=ABSTAIN_TEXT,
        abstained=True,
        passages=context.passages,
    )


class ExtractiveComposer:
    """The default composer: no LLM, every sentence quoted from the documents."""

    name = "extractive"

    def __init__(self, max_sentences: int = 3) -> None:
        self.max_sentences = max_sentences

    def compose(self, context: ComposeContext, abstain_threshold: float) -> Answer:
        candidates = collect_candidates(context)
        score = round(confidence(candidates, context), 4)
        if score < abstain_threshold:
            answer = abstention(context)
            answer.confidence = score
            return answer
        chosen = _select(candidates, self.max_sentences)
        return compose_answer(context, chosen, score)
