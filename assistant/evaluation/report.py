"""Reports of an evaluation: terminal table, worst failures, Markdown, comparison and thresholds.

Everything here works on the report JSON (`EvalRun.to_json()` or a file written earlier), so a
comparison with an old report and a fresh run go through the same code.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.evaluation.errors import EvalError
from assistant.evaluation.runner import METRIC_NAMES, METRICS, MetricInfo

Report = Mapping[str, Any]
_INFO: dict[str, MetricInfo] = {info.name: info for info in METRICS}
NA = "n/a"
GOT_CHARS = 220


# ---- values --------------------------------------------------------------------------------


def format_value(name: str, value: float | None) -> str:
    """Fractions with three decimals, counts as integers, milliseconds with one decimal."""
    if value is None:
        return NA
    if name in ("questions", "errors"):
        return str(int(value))
    if name.endswith("_ms") or name == "answer_words":
        return f"{value:.1f}"
    return f"{value:.3f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  ".join([first, *rest]).rstrip()

    return [line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)]


def _columns(report: Report) -> list[tuple[str, Mapping[str, float]]]:
    columns: list[tuple[str, Mapping[str, float]]] = [("all", report.get("metrics", {}))]
    columns.extend(sorted(report.get("by_category", {}).items()))
    return columns


def _present(columns: Sequence[tuple[str, Mapping[str, float]]]) -> list[str]:
    return [name for name in METRIC_NAMES if any(name in values for _, values in columns)]


def metrics_table(report: Report) -> str:
    """A metric-per-row table: overall first, then one column per category."""
    columns = _columns(report)
    rows = [
        [name, *(format_value(name, values.get(name)) for _, values in columns)] for name in _present(columns)
    ]
    return "\n".join(_table(["metric", *(label for label, _ in columns)], rows))


# ---- failures ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A question answered wrongly (or that raised), for the worst-failures list."""

    id: str
    category: str
    question: str
    expected: str
    got: str
    severity: float


def _expected(gold: Mapping[str, Any]) -> str:
    if not gold.get("answerable", True):
        return "(abstain)"
    if gold.get("answers"):
        return " | ".join(gold["answers"])
    return "docs: " + ", ".join(gold.get("evidence_docs", []))


def _got(result: Mapping[str, Any]) -> str:
    if result.get("error"):
        return f"ERROR {result['error']}"
    answer = result.get("answer")
    if answer is None:
        return "(not asked: retrieval only)"
    if answer.get("abstained"):
        return "(abstained)"
    text = " ".join(str(answer.get("answer", "")).split())
    return text if len(text) <= GOT_CHARS else text[: GOT_CHARS - 3] + "..."


def is_failure(result: Mapping[str, Any]) -> bool:
    """Wrong, or raised; retrieval-only questions fail when no evidence doc is in the top 5."""
    scores = result.get("scores", {})
    if result.get("error"):
        return True
    if "correct" in scores:
        return bool(scores["correct"] < 1.0)
    return bool(scores.get("hit@5", 0.0) < 1.0)


def worst_failures(report: Report, limit: int = 10) -> list[Failure]:
    """Errors first, then misses whose evidence was not even retrieved, then the rest."""
    failures: list[Failure] = []
    for result in report.get("results", []):
        if not is_failure(result):
            continue
        gold, scores = result["gold"], result.get("scores", {})
        severity = 3.0 if result.get("error") else 1.0 + (1.0 - scores.get("mrr", 1.0))
        failures.append(
            Failure(
                id=str(gold.get("id", "")),
                category=str(gold.get("category", "")),
                question=str(gold.get("question", "")),
                expected=_expected(gold),
                got=_got(result),
                severity=severity,
            )
        )
    failures.sort(key=lambda f: -f.severity)
    return failures[:limit]


def failures_text(failures: Iterable[Failure]) -> str:
    """The terminal listing of failures: question, expected and what came back."""
    lines: list[str] = []
    for failure in failures:
        label = f"[{failure.id}]" + (f" ({failure.category})" if failure.category else "")
        lines += [f"{label} {failure.question}", f"    expected: {failure.expected}"]
        lines.append(f"    got:      {failure.got}")
    return "\n".join(lines)


# ---- comparison ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Flip:
    """A question whose outcome changed between two reports."""

    id: str
    question: str
    now_correct: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    """Per-metric deltas (new - old) and the questions that flipped."""

    deltas: list[tuple[str, float | None, float | None]]
    flips: list[Flip]
    only_old: list[str]
    only_new: list[str]


def compare_reports(old: Report, new: Report) -> Comparison:
    """Compare overall metrics and per-question outcomes, matching questions by gold id."""
    old_m, new_m = old.get("metrics", {}), new.get("metrics", {})
    names = [n for n in METRIC_NAMES if n in old_m or n in new_m]
    deltas = [(name, old_m.get(name), new_m.get(name)) for name in names]
    old_results = {r["gold"]["id"]: r for r in old.get("results", [])}
    new_results = {r["gold"]["id"]: r for r in new.get("results", [])}
    flips: list[Flip] = []
    for qid, result in new_results.items():
        before = old_results.get(qid)
        if before is None:
            continue
        was_ok, now_ok = not is_failure(before), not is_failure(result)
        if was_ok != now_ok:
            flips.append(Flip(qid, str(result["gold"].get("question", "")), now_ok))
    return Comparison(
        deltas=deltas,
        flips=flips,
        only_old=sorted(set(old_results) - set(new_results)),
        only_new=sorted(set(new_results) - set(old_results)),
    )


def _delta_cells(name: str, before: float | None, after: float | None) -> list[str]:
    if before is None or after is None:
        delta = NA
    else:
        change = after - before
        digits = 3 if _INFO[name].fraction else 1
        delta = "0" if change == 0 else f"{change:+.{digits}f}"
    return [name, format_value(name, before), format_value(name, after), delta]


def comparison_text(comparison: Comparison) -> str:
    """Deltas table then the flipped questions (worse first)."""
    rows = [_delta_cells(*entry) for entry in comparison.deltas]
    lines = _table(["metric", "old", "new", "delta"], rows)
    worse = [f for f in comparison.flips if not f.now_correct]
    better = [f for f in comparison.flips if f.now_correct]
    lines.append("")
    lines.append(f"flipped: {len(worse)} now wrong, {len(better)} now right")
    lines += [f"  - now wrong [{f.id}] {f.question}" for f in worse]
    lines += [f"  + now right [{f.id}] {f.question}" for f in better]
    if comparison.only_old or comparison.only_new:
        lines.append(
            f"questions only in old: {len(comparison.only_old)}, only in new: {len(comparison.only_new)}"
        )
    return "\n".join(lines)


def load_report(path: Path | str) -> dict[str, Any]:
    """Read a report written by `--out`; a file that is not one raises EvalError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise EvalError(f"report {path} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read report {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        raise EvalError(f"{path} is not an eval report (no 'metrics' object)")
    data.setdefault("results", [])
    return data


# ---- thresholds ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Threshold:
    """`--min NAME=VALUE` (at least) or `--max NAME=VALUE` (at most)."""

    metric: str
    value: float
    at_least: bool = True


def parse_threshold(spec: str, at_least: bool = True) -> Threshold:
    """Parse `METRIC=VALUE`; unknown metric names raise ValueError listing the known ones."""
    name, sep, raw = spec.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"expected METRIC=VALUE, got {spec!r}")
    if name not in _INFO:
        raise ValueError(f"unknown metric {name!r}; known: {', '.join(METRIC_NAMES)}")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"threshold for {name} must be a number, got {raw!r}") from None
    return Threshold(name, value, at_least)


def missed_thresholds(metrics: Mapping[str, float], thresholds: Iterable[Threshold]) -> list[str]:
    """One message per threshold that was missed; a metric that was not computed misses."""
    missed: list[str] = []
    for t in thresholds:
        value = metrics.get(t.metric)
        if value is None:
            missed.append(f"{t.metric} was not computed for this gold set (n/a)")
        elif t.at_least and value < t.value:
            missed.append(f"{t.metric} = {format_value(t.metric, value)} < minimum {t.value:g}")
        elif not t.at_least and value > t.value:
            missed.append(f"{t.metric} = {format_value(t.metric, value)} > maximum {t.value:g}")
    return missed


# ---- Markdown ------------------------------------------------------------------------------


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |"]
    lines.append("|" + "|".join(" --- " if i == 0 else " ---: " for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(esc(c) for c in row) + " |" for row in rows]
    return lines


def markdown_report(report: Report, comparison: Comparison | None = None, failures_limit: int = 10) -> str:
    """The same content as the terminal output, as a Markdown document."""
    config = report.get("config", {})
    lines = [f"# Evaluation: {report.get('gold_set', '')}", ""]
    lines.append(
        f"Run at {report.get('created_at', '?')}. "
        + ", ".join(f"{key} = `{value}`" for key, value in config.items())
    )
    lines += ["", "## Metrics", ""]
    columns = _columns(report)
    lines += _md_table(
        ["metric", *(label for label, _ in columns)],
        [
            [name, *(format_value(name, values.get(name)) for _, values in columns)]
            for name in _present(columns)
        ],
    )
    errors = report.get("errors", [])
    if errors:
        lines += ["", "## Errors", ""]
        lines += [f"- `{e['id']}` {e['question']}: {e['error']}" for e in errors]
    failures = worst_failures(report, failures_limit)
    if failures:
        lines += ["", "## Worst failures", ""]
        lines += _md_table(
            ["id", "category", "question", "expected", "got"],
            [[f.id, f.category, f.question, f.expected, f.got] for f in failures],
        )
    if comparison is not None:
        lines += ["", "## Change against the previous report", ""]
        lines += _md_table(["metric", "old", "new", "delta"], [_delta_cells(*e) for e in comparison.deltas])
        if comparison.flips:
            lines.append("")
            lines += [
                f"- {'now right' if f.now_correct else 'now wrong'}: `{f.id}` {f.question}"
                for f in comparison.flips
            ]
    lines += ["", "## Metric definitions", ""]
    lines += [f"- `{info.name}`: {info.description}" for info in METRICS]
    return "\n".join(lines) + "\n"
