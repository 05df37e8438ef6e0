"""The learned answer model at serving time: two linear models and a calibration, numpy only.

The selector scores each candidate sentence (a logit; a softmax over one question's candidates
is the chance that each one holds the answer). The abstention model maps the question's
evidence (the selector's best logit and margin, dense/keyword agreement, missing names and
numbers, answer-type fit) to a logit that Platt scaling turns into a calibrated probability
that the question is answerable from the retrieved passages. The composer abstains below the
policy threshold stored with the model (see docs/answer-model.md).

The artifact is a small JSON file shipped in the package; `assistant eval train-answer-model`
rebuilds it. There is no fallback: a missing or stale artifact is an error naming that command.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from assistant.compose.features import CANDIDATE_FEATURES, DECISION_FEATURES
from assistant.errors import ConfigError

ARTIFACT = Path(__file__).with_name("answer_model.json")
FORMAT = 1
_RETRAIN = "rebuild it with `assistant eval train-answer-model`"


@dataclass(frozen=True, slots=True)
class LinearModel:
    """A standardised linear model: logit = ((x - mean) / scale) . weights + bias."""

    names: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """The logit of each row of `rows` (n x len(names)); a 1-D row gives one value."""
        return np.asarray(((rows - self.mean) / self.scale) @ self.weights + self.bias)

    def to_json(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "weights": [round(float(v), 6) for v in self.weights],
            "bias": round(float(self.bias), 6),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str], where: Path) -> LinearModel:
        names = tuple(data["names"])
        if names != tuple(expected):
            raise ConfigError(f"the answer model {where} was trained on other features; {_RETRAIN}")
        arrays = [np.asarray(data[key], dtype=np.float64) for key in ("mean", "scale", "weights")]
        if any(a.shape != (len(names),) for a in arrays) or np.any(arrays[1] <= 0):
            raise ConfigError(f"the answer model {where} is damaged; {_RETRAIN}")
        return cls(names, arrays[0], arrays[1], arrays[2], float(data["bias"]))


@dataclass(frozen=True, slots=True)
class AnswerModel:
    """Selector, abstention model, Platt calibration and the abstention policy's threshold."""

    selector: LinearModel
    abstention: LinearModel
    platt: tuple[float, float]
    threshold: float
    runner_up_share: float
    card: dict[str, Any]

    def candidate_logits(self, matrix: np.ndarray) -> np.ndarray:
        """The selector's logit for each candidate row (CANDIDATE_FEATURES)."""
        if len(matrix) == 0:
            return np.zeros(0)
        return self.selector.logits(matrix)

    def answerable_probability(self, decision: np.ndarray) -> float:
        """The calibrated chance that the question is answerable from its evidence."""
        raw = float(self.abstention.logits(decision))
        a, b = self.platt
        return 1.0 / (1.0 + math.exp(-max(min(a * raw + b, 50.0), -50.0)))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "selector": self.selector.to_json(),
            "abstention": self.abstention.to_json(),
            "platt": [round(self.platt[0], 6), round(self.platt[1], 6)],
            "threshold": round(self.threshold, 4),
            "runner_up_share": round(self.runner_up_share, 4),
            "card": self.card,
        }

    def save(self, path: Path) -> int:
        """Write the artifact; returns its size in bytes."""
        text = json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n"
        path.write_text(text, encoding="utf-8")
        return len(text.encode("utf-8"))

    @classmethod
    def load(cls, path: Path = ARTIFACT) -> AnswerModel:
        """Read an artifact; ConfigError naming the training command when it is missing or stale."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"the answer model {path} is missing; {_RETRAIN}") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"the answer model {path} cannot be read ({exc}); {_RETRAIN}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConfigError(f"the answer model {path} has an unknown format; {_RETRAIN}")
        try:
            a, b = (float(v) for v in data["platt"])
            return cls(
                selector=LinearModel.from_json(data["selector"], CANDIDATE_FEATURES, path),
                abstention=LinearModel.from_json(data["abstention"], DECISION_FEATURES, path),
                platt=(a, b),
                threshold=float(data["threshold"]),
                runner_up_share=float(data["runner_up_share"]),
                card=dict(data.get("card", {})),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the answer model {path} is damaged ({exc}); {_RETRAIN}") from None


@lru_cache(maxsize=1)
def shipped_model() -> AnswerModel:
    """The artifact shipped with the package, read once per process."""
    return AnswerModel.load(ARTIFACT)
