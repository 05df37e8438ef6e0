"""The eval suite: gold sets, metrics, the runner, reports, benchmark converters, calibration."""

from assistant.evaluation.errors import EvalError, GoldSetError
from assistant.evaluation.gold import GoldRecord, check_against_index, load_gold
from assistant.evaluation.runner import METRIC_NAMES, EvalRun, Evaluator, RunConfig

__all__ = [
    "METRIC_NAMES",
    "EvalError",
    "EvalRun",
    "Evaluator",
    "GoldRecord",
    "GoldSetError",
    "RunConfig",
    "check_against_index",
    "load_gold",
]
