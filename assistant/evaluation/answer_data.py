"""Training data for the answer model: features recorded on the service path, split by article.

Questions are asked through `Assistant.ask()` with a recording composer in place of the
extractive one, so the features come from exactly the retrieval and candidates the service
uses. SQuAD 2.0 is split by article with a fixed seed and nothing of the held-out articles is
used for training. The abstention mix holds three kinds of question:

- `answerable`: SQuAD's answerable questions, over the whole index;
- `adversarial`: SQuAD's unanswerable ones, written to look answerable from their paragraph;
- `off_topic`: questions whose article is excluded from retrieval (the index lacks the topic)
  and SciFact claims asked of the SQuAD index;
- `near_miss`: answerable questions asked with their own paragraph excluded, the rest of the
  article still there: the topic is present, the fact is not (kept only when no retrieved
  sentence still holds the answer).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from assistant.compose.extractive import abstention, collect_candidates
from assistant.compose.features import (
    CANDIDATE_FEATURES,
    QUESTION_FEATURES,
    candidate_matrix,
    question_vector,
)
from assistant.compose.seam import ComposeContext
from assistant.evaluation.gold import GoldRecord
from assistant.evaluation.metrics import answer_is_correct
from assistant.models import Answer, SearchFilters

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)

SOURCES = ("answerable", "adversarial", "off_topic", "near_miss")
PROGRESS_EVERY = 1000


def article_of(record: GoldRecord) -> str:
    """The SQuAD article a converted record belongs to ('normans-03' -> 'normans')."""
    extra = record.model_extra or {}
    paragraph = record.evidence_docs[0] if record.evidence_docs else str(extra.get("paragraph", ""))
    if not paragraph:
        raise ValueError(f"record {record.id} names no SQuAD paragraph")
    return paragraph.rsplit("-", 1)[0]


def split_articles(
    records: Iterable[GoldRecord], train_articles: int, seed: int
) -> tuple[list[str], list[str]]:
    """Sorted article names shuffled with `seed`: the first `train_articles` train, the rest are held out."""
    articles = sorted({article_of(r) for r in records})
    if not 0 < train_articles < len(articles):
        raise ValueError(f"train_articles must be between 1 and {len(articles) - 1}, got {train_articles}")
    random.Random(seed).shuffle(articles)
    return sorted(articles[:train_articles]), sorted(articles[train_articles:])


def write_split_gold(records: Sequence[GoldRecord], articles: Sequence[str], path: Path) -> int:
    """Write the records of `articles` as a gold set (e.g. the held-out one for `assistant eval`)."""
    chosen = set(articles)
    lines = [json.dumps(r.to_json(), ensure_ascii=False) for r in records if article_of(r) in chosen]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


@dataclass(slots=True)
class Recorded:
    """One question's features: candidate rows, sentence labels and the question's row."""

    matrix: np.ndarray
    labels: np.ndarray
    question: np.ndarray


class FeatureRecorder:
    """A composer that records the answer model's inputs and always abstains (it only observes)."""

    name = "extractive"

    def __init__(self) -> None:
        self.last: tuple[np.ndarray, np.ndarray, list[str]] | None = None

    def compose(self, context: ComposeContext, abstain_threshold: float) -> Answer:
        from assistant.compose.extractive import _idf_weights
        from assistant.store.lexical import content_terms

        candidates = collect_candidates(context)
        weights = _idf_weights(context.snapshot, content_terms(context.query_text))
        self.last = (
            candidate_matrix(candidates, context, weights),
            question_vector(candidates, context, weights),
            [c.text for c in candidates],
        )
        return abstention(context)


@dataclass(slots=True)
class FeatureSet:
    """Recorded questions of one split, as flat arrays (saved to and loaded from .npz)."""

    matrix: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CANDIDATE_FEATURES))))
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    questions: np.ndarray = field(default_factory=lambda: np.zeros((0, len(QUESTION_FEATURES))))
    answerable: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    source: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U16"))
    group: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="<U64"))

    def __len__(self) -> int:
        return len(self.answerable)

    def rows(self, i: int) -> slice:
        """The candidate rows of question i."""
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{name: getattr(self, name) for name in self.__slots__})

    @classmethod
    def load(cls, path: Path) -> FeatureSet:
        with np.load(path) as data:
            return cls(**{name: data[name] for name in cls.__slots__})

    @classmethod
    def join(cls, parts: Sequence[FeatureSet]) -> FeatureSet:
        joined = cls()
        for part in parts:
            shift = int(joined.offsets[-1])
            joined.matrix = np.vstack([joined.matrix, part.matrix])
            joined.labels = np.concatenate([joined.labels, part.labels])
            joined.offsets = np.concatenate([joined.offsets, part.offsets[1:] + shift])
            joined.questions = np.vstack([joined.questions, part.questions])
            joined.answerable = np.concatenate([joined.answerable, part.answerable])
            joined.source = np.concatenate([joined.source, part.source])
            joined.group = np.concatenate([joined.group, part.group])
        return joined


def record_features(
    ask: Callable[[str, SearchFilters | None], None],
    recorder: FeatureRecorder,
    items: Sequence[tuple[GoldRecord, str, str, SearchFilters | None]],
) -> FeatureSet:
    """Ask every (record, source, group, filters) item and collect what the recorder saw.

    A sentence is labelled positive when it holds one of the record's gold answers
    (the eval's own matching); the question is labelled by its source.
    """
    matrices: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    questions: list[np.ndarray] = []
    answerable: list[bool] = []
    sources: list[str] = []
    groups: list[str] = []
    offsets = [0]
    for done, (record, source, group, filters) in enumerate(items, start=1):
        if done % PROGRESS_EVERY == 0:
            log.info("recorded %d of %d questions", done, len(items))
        recorder.last = None
        ask(record.question, filters)
        if recorder.last is None:  # an empty index or filter: nothing was composed
            continue
        matrix, question, texts = recorder.last
        holds = np.array([answer_is_correct(t, record.answers) for t in texts], dtype=float)
        if source == "near_miss" and holds.any():  # another paragraph answers it after all
            continue
        is_answerable = source == "answerable"
        labels.append(holds if is_answerable else np.zeros(len(texts)))
        matrices.append(matrix)
        offsets.append(offsets[-1] + len(texts))
        questions.append(question)
        answerable.append(is_answerable)
        sources.append(source)
        groups.append(group)
    return FeatureSet(
        matrix=np.vstack(matrices) if matrices else np.zeros((0, len(CANDIDATE_FEATURES))),
        labels=np.concatenate(labels) if labels else np.zeros(0),
        offsets=np.array(offsets, dtype=np.int64),
        questions=np.vstack(questions) if questions else np.zeros((0, len(QUESTION_FEATURES))),
        answerable=np.array(answerable, dtype=bool),
        source=np.array(sources, dtype="<U16"),
        group=np.array(groups, dtype="<U64"),
    )


def squad_items(
    records: Sequence[GoldRecord],
    articles: Sequence[str],
    paragraphs: dict[str, list[str]],
    off_topic: int,
    seed: int,
) -> list[tuple[GoldRecord, str, str, SearchFilters | None]]:
    """The questions of `articles`: each over the whole index (answerable or adversarial),
    plus `off_topic` of them asked over the other articles of the same side of the split."""
    chosen = set(articles)
    own = [r for r in records if article_of(r) in chosen]
    items: list[tuple[GoldRecord, str, str, SearchFilters | None]] = [
        (r, "answerable" if r.answerable else "adversarial", article_of(r), None) for r in own
    ]
    for record in random.Random(seed).sample(own, min(off_topic, len(own))):
        home = article_of(record)
        others = [doc for a in articles if a != home for doc in paragraphs[a]]
        items.append((record, "off_topic", home, SearchFilters(doc_ids=others)))
    return items


def near_miss_items(
    records: Sequence[GoldRecord],
    articles: Sequence[str],
    paragraphs: dict[str, list[str]],
    count: int,
    seed: int,
) -> list[tuple[GoldRecord, str, str, SearchFilters | None]]:
    """`count` answerable questions of `articles` asked without their own paragraph (the other
    paragraphs of the same side of the split stay searchable)."""
    chosen = set(articles)
    answerable = [r for r in records if r.answerable and article_of(r) in chosen]
    every = [doc for a in articles for doc in paragraphs[a]]
    items: list[tuple[GoldRecord, str, str, SearchFilters | None]] = []
    for record in random.Random(seed + 1).sample(answerable, min(count, len(answerable))):
        own = set(record.evidence_docs)
        items.append(
            (
                record,
                "near_miss",
                article_of(record),
                SearchFilters(doc_ids=[d for d in every if d not in own]),
            )
        )
    return items


def claim_items(
    claims: Sequence[GoldRecord], group: str
) -> list[tuple[GoldRecord, str, str, SearchFilters | None]]:
    """Claims of another corpus (SciFact) asked of the SQuAD index: off-topic by construction."""
    return [(claim, "off_topic", group, None) for claim in claims]


#: share of a split's SQuAD questions also asked off-topic (their own article excluded)
OFF_TOPIC_SHARE = 0.15


@dataclass(slots=True)
class Splits:
    train_articles: list[str]
    heldout_articles: list[str]
    train: FeatureSet
    heldout: FeatureSet


def build_splits(
    assistant: Assistant,
    recorder: FeatureRecorder,
    squad: Sequence[GoldRecord],
    claims: Sequence[GoldRecord],
    train_articles: int,
    seed: int,
    cache: Path | None = None,
) -> Splits:
    """Record (or load from `cache`) the training and held-out feature sets.

    `assistant` must serve the SQuAD index with `recorder` as its extractive composer. SciFact
    claims are halved with `seed`: one half off-topic training data, the other held out.
    """
    train, heldout = split_articles(squad, train_articles, seed)
    paragraphs: dict[str, list[str]] = {}
    for doc in assistant.list_documents():
        paragraphs.setdefault(doc.doc_id.rsplit("-", 1)[0], []).append(doc.doc_id)
    shuffled = list(claims)
    random.Random(seed).shuffle(shuffled)
    halves = (shuffled[: len(shuffled) // 2], shuffled[len(shuffled) // 2 :])

    def ask(question: str, filters: SearchFilters | None) -> None:
        assistant.ask(question, filters=filters)

    sets: list[FeatureSet] = []
    for name, articles, half in (("train", train, halves[0]), ("heldout", heldout, halves[1])):
        own = [r for r in squad if article_of(r) in set(articles)]
        extra = int(OFF_TOPIC_SHARE * len(own))
        parts = {
            "questions": squad_items(squad, articles, paragraphs, extra, seed) + claim_items(half, "scifact"),
            "near-miss": near_miss_items(squad, articles, paragraphs, extra, seed),
        }
        recorded: list[FeatureSet] = []
        for part, items in parts.items():
            path = cache / f"{name}-{part}-{seed}-{train_articles}.npz" if cache else None
            if path is not None and path.exists():
                log.info("reading cached %s %s features from %s", name, part, path)
                recorded.append(FeatureSet.load(path))
                continue
            log.info("recording %s %s features: %d questions", name, part, len(items))
            recorded.append(record_features(ask, recorder, items))
            if path is not None:
                recorded[-1].save(path)
        sets.append(FeatureSet.join(recorded))
    return Splits(train, heldout, sets[0], sets[1])
