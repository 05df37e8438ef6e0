"""Evaluation metrics as pure functions on plain values, so each is testable on hand-made inputs.

Empty cases are defined, never NaN: per-question functions raise ValueError when given nothing to
measure against (the runner does not call them then), and the aggregates return None for "not
applicable", which reports show as n/a and leave out of the JSON metrics.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from assistant.ingest.sentences import split_sentences

T = TypeVar("T", bound=Hashable)

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)
_MARKER = re.compile(r"\[\d+\]")
_WHITESPACE = re.compile(r"\s+")
#: gold answers of a yes/no question, scored by the answer's leading word
_POLAR = frozenset({"yes", "no"})


# ---- answers -------------------------------------------------------------------------------


def normalize_answer(text: str) -> str:
    """SQuAD's official normalisation: lowercase, drop punctuation and a/an/the, squash spaces."""
    lowered = text.lower()
    no_punct = "".join(ch for ch in lowered if ch not in _PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punct)
    return " ".join(no_articles.split())


def answer_is_correct(answer_text: str, gold_answers: Iterable[str]) -> bool:
    """True when some normalised gold answer is a substring of the normalised answer text.

    Citation markers are removed first so that "[1]" can never create or break a match. A gold
    answer that normalises to nothing (e.g. "the") never matches. A gold "yes" or "no" matches
    only the answer's leading word: as a substring "no" would match inside "known" or "not",
    and any quote that happens to hold the word would count.
    """
    got = normalize_answer(strip_markers(answer_text))
    leading = got.split(" ", 1)[0]
    for gold in gold_answers:
        want = normalize_answer(gold)
        if want in _POLAR:
            if leading == want:
                return True
        elif want and want in got:
            return True
    return False


def strip_markers(text: str) -> str:
    """Remove `[n]` citation markers."""
    return _MARKER.sub("", text)


def answer_length_words(text: str) -> int:
    """Words in an answer, not counting citation markers."""
    return len(strip_markers(text).split())


def first_cited_sentence(answer_text: str, quotes: Mapping[int, str]) -> str | None:
    """The first sentence of the first `[n]` marker's quote: the sentence the answer leads with
    (a quote may be a run of several adjacent sentences)."""
    for found in _MARKER.finditer(answer_text):
        marker = int(found.group(0)[1:-1])
        if marker in quotes:
            quote = quotes[marker]
            spans = split_sentences(quote)
            return quote[spans[0].start : spans[0].end] if spans else quote
    return None


def markers_consistent(answer_text: str, citation_markers: Iterable[int]) -> bool:
    """The contract: every `[n]` in the text has a citation and every citation is used."""
    used = {int(m[1:-1]) for m in _MARKER.findall(answer_text)}
    return used == set(citation_markers)


# ---- retrieval -----------------------------------------------------------------------------


def unique_in_order(items: Iterable[T]) -> list[T]:
    """First occurrence of each item, in order: turns ranked passages into ranked documents."""
    seen: set[T] = set()
    ordered: list[T] = []
    for item in items:
        if item not in seen:
            seen.add(item)
            ordered.append(item)
    return ordered


def _check(relevant: Collection[object], k: int | None = None) -> None:
    if not relevant:
        raise ValueError("relevant must not be empty: retrieval metrics need something to find")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def hit_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """1.0 when any relevant item is among the first k ranked items, else 0.0."""
    _check(relevant, k)
    return 1.0 if any(item in relevant for item in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence[T], relevant: Collection[T], k: int) -> float:
    """Share of the relevant items found among the first k ranked items (duplicates count once)."""
    _check(relevant, k)
    found = set(ranked[:k]) & set(relevant)
    return len(found) / len(set(relevant))


def reciprocal_rank(ranked: Sequence[T], relevant: Collection[T]) -> float:
    """1/rank of the first relevant item (1-based); 0.0 when none was retrieved."""
    _check(relevant)
    for rank, item in enumerate(ranked, start=1):
        if item in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[T], relevant: Collection[T], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as BEIR/pytrec_eval compute it for 0/1 qrels.

    A relevant item counts once (at its first rank); the ideal ranking puts min(|relevant|, k)
    relevant items first.
    """
    _check(relevant, k)
    relevant_set = set(relevant)
    dcg = 0.0
    credited: set[T] = set()
    for index, item in enumerate(ranked[:k]):
        if item in relevant_set and item not in credited:
            credited.add(item)
            dcg += 1.0 / math.log2(index + 2)
    ideal = sum(1.0 / math.log2(index + 2) for index in range(min(len(relevant_set), k)))
    return dcg / ideal


def normalize_whitespace(text: str) -> str:
    """Collapse runs of whitespace to one space so line breaks inside a passage do not matter."""
    return _WHITESPACE.sub(" ", text).strip()


def quote_hits(passage_texts: Sequence[str], quotes: Sequence[str]) -> list[set[int]]:
    """For each ranked passage, the indexes of the evidence quotes its text contains."""
    wanted = [normalize_whitespace(q) for q in quotes]
    hits: list[set[int]] = []
    for text in passage_texts:
        flat = normalize_whitespace(text)
        hits.append({i for i, quote in enumerate(wanted) if quote and quote in flat})
    return hits


def passage_hit_at_k(hits: Sequence[set[int]], n_quotes: int, k: int) -> float:
    """1.0 when one of the first k passages contains an evidence quote (see `quote_hits`)."""
    _check(range(n_quotes), k)
    return 1.0 if any(hits[:k]) else 0.0


def passage_recall_at_k(hits: Sequence[set[int]], n_quotes: int, k: int) -> float:
    """Share of the evidence quotes contained in the first k passages."""
    _check(range(n_quotes), k)
    found: set[int] = set().union(*hits[:k]) if hits[:k] else set()
    return len(found) / n_quotes


def passage_reciprocal_rank(hits: Sequence[set[int]], n_quotes: int) -> float:
    """1/rank of the first passage that contains an evidence quote; 0.0 when none does."""
    _check(range(n_quotes))
    for rank, found in enumerate(hits, start=1):
        if found:
            return 1.0 / rank
    return 0.0


# ---- citations -----------------------------------------------------------------------------


def citation_precision(cited_docs: Collection[str], evidence_docs: Collection[str]) -> float | None:
    """Share of distinct cited documents that are evidence documents; None when nothing is cited."""
    cited = set(cited_docs)
    if not cited:
        return None
    return len(cited & set(evidence_docs)) / len(cited)


def citation_recall(cited_docs: Collection[str], evidence_docs: Collection[str]) -> float:
    """Share of evidence documents that are cited (0.0 for an answer that cites nothing)."""
    _check(evidence_docs)
    return len(set(cited_docs) & set(evidence_docs)) / len(set(evidence_docs))


@dataclass(frozen=True, slots=True)
class CitationSpan:
    """What groundedness needs from a citation: where it points and what it quotes."""

    doc_id: str
    start: int
    end: int
    quote: str


def grounded_citations(citations: Sequence[CitationSpan], texts: Mapping[str, str]) -> int:
    """How many citations quote exactly `texts[doc_id][start:end]` (a missing doc is ungrounded)."""
    grounded = 0
    for citation in citations:
        text = texts.get(citation.doc_id)
        if text is None or not 0 <= citation.start <= citation.end <= len(text):
            continue
        if text[citation.start : citation.end] == citation.quote:
            grounded += 1
    return grounded


# ---- abstention ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AbstentionScores:
    """Abstention treated as a detector of unanswerable questions."""

    precision: float
    recall: float
    f1: float
    false_abstention_rate: float | None


def abstention_scores(unanswerable: Sequence[bool], abstained: Sequence[bool]) -> AbstentionScores | None:
    """Precision/recall of abstaining on unanswerable questions; None when there are none.

    Precision with no abstentions at all is 0.0 (as scikit-learn's zero_division=0): a system
    that never abstains found none of the unanswerable questions. `false_abstention_rate` is the
    share of answerable questions refused (None when every question is unanswerable).
    """
    if len(unanswerable) != len(abstained):
        raise ValueError("unanswerable and abstained must have the same length")
    positives = sum(unanswerable)
    if positives == 0:
        return None
    true_pos = sum(1 for u, a in zip(unanswerable, abstained, strict=True) if u and a)
    predicted = sum(abstained)
    precision = true_pos / predicted if predicted else 0.0
    recall = true_pos / positives
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    answerable = len(unanswerable) - positives
    refused = sum(1 for u, a in zip(unanswerable, abstained, strict=True) if not u and a)
    false_rate = refused / answerable if answerable else None
    return AbstentionScores(precision, recall, f1, false_rate)


# ---- aggregation ---------------------------------------------------------------------------


def mean(values: Iterable[float]) -> float | None:
    """Arithmetic mean; None for no values (not applicable, never NaN)."""
    items = list(values)
    return sum(items) / len(items) if items else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; None if empty."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be between 0 and 100, got {q}")
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * q / 100
    lower = math.floor(position)
    upper = math.ceil(position)
    fraction = position - lower
    return ordered[lower] + (ordered[upper] - ordered[lower]) * fraction
