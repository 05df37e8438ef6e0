"""One self-contained HTML page for an evaluation report (and, optionally, an older one).

Inline CSS and SVG only (no scripts, no CDN), so the file opens offline and can be mailed. The
charts come from the report JSON: the reliability diagram and the risk-coverage curve from each
answer's `confidence`, per-category accuracy, the latency histogram, then the failures with the
quotes their answers cited marked inside the cited passages.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from assistant.evaluation.report import Report, _columns, _present, format_value, is_failure
from assistant.evaluation.svg import Series, bar_chart, line_chart

BINS = 10
LATENCY_BINS = 12
FAILURES_SHOWN = 25
TOP_PASSAGES_SHOWN = 2
CATEGORY_METRIC = "accuracy"

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2430;padding:0 1rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}table{border-collapse:collapse}
td,th{padding:.2rem .6rem;border-bottom:1px solid #e3e7ec;text-align:right}
td:first-child,th:first-child{text-align:left}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1rem}
figure{margin:0;border:1px solid #e3e7ec;border-radius:6px;padding:.5rem}
figcaption{font-size:.85rem;color:#56606d}
.chart{width:100%;height:auto}.axis{stroke:#56606d}.grid{stroke:#eef1f4}
.ideal{stroke:#c0c6cd;stroke-dasharray:4 3}
.tick{font-size:10px;fill:#56606d}.label{font-size:11px;fill:#1d2430}
.failure{border-left:3px solid #d1242f;padding:.3rem .8rem;margin:.8rem 0;background:#fafbfc}
.failure .meta{color:#56606d;font-size:.85rem}.passage{white-space:pre-wrap;font-size:.9rem;margin:.3rem 0}
mark{background:#fff3b0;padding:0 .1em}.better{color:#1a7f37}.worse{color:#d1242f}
"""


def html_report(report: Report, old: Report | None = None, title: str = "Evaluation report") -> str:
    """The page for `report`; with `old`, both runs share every chart's axes and the table has deltas."""
    runs = [("old", old), ("new", report)] if old is not None else [("run", report)]
    named = [(label, run) for label, run in runs if run is not None]
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(str(report.get('gold_set', '')))} · {len(report.get('results', []))} questions · "
        f"{escape(str(report.get('created_at', '')))}</p>",
        "<h2>Metrics</h2>",
        _metrics_table(report, old),
        "<h2>Charts</h2>",
        '<div class="charts">',
        _figure(
            _reliability(named),
            "Reliability: observed share answered correctly per confidence bin "
            "(unanswerable questions count as not answered); the dashed line is perfect calibration.",
        ),
        _figure(
            _risk_coverage(named),
            "Risk-coverage: answering only the most confident share of questions "
            "(coverage), the share of those not answered correctly (risk).",
        ),
        _figure(_categories(named), f"{CATEGORY_METRIC} per category."),
        _figure(_latency(named), "Latency per question (milliseconds)."),
        "</div>",
        "<h2>Failures</h2>",
        _failures(report),
    ]
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


# ---- what the charts plot ------------------------------------------------------------------


def _scored(run: Report) -> list[tuple[float, float]]:
    """(confidence, 1 when answered correctly) for every question whose answer has a confidence."""
    pairs = []
    for result in run.get("results", []):
        answer = result.get("answer") or {}
        confidence = answer.get("confidence")
        if confidence is None:
            continue
        gold, scores = result.get("gold", {}), result.get("scores", {})
        right = gold.get("answerable", True) and not answer.get("abstained") and scores.get("correct", 0) >= 1
        pairs.append((float(confidence), 1.0 if right else 0.0))
    return pairs


def reliability_points(pairs: Sequence[tuple[float, float]], bins: int = BINS) -> list[tuple[float, float]]:
    """(mean confidence, observed accuracy) for every non-empty equal-width confidence bin."""
    grouped: list[list[tuple[float, float]]] = [[] for _ in range(bins)]
    for confidence, right in pairs:
        grouped[min(int(max(confidence, 0.0) * bins), bins - 1)].append((confidence, right))
    return [
        (sum(c for c, _ in group) / len(group), sum(r for _, r in group) / len(group))
        for group in grouped
        if group
    ]


def risk_coverage_points(pairs: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """(coverage, risk) answering the k most confident questions, for k = 1..n."""
    ranked = sorted(pairs, key=lambda pair: -pair[0])
    points, wrong = [], 0.0
    for k, (_, right) in enumerate(ranked, start=1):
        wrong += 1.0 - right
        points.append((k / len(ranked), wrong / k))
    return points


def _reliability(runs: Sequence[tuple[str, Report]]) -> str:
    series = [Series(label, reliability_points(_scored(run))) for label, run in runs]
    return line_chart(
        "Reliability diagram", series, "confidence", "observed accuracy", diagonal=True, markers=True
    )


def _risk_coverage(runs: Sequence[tuple[str, Report]]) -> str:
    series = [Series(label, risk_coverage_points(_scored(run))) for label, run in runs]
    return line_chart("Risk-coverage curve", series, "coverage", "risk")


def _categories(runs: Sequence[tuple[str, Report]]) -> str:
    names = sorted({name for _, run in runs for name in run.get("by_category", {})}) or ["all"]

    def value(run: Report, name: str) -> float:
        values = run.get("by_category", {}).get(name) or (run.get("metrics", {}) if name == "all" else {})
        return float(values.get(CATEGORY_METRIC) or 0.0)

    series = [Series(label, [(i, value(run, name)) for i, name in enumerate(names)]) for label, run in runs]
    return bar_chart("Accuracy per category", names, series, CATEGORY_METRIC)


def _latency(runs: Sequence[tuple[str, Report]]) -> str:
    latencies = {
        label: [
            float(r["scores"]["latency_ms"])
            for r in run.get("results", [])
            if "latency_ms" in r.get("scores", {})
        ]
        for label, run in runs
    }
    top = max((max(values) for values in latencies.values() if values), default=1.0)
    width = _nice_step(top / LATENCY_BINS)
    bins = max(1, math.ceil(top / width))
    labels = [f"{i * width:g}" for i in range(bins)]
    series = []
    for label, values in latencies.items():
        counts = [0] * bins
        for value in values:
            counts[min(int(value // width), bins - 1)] += 1
        share = [(i, count / len(values) if values else 0.0) for i, count in enumerate(counts)]
        series.append(Series(label, share))
    return bar_chart("Latency histogram", labels, series, "share of questions (bin start, ms)")


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten: bins people can read."""
    if raw <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= raw)


# ---- table and failures --------------------------------------------------------------------


def _metrics_table(report: Report, old: Report | None) -> str:
    columns = _columns(report)
    header = ["metric", *(label for label, _ in columns)]
    if old is not None:
        header += ["old (all)", "Δ"]
    rows = []
    for name in _present(columns):
        cells = [escape(name), *(format_value(name, values.get(name)) for _, values in columns)]
        if old is not None:
            before, after = old.get("metrics", {}).get(name), report.get("metrics", {}).get(name)
            cells.append(format_value(name, before))
            cells.append(_delta(before, after))
        rows.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    head = "<tr>" + "".join(f"<th>{escape(cell)}</th>" for cell in header) + "</tr>"
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _delta(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    change = after - before
    return f"{change:+.3f}"


def _failures(report: Report) -> str:
    failures = [result for result in report.get("results", []) if is_failure(result)]
    if not failures:
        return "<p>No failures.</p>"
    shown = failures[:FAILURES_SHOWN]
    parts = [f"<p>{len(failures)} failures; the first {len(shown)} are shown.</p>"]
    for result in shown:
        gold, answer = result.get("gold", {}), result.get("answer") or {}
        expected = " | ".join(gold.get("answers", [])) if gold.get("answerable", True) else "(abstain)"
        got = (
            "(abstained)" if answer.get("abstained") else str(answer.get("answer", result.get("error") or ""))
        )
        parts.append(
            '<div class="failure">'
            f'<div class="meta">{escape(str(gold.get("id", "")))} · {escape(str(gold.get("category", "")))}'
            f" · confidence {format_value('confidence', answer.get('confidence'))}</div>"
            f"<p><b>{escape(str(gold.get('question', '')))}</b></p>"
            f"<p>expected: {escape(expected)}<br>got: {escape(got)}</p>"
            f"{''.join(_cited_passages(answer, gold))}</div>"
        )
    return "".join(parts)


def _cited_passages(answer: Mapping[str, Any], gold: Mapping[str, Any]) -> list[str]:
    """Each cited passage with its quote marked; with no citation (an abstention), the top
    passages with the gold answers marked, which shows whether the evidence was there."""
    passages = {p.get("chunk_id"): str(p.get("text", "")) for p in answer.get("passages", [])}
    shown = []
    for citation in answer.get("citations", []):
        quote = str(citation.get("quote", ""))
        text = passages.get(citation.get("chunk_id"), "") or quote
        source = f"[{citation.get('marker')}] {citation.get('title') or citation.get('doc_id', '')}"
        shown.append(_passage(source, text, [quote]))
    if not shown:
        for passage in answer.get("passages", [])[:TOP_PASSAGES_SHOWN]:
            source = f"passage from {passage.get('doc_id', '')} (score {float(passage.get('score', 0)):.2f})"
            shown.append(_passage(source, str(passage.get("text", "")), list(gold.get("answers", []))))
    return shown


def _passage(source: str, text: str, marked: Sequence[str]) -> str:
    """`text` escaped, with every occurrence of the `marked` strings (any case) in <mark>."""
    spans = sorted(
        (match.start(), match.end())
        for needle in marked
        if needle
        for match in re.finditer(re.escape(needle), text, flags=re.IGNORECASE)
    )
    pieces, at = [], 0
    for start, end in spans:
        if start < at:
            continue
        pieces.append(escape(text[at:start]) + f"<mark>{escape(text[start:end])}</mark>")
        at = end
    pieces.append(escape(text[at:]))
    return f'<div class="passage"><b>{escape(source)}</b>: {"".join(pieces)}</div>'
