"""Features of candidate sentences and of a question's evidence, for the learned answer model.

Training (`assistant.evaluation.training`) and serving (`assistant.compose.scorer`) both build
their inputs here, from the same candidates the composer sees, so what the model learned is
what it is asked. Everything is cheap: a few regexes per sentence and numpy over ~30 rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from assistant.compose.answer_types import AnswerType, answer_type, has_date, has_new_name, has_number
from assistant.store.lexical import STOPWORDS, content_terms

if TYPE_CHECKING:
    from assistant.compose.candidate import Candidate
    from assistant.compose.seam import ComposeContext

#: the hand-set sentence score of the first composer, kept as one feature among many
SIMILARITY_WEIGHT = 0.6
COVERAGE_WEIGHT = 0.4
#: RRF with k=60 gives a chunk found by one ranking at most 1/61; more means both found it
_ONE_RANKING_MAX = 1.0 / 61.0
_KEY_TERM = re.compile(r"\b[A-Z][\w'’-]*|\b\d[\d,.]*\b")
_KINDS: tuple[AnswerType | None, ...] = (None, *AnswerType)
#: sentences whose number/date flags are remembered (regexes are most of the feature cost)
SENTENCE_FLAGS_CACHE = 65_536
#: adversarial unanswerable questions often negate what the text says
_NEGATION = re.compile(r"\b(not|never|no|none|without|nor|neither|cannot)\b|n['’]t\b", re.I)

CANDIDATE_FEATURES: tuple[str, ...] = (
    "similarity",
    "coverage",
    "handset_score",
    "fits_type",
    "similarity_gap",
    "coverage_gap",
    "handset_gap",
    "similarity_rank",
    "coverage_rank",
    "window_similarity",
    "window_gap",
    "chunk_rank",
    "chunk_score_ratio",
    "chunk_in_both",
    "window_coverage",
    "window_rarest_missing",
    "key_share",
    "doc_key_share",
    "novelty",
    "log_words",
    "opens_document",
    "has_number",
    "has_date",
    "has_new_name",
    *(f"fits_{kind.value}" for kind in AnswerType),
    "untyped_new_name",
)

QUESTION_FEATURES: tuple[str, ...] = (
    *(f"asks_{kind.value if kind else 'other'}" for kind in _KINDS),
    "negation",
    "has_key_terms",
    "key_missing",
    "rarest_missing",
    "evidence_coverage",
    "top_chunk_in_both",
    "chunks_in_both",
    "best_similarity",
    "fitting_share",
    "handset_confidence",
    "log_candidates",
)

#: the question-level inputs of the abstention model: selector outputs, then QUESTION_FEATURES
DECISION_FEATURES: tuple[str, ...] = (
    "best_logit",
    "margin",
    "best_share",
    "best_key_share",
    "best_fits_type",
    "best_similarity_gap",
    "best_coverage",
    "best_window_coverage",
    "best_window_rarest_missing",
    "best_chunk_in_both",
    *QUESTION_FEATURES,
)


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


def handset_score(similarity: float, coverage: float) -> float:
    """The first composer's sentence score: 0.6 similarity plus 0.4 idf coverage."""
    return SIMILARITY_WEIGHT * similarity + COVERAGE_WEIGHT * coverage


def _share_present(terms: set[str], text: str) -> float:
    return sum(1 for t in terms if t in text) / len(terms) if terms else 1.0


@lru_cache(maxsize=SENTENCE_FLAGS_CACHE)
def _number_and_date(sentence: str) -> tuple[bool, bool]:
    """Whether a sentence holds a number and a date; remembered, as the same sentences recur."""
    return has_number(sentence), has_date(sentence)


def _inverse_ranks(values: np.ndarray) -> np.ndarray:
    """1 for the largest value, 1/2 for the next, ... (ties broken by position)."""
    order = np.argsort(-values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    return 1.0 / ranks


def _window_terms(candidates: Sequence[Candidate]) -> list[frozenset[str]]:
    """Each candidate's terms together with those of its neighbours among the candidates."""
    by_position = {(c.row.doc_id, c.row.ord): c.terms for c in candidates}
    empty: frozenset[str] = frozenset()
    return [
        c.terms
        | by_position.get((c.row.doc_id, c.row.ord - 1), empty)
        | by_position.get((c.row.doc_id, c.row.ord + 1), empty)
        for c in candidates
    ]


def candidate_matrix(
    candidates: Sequence[Candidate], context: ComposeContext, idf: dict[str, float]
) -> np.ndarray:
    """One row of CANDIDATE_FEATURES per candidate (shape n x len(CANDIDATE_FEATURES)).

    `idf` weighs the question's terms (the composer's coverage weights).
    """
    from assistant.store import chunk_key

    n = len(candidates)
    if n == 0:
        return np.zeros((0, len(CANDIDATE_FEATURES)))
    kind = answer_type(context.question)
    keys = key_terms(context.question)
    asked = set(content_terms(context.query_text))
    sims = np.array([c.similarity for c in candidates])
    covs = np.array([c.coverage for c in candidates])
    hand = SIMILARITY_WEIGHT * sims + COVERAGE_WEIGHT * covs
    by_position = {(c.row.doc_id, c.row.ord): c.similarity for c in candidates}
    top_score = context.chunks[0].score if context.chunks else 1.0
    chunk_info = {
        chunk_key(r.row.doc_id, r.row.ord): (rank, r.score) for rank, r in enumerate(context.chunks, 1)
    }
    doc_text: dict[str, str] = {}
    for retrieved in context.chunks:
        doc = retrieved.row.doc_id
        doc_text[doc] = doc_text.get(doc, "") + " " + retrieved.row.text.lower()
    sim_rank, cov_rank = _inverse_ranks(sims), _inverse_ranks(covs)
    top_sim, top_cov, top_hand = float(sims.max()), float(covs.max()), float(hand.max())
    mass, rarest = sum(idf.values()), max(idf.values(), default=1.0)
    windows = _window_terms(candidates)
    rows = np.zeros((n, len(CANDIDATE_FEATURES)))
    for i, c in enumerate(candidates):
        doc, ord_ = c.row.doc_id, c.row.ord
        neighbours = (by_position.get((doc, ord_ - 1)), by_position.get((doc, ord_ + 1)))
        around = [s for s in neighbours if s is not None]
        window = sum(around) / len(around) if around else c.similarity
        rank, score = chunk_info.get(c.chunk_id, (len(context.chunks) + 1, 0.0))
        lowered = c.text.lower()
        number, date = _number_and_date(c.text)
        name = has_new_name(c.text, context.question)
        novelty = len(c.terms - asked) / len(c.terms) if c.terms else 0.0
        absent = [w for t, w in idf.items() if t not in windows[i]]
        rows[i] = (
            c.similarity,
            c.coverage,
            hand[i],
            float(c.fits_type),
            c.similarity - top_sim,
            c.coverage - top_cov,
            hand[i] - top_hand,
            sim_rank[i],
            cov_rank[i],
            window,
            max(around, default=c.similarity) - top_sim,
            1.0 / rank,
            score / top_score if top_score > 0 else 0.0,
            float(score > _ONE_RANKING_MAX),
            1.0 - sum(absent) / mass if mass > 0 else 0.0,
            max(absent, default=0.0) / rarest if rarest > 0 else 0.0,
            _share_present(keys, lowered),
            _share_present(keys, doc_text.get(doc, "")),
            novelty,
            math.log1p(len(c.text.split())),
            float(ord_ <= 1),
            float(number),
            float(date),
            float(name),
            float(kind is AnswerType.NUMBER and number),
            float(kind is AnswerType.DATE and date),
            float(kind is AnswerType.PERSON and c.fits_type),
            float(kind is AnswerType.PLACE and c.fits_type),
            float(kind is None and name),
        )
    return rows


def question_vector(
    candidates: Sequence[Candidate], context: ComposeContext, idf: dict[str, float]
) -> np.ndarray:
    """QUESTION_FEATURES: what the retrieved evidence says about the question as a whole.

    `idf` weighs the question's terms (the composer's coverage weights): a rare term of the
    question that no retrieved passage mentions is the mark of an unanswerable question.
    """
    kind = answer_type(context.question)
    keys = key_terms(context.question)
    evidence = " ".join(r.row.text.lower() for r in context.chunks)
    evidence_terms: set[str] = set()
    for c in candidates:
        evidence_terms |= c.terms
    mass = sum(idf.values())
    missing = [w for t, w in idf.items() if t not in evidence_terms]
    fitting = [c for c in candidates if c.fits_type]
    both = [r.score > _ONE_RANKING_MAX for r in context.chunks]
    handset = max((handset_score(c.similarity, c.coverage) for c in fitting), default=0.0)
    return np.array(
        [
            *(float(kind is k) for k in _KINDS),
            float(bool(_NEGATION.search(context.question))),
            float(bool(keys)),
            1.0 - _share_present(keys, evidence),
            max(missing, default=0.0) / max(idf.values(), default=1.0),
            1.0 - sum(missing) / mass if mass > 0 else 0.0,
            float(both[0]) if both else 0.0,
            sum(both) / len(both) if both else 0.0,
            max((c.similarity for c in candidates), default=0.0),
            len(fitting) / len(candidates) if candidates else 0.0,
            handset,
            math.log1p(len(candidates)),
        ]
    )


def decision_vector(logits: np.ndarray, matrix: np.ndarray, question: np.ndarray) -> np.ndarray:
    """DECISION_FEATURES from the selector's logits, the candidate rows and the question's row."""
    if len(logits) == 0:
        return np.concatenate([np.array([-10.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 1.0, 0.0]), question])
    order = np.argsort(-logits, kind="stable")
    best = int(order[0])
    runner_up = float(logits[order[1]]) if len(order) > 1 else float(logits[best]) - 5.0
    shifted = np.exp(logits - logits[best])
    column = CANDIDATE_FEATURES.index
    return np.concatenate(
        [
            np.array(
                [
                    float(logits[best]),
                    float(logits[best]) - runner_up,
                    1.0 / float(shifted.sum()),
                    matrix[best, column("key_share")],
                    matrix[best, column("fits_type")],
                    matrix[best, column("similarity_gap")],
                    matrix[best, column("coverage")],
                    matrix[best, column("window_coverage")],
                    matrix[best, column("window_rarest_missing")],
                    matrix[best, column("chunk_in_both")],
                ]
            ),
            question,
        ]
    )
