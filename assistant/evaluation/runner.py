"""Run gold questions through the same `Assistant` the service uses and score every answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from assistant.evaluation import metrics as m
from assistant.evaluation.gold import GoldRecord
from assistant.models import Answer, Passage, Turn

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)

RetrievalMode = Literal["hybrid", "dense", "keyword"]
HIT_KS = (1, 5)
RECALL_KS = (5, 10)
NDCG_K = 10
#: coverages of the risk-coverage table: the most confident share of questions, and its accuracy
COVERAGES = (20, 40, 60, 80, 100)
DEFAULT_DEPTH = 50


@dataclass(frozen=True, slots=True)
class MetricInfo:
    """A reported metric: its name (as used by --min), what it means, and which way is better."""

    name: str
    description: str
    higher_is_better: bool | None = True  # None: neither (a count or a length)
    fraction: bool = True


# The order here is the order of every table; eval/README.md defines each one.
METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("accuracy", "answerable: gold answer in text; unanswerable: abstained"),
    MetricInfo("answer_accuracy", "answerable questions whose answer holds a gold answer"),
    MetricInfo("abstention_precision", "abstentions that were on unanswerable questions"),
    MetricInfo("abstention_recall", "unanswerable questions on which it abstained"),
    MetricInfo("abstention_f1", "harmonic mean of abstention precision and recall"),
    MetricInfo("false_abstention_rate", "answerable questions it refused", higher_is_better=False),
    MetricInfo("confident_share", "questions answered without the tentative mark"),
    MetricInfo(
        "confident_accuracy",
        "confident answers that are right (one to an unanswerable is wrong)",
    ),
    MetricInfo("tentative_share", "questions answered with the 'may not answer your question' mark"),
    MetricInfo("tentative_accuracy", "tentative answers holding a gold answer"),
    *(
        MetricInfo(f"selective_accuracy@{c}", f"accuracy on the {c} % most confident questions")
        for c in COVERAGES
    ),
    MetricInfo("citation_precision", "cited docs that are evidence docs (answered questions)"),
    MetricInfo("citation_recall", "evidence docs that were cited (answerable questions)"),
    MetricInfo("groundedness", "citations whose quote == stored text[start:end]"),
    MetricInfo("markers_consistent", "answers whose [n] markers match their citations"),
    MetricInfo("answer_words", "mean words per non-abstained answer", None, False),
    MetricInfo("answer_words_p90", "90th percentile words per non-abstained answer", False, False),
    MetricInfo(
        "first_sentence_accuracy", "answerable questions whose first cited sentence holds a gold answer"
    ),
    MetricInfo("one_sentence_answers", "non-abstained answers of one cited sentence"),
    *(MetricInfo(f"hit@{k}", f"an evidence doc in the top {k} docs") for k in HIT_KS),
    *(MetricInfo(f"recall@{k}", f"share of evidence docs in the top {k} docs") for k in RECALL_KS),
    MetricInfo("mrr", "1/rank of the first evidence doc"),
    MetricInfo(f"ndcg@{NDCG_K}", f"binary nDCG@{NDCG_K} over ranked docs"),
    *(MetricInfo(f"passage_hit@{k}", f"a top-{k} passage holds an evidence quote") for k in HIT_KS),
    MetricInfo("passage_recall@5", "share of evidence quotes inside the top 5 passages"),
    MetricInfo("passage_mrr", "1/rank of the first passage holding an evidence quote"),
    MetricInfo("latency_p50_ms", "median milliseconds per question", False, False),
    MetricInfo("latency_p95_ms", "95th percentile milliseconds per question", False, False),
    MetricInfo("errors", "questions that raised (each counts as wrong)", False, False),
    MetricInfo("questions", "questions evaluated", None, False),
)
METRIC_NAMES: tuple[str, ...] = tuple(info.name for info in METRICS)
RETRIEVAL_METRICS: tuple[str, ...] = tuple(
    name for name in METRIC_NAMES if ("@" in name and "selective" not in name) or name.endswith("mrr")
)


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How questions are asked: `top_k` goes to ask(), `mode`/`depth` to the retrieval metrics."""

    top_k: int | None = None
    mode: RetrievalMode = "hybrid"
    depth: int = DEFAULT_DEPTH
    composer: str = "extractive"

    def __post_init__(self) -> None:
        needed = max(*HIT_KS, *RECALL_KS, NDCG_K)
        if self.depth < needed:
            raise ValueError(f"depth must be at least {needed}, got {self.depth}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")


@dataclass(slots=True)
class QuestionResult:
    """One gold question with its answer (None when asking raised) and its scores."""

    gold: GoldRecord
    answer: Answer | None
    scores: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "gold": self.gold.to_json(),
            "answer": self.answer.model_dump(mode="json") if self.answer else None,
            "scores": dict(self.scores),
            "error": self.error,
        }


@dataclass(slots=True)
class EvalRun:
    """A finished evaluation: per-question results plus overall and per-category metrics."""

    gold_set: str
    config: dict[str, Any]
    results: list[QuestionResult]
    metrics: dict[str, float]
    by_category: dict[str, dict[str, float]]
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> dict[str, Any]:
        """The report contract: metrics, errors and `results` of {gold, answer, scores}."""
        return {
            "gold_set": self.gold_set,
            "created_at": self.created_at,
            "config": self.config,
            "metrics": self.metrics,
            "by_category": self.by_category,
            "errors": [
                {"id": r.gold.id, "question": r.gold.question, "error": r.error}
                for r in self.results
                if r.error
            ],
            "results": [r.to_json() for r in self.results],
        }


class Evaluator:
    """Asks each gold question and scores it; holds the document texts used for groundedness."""

    def __init__(self, assistant: Assistant, config: RunConfig | None = None) -> None:
        self.assistant = assistant
        self.config = config or RunConfig()
        self._texts: dict[str, str | None] = {}

    def run(
        self,
        records: Sequence[GoldRecord],
        gold_set: str = "",
        progress: Callable[[int, int], None] | None = None,
    ) -> EvalRun:
        """Evaluate every record; one that raises is recorded as an error, never aborts the run."""
        self._warm_up(records)
        results: list[QuestionResult] = []
        for done, record in enumerate(records, start=1):
            results.append(self.evaluate_one(record))
            if progress:
                progress(done, len(records))
        config = {
            "index_dir": str(getattr(self.assistant, "index_dir", "")),
            "top_k": self.config.top_k or self.assistant.settings.top_k,
            "mode": self.config.mode,
            "depth": self.config.depth,
            "composer": self.config.composer,
            "abstain_threshold": self.assistant.settings.abstain_threshold,
            "embedding_model": self.assistant.settings.embedding_model,
        }
        return EvalRun(
            gold_set=gold_set,
            config=config,
            results=results,
            metrics=aggregate(results),
            by_category=aggregate_by_category(results),
        )

    def _warm_up(self, records: Sequence[GoldRecord]) -> None:
        """One untimed search, so the first question's latency does not include loading the model."""
        if not records:
            return
        try:
            self.assistant.search(records[0].question, top_k=1)
        except Exception:  # the question itself will report the problem
            log.debug("warm-up search failed", exc_info=True)

    def evaluate_one(self, record: GoldRecord) -> QuestionResult:
        """Ask (unless retrieval-only), search for the retrieval metrics, and score."""
        result = QuestionResult(gold=record, answer=None)
        errors: list[str] = []
        latency = 0.0
        if record.scores_answers:
            started = time.perf_counter()
            try:
                history = self._history(record)
                result.answer = self.assistant.ask(record.question, top_k=self.config.top_k, history=history)
            except Exception as exc:  # a question that raises is scored as wrong, not fatal
                log.debug("question %s raised", record.id, exc_info=True)
                errors.append(f"ask: {type(exc).__name__}: {exc}")
            latency = (time.perf_counter() - started) * 1000
        passages: list[Passage] | None = None
        if record.answerable:
            started = time.perf_counter()
            searched = (result.answer.standalone_question if result.answer else None) or record.question
            try:
                passages = self.assistant.search(searched, top_k=self.config.depth, mode=self.config.mode)
            except Exception as exc:
                log.debug("search for %s raised", record.id, exc_info=True)
                errors.append(f"search: {type(exc).__name__}: {exc}")
            if not record.scores_answers:
                latency = (time.perf_counter() - started) * 1000
        result.error = "; ".join(errors) or None
        if result.error is None:
            result.scores["latency_ms"] = round(latency, 3)
        if record.scores_answers:
            result.scores.update(score_answer(record, result.answer, self._doc_text))
        if record.answerable:
            result.scores.update(score_retrieval(record, passages or []))
        return result

    def _history(self, record: GoldRecord) -> list[Turn]:
        """A conversation record's earlier turns, each asked in turn unless its answer is given."""
        turns: list[Turn] = []
        for earlier in record.history:
            if earlier.answer:
                turns.append(Turn(question=earlier.question, answer=earlier.answer))
                continue
            given = self.assistant.ask(earlier.question, top_k=self.config.top_k, history=turns)
            turns.append(Turn(question=earlier.question, answer=given.answer, citations=given.citations))
        return turns

    def _doc_text(self, doc_id: str) -> str | None:
        if doc_id not in self._texts:
            try:
                self._texts[doc_id] = self.assistant.get_document(doc_id).text
            except Exception:  # an unknown doc makes its citations ungrounded, which is reported
                log.warning("cited document %s cannot be read", doc_id, exc_info=True)
                self._texts[doc_id] = None
        return self._texts[doc_id]


def score_answer(
    record: GoldRecord, answer: Answer | None, doc_text: Callable[[str], str | None]
) -> dict[str, float]:
    """Answer-level scores of one question; `answer=None` (it raised) scores as wrong."""
    scores: dict[str, float] = {}
    abstained = bool(answer and answer.abstained)
    scores["abstained"] = float(abstained)
    if answer is None:
        scores["correct"] = 0.0
        if record.answerable:
            scores["citation_recall"] = 0.0
        return scores
    scores["tentative"] = float(answer.tentative)
    scores["confidence"] = 0.0 if abstained else float(answer.confidence or 0.0)
    if record.answerable:
        correct = not abstained and m.answer_is_correct(answer.answer, record.answers)
    else:
        correct = abstained
    scores["correct"] = float(correct)
    if not abstained:
        scores["answer_words"] = float(m.answer_length_words(answer.answer))
        scores["one_sentence"] = float(len(answer.citations) <= 1)
    if record.answerable:
        first = m.first_cited_sentence(answer.answer, {c.marker: c.quote for c in answer.citations})
        scores["first_sentence_correct"] = float(
            not abstained and first is not None and m.answer_is_correct(first, record.answers)
        )
    cited = [c.doc_id for c in answer.citations]
    if record.answerable:
        scores["citation_recall"] = m.citation_recall(cited, record.evidence_docs)
        precision = m.citation_precision(cited, record.evidence_docs)
        if precision is not None:
            scores["citation_precision"] = precision
    scores["markers_consistent"] = float(
        m.markers_consistent(answer.answer, [c.marker for c in answer.citations])
    )
    if answer.citations:
        spans = [m.CitationSpan(c.doc_id, c.start, c.end, c.quote) for c in answer.citations]
        texts = {doc_id: text for doc_id in set(cited) if (text := doc_text(doc_id)) is not None}
        scores["citations"] = float(len(spans))
        scores["grounded_citations"] = float(m.grounded_citations(spans, texts))
    return scores


def score_retrieval(record: GoldRecord, passages: Sequence[Passage]) -> dict[str, float]:
    """Doc-level (and, with evidence quotes, passage-level) ranking scores of one question."""
    docs = m.unique_in_order(p.doc_id for p in passages)
    relevant = set(record.evidence_docs)
    scores: dict[str, float] = {}
    for k in HIT_KS:
        scores[f"hit@{k}"] = m.hit_at_k(docs, relevant, k)
    for k in RECALL_KS:
        scores[f"recall@{k}"] = m.recall_at_k(docs, relevant, k)
    scores["mrr"] = m.reciprocal_rank(docs, relevant)
    scores[f"ndcg@{NDCG_K}"] = m.ndcg_at_k(docs, relevant, NDCG_K)
    if record.evidence_quotes:
        n = len(record.evidence_quotes)
        hits = m.quote_hits([p.text for p in passages], record.evidence_quotes)
        for k in HIT_KS:
            scores[f"passage_hit@{k}"] = m.passage_hit_at_k(hits, n, k)
        scores["passage_recall@5"] = m.passage_recall_at_k(hits, n, 5)
        scores["passage_mrr"] = m.passage_reciprocal_rank(hits, n)
    return scores


def aggregate(results: Sequence[QuestionResult]) -> dict[str, float]:
    """Overall metrics of a list of results; a metric with no applicable question is left out."""
    out: dict[str, float | None] = {"questions": float(len(results))}
    out["errors"] = float(sum(1 for r in results if r.error))
    scored = [r for r in results if r.gold.scores_answers]
    answerable = [r for r in scored if r.gold.answerable]
    out["accuracy"] = m.mean(r.scores["correct"] for r in scored)
    out["answer_accuracy"] = m.mean(r.scores["correct"] for r in answerable)
    abstention = m.abstention_scores(
        [not r.gold.answerable for r in scored], [r.scores["abstained"] > 0 for r in scored]
    )
    if abstention is not None:
        out["abstention_precision"] = abstention.precision
        out["abstention_recall"] = abstention.recall
        out["abstention_f1"] = abstention.f1
        out["false_abstention_rate"] = abstention.false_abstention_rate
    elif answerable:
        out["false_abstention_rate"] = m.mean(r.scores["abstained"] for r in answerable)
    out.update(outcome_metrics(scored))
    for name in ("citation_precision", "citation_recall", "markers_consistent", "answer_words"):
        out[name] = m.mean(r.scores[name] for r in scored if name in r.scores)
    out["answer_words_p90"] = m.percentile(
        (r.scores["answer_words"] for r in scored if "answer_words" in r.scores), 90
    )
    out["first_sentence_accuracy"] = m.mean(r.scores.get("first_sentence_correct", 0.0) for r in answerable)
    out["one_sentence_answers"] = m.mean(
        r.scores["one_sentence"] for r in scored if "one_sentence" in r.scores
    )
    citations = sum(r.scores.get("citations", 0.0) for r in scored)
    grounded = sum(r.scores.get("grounded_citations", 0.0) for r in scored)
    out["groundedness"] = grounded / citations if citations else None
    for name in RETRIEVAL_METRICS:
        out[name] = m.mean(r.scores[name] for r in results if name in r.scores)
    latencies = [r.scores["latency_ms"] for r in results if "latency_ms" in r.scores]
    out["latency_p50_ms"] = m.percentile(latencies, 50)
    out["latency_p95_ms"] = m.percentile(latencies, 95)
    return {name: out[name] for name in METRIC_NAMES if out.get(name) is not None}  # type: ignore[misc]


def outcome_metrics(scored: Sequence[QuestionResult]) -> dict[str, float | None]:
    """Each outcome's share and accuracy, and the risk-coverage table (by confidence)."""
    answered = [r for r in scored if not r.scores["abstained"]]
    tentative = [r for r in answered if r.scores.get("tentative", 0.0) > 0]
    confident = [r for r in answered if r.scores.get("tentative", 0.0) == 0]
    out: dict[str, float | None] = {}
    if scored:
        out["confident_share"] = len(confident) / len(scored)
        out["tentative_share"] = len(tentative) / len(scored)
    out["confident_accuracy"] = m.mean(r.scores["correct"] for r in confident)
    out["tentative_accuracy"] = m.mean(r.scores["correct"] for r in tentative)
    ranked = sorted(scored, key=lambda r: -r.scores.get("confidence", 0.0))
    for coverage in COVERAGES:
        top = ranked[: max(1, round(len(ranked) * coverage / 100))] if ranked else []
        out[f"selective_accuracy@{coverage}"] = m.mean(
            r.scores["correct"] if not r.scores["abstained"] else 0.0 for r in top
        )
    return out


def aggregate_by_category(results: Sequence[QuestionResult]) -> dict[str, dict[str, float]]:
    """Metrics per gold `category` (empty when no record has one)."""
    groups: dict[str, list[QuestionResult]] = {}
    for result in results:
        if result.gold.category:
            groups.setdefault(result.gold.category, []).append(result)
    return {name: aggregate(group) for name, group in groups.items()}
