"""The answer model's fitting and loading on synthetic data: no index, no embedding model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.compose.features import CANDIDATE_FEATURES, DECISION_FEATURES, QUESTION_FEATURES, key_terms
from assistant.compose.scorer import AnswerModel, LinearModel
from assistant.errors import ConfigError
from assistant.evaluation.answer_data import FeatureSet
from assistant.evaluation.calibrate import ThresholdRow
from assistant.evaluation.calibrate import policy_threshold as sweep_policy
from assistant.evaluation.training import (
    chosen_sets,
    fit_abstention,
    fit_selector,
    policy_threshold,
    reliability,
)

SIMILARITY = CANDIDATE_FEATURES.index("similarity")


def _synthetic(questions: int, seed: int = 0) -> FeatureSet:
    """Questions of 6 candidates; the one holding the answer has the highest similarity + noise."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(questions * 6, len(CANDIDATE_FEATURES)))
    labels = np.zeros(questions * 6)
    for q in range(questions):
        answer = q * 6 + int(rng.integers(6))
        labels[answer] = 1.0
        matrix[answer, SIMILARITY] += 2.5
    answerable = np.arange(questions) % 4 != 0
    return FeatureSet(
        matrix=matrix,
        labels=labels * answerable.repeat(6),
        offsets=np.arange(0, questions * 6 + 1, 6),
        questions=rng.normal(size=(questions, len(QUESTION_FEATURES))),
        answerable=answerable,
        source=np.where(answerable, "answerable", "adversarial"),
        group=np.array([f"article-{q % 5}" for q in range(questions)]),
    )


def test_the_selector_learns_which_feature_marks_the_answer() -> None:
    data = _synthetic(200)
    selector = fit_selector(data, np.flatnonzero(data.answerable))
    assert int(np.argmax(np.abs(selector.weights))) == SIMILARITY
    held_out = _synthetic(100, seed=1)
    hits = [
        held_out.labels[held_out.rows(i)][np.argmax(selector.logits(held_out.matrix[held_out.rows(i)]))]
        for i in np.flatnonzero(held_out.answerable)
    ]
    assert np.mean(hits) > 0.6  # chance is 1/6


def test_the_abstention_model_separates_answerable_questions() -> None:
    data = _synthetic(200)
    rows = np.zeros((len(data), len(DECISION_FEATURES)))
    rows[:, 0] = np.where(data.answerable, 1.0, -1.0) + np.random.default_rng(2).normal(0, 0.5, len(data))
    model = fit_abstention(rows, data)
    logits = model.logits(rows)
    assert logits[data.answerable].mean() > logits[~data.answerable].mean()


def test_the_policy_threshold_refuses_at_most_five_percent() -> None:
    probabilities = np.linspace(0.0, 1.0, 101)
    answerable = np.ones(101, dtype=bool)
    threshold = policy_threshold(probabilities, answerable)
    assert np.mean(probabilities < threshold) <= 0.05
    assert np.mean(probabilities < threshold + 0.02) > 0.05


def test_the_sweep_policy_takes_the_highest_threshold_within_the_limit() -> None:
    def row(threshold: float, false_rate: float) -> ThresholdRow:
        return ThresholdRow(threshold, 0.5, 0.5, 0.5, 0.5, 0.5, false_rate)

    rows = [row(0.1, 0.0), row(0.2, 0.04), row(0.3, 0.06), row(0.4, 0.2)]
    chosen = sweep_policy(rows)
    assert chosen is not None and chosen.threshold == 0.2
    assert sweep_policy([row(0.1, 0.5)]) is None


def test_reliability_of_a_calibrated_forecast_is_near_zero_error() -> None:
    rng = np.random.default_rng(3)
    probabilities = rng.uniform(size=20_000)
    outcome = (rng.uniform(size=20_000) < probabilities).astype(float)
    table = reliability(probabilities, outcome, np.ones(20_000))
    assert table["ece"] < 0.03
    assert sum(row["questions"] for row in table["table"]) == 20_000


def test_the_chosen_set_is_the_best_sentence_and_close_runners_up() -> None:
    matrix = np.zeros((4, len(CANDIDATE_FEATURES)))
    logits = np.array([2.5, 1.0, 5.0, -3.0])
    assert chosen_sets(logits, matrix, share=0.05).tolist() == [2, 0]  # e^-2.5 = 0.08, e^-4 = 0.02
    assert chosen_sets(logits, matrix, share=1.0).tolist() == [2]
    assert chosen_sets(logits, matrix, share=1e-6, limit=3).tolist() == [2, 0, 1]


def _model() -> AnswerModel:
    def linear(names: tuple[str, ...]) -> LinearModel:
        n = len(names)
        return LinearModel(names, np.zeros(n), np.ones(n), np.linspace(-1, 1, n), 0.5)

    return AnswerModel(linear(CANDIDATE_FEATURES), linear(DECISION_FEATURES), (1.0, 0.0), 0.3, 0.5, {})


def test_an_artifact_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    size = _model().save(path)
    assert size == path.stat().st_size
    loaded = AnswerModel.load(path)
    row = np.ones(len(DECISION_FEATURES))
    assert loaded.answerable_probability(row) == pytest.approx(_model().answerable_probability(row), abs=1e-5)
    assert 0.0 < loaded.answerable_probability(row) < 1.0


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data.pop("selector"),
        lambda data: data["abstention"].update(names=["something", "else"]),
        lambda data: data["selector"].update(scale=[0.0] * len(CANDIDATE_FEATURES)),
        lambda data: data.update(format=99),
    ],
)
def test_a_damaged_or_stale_artifact_names_the_training_command(tmp_path: Path, damage: object) -> None:
    path = tmp_path / "model.json"
    _model().save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    damage(data)  # type: ignore[operator]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ConfigError, match="train-answer-model"):
        AnswerModel.load(path)


def test_a_missing_artifact_names_the_training_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train-answer-model"):
        AnswerModel.load(tmp_path / "absent.json")


def test_key_terms_are_the_names_and_numbers_after_the_first_word() -> None:
    assert key_terms("When did Zarif visit Baghdad in 2019?") == {"zarif", "baghdad", "2019"}
    assert key_terms("Who is Iran's president?") == {"iran"}
