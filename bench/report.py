"""Render the figures in bench/out/*.json as Markdown tables into bench/RESULTS.md.

    python -m bench.report            # rewrites the part of RESULTS.md between the markers
    python -m bench.report --print    # prints the tables instead

Only the generated block between `<!-- results:start -->` and `<!-- results:end -->` is
replaced, so the notes written around it survive a re-run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from bench.common import OUT_DIR, REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "RESULTS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"


def _load(name: str) -> dict[str, Any] | None:
    path = OUT_DIR / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _ratio(ours: float | None, theirs: float | None) -> str:
    if not ours or not theirs:
        return "–"
    return f"{ours / theirs:.2f}×"


def _verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("met" if ok else "**missed**")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _machine(data: dict[str, Any]) -> str:
    m = data["machine"]
    load = ", ".join(str(x) for x in m["load_average"])
    return (
        f"{m['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, load average {load} "
        f"at the start; command `{data['command']}`"
    )


def _row(
    label: str, base: str, ours: str, rat: str, goal: str = "", verdict: bool | None = None
) -> list[str]:
    return [label, base, ours, rat, goal, _verdict(verdict)]


def summary(idx: Any, lat: Any, cold: Any, load: Any) -> list[str]:
    """One row per goal of the performance issue: baseline, ours, ratio, goal, verdict."""
    rows: list[list[str]] = []
    for corpus in ("squad", "sample"):
        if idx and corpus in idx["corpora"]:
            best = idx["corpora"][corpus]["best"]
            o, b = best["ours"]["tokens_per_s"], best["baseline"]["tokens_per_s"]
            goal = corpus == "squad"
            rows.append(
                _row(
                    f"Index build, source tokens/s ({corpus})",
                    _fmt(b, 0),
                    _fmt(o, 0),
                    _ratio(o, b),
                    "≥ 1.5×" if goal else "",
                    o >= 1.5 * b if goal else None,
                )
            )
            o, b = best["ours"]["chunks_per_s"], best["baseline"]["chunks_per_s"]
            rows.append(_row(f"Index build, chunks/s ({corpus})", _fmt(b), _fmt(o), _ratio(o, b)))
    for corpus in ("squad", "sample"):
        if lat and corpus in lat["corpora"]:
            best = lat["corpora"][corpus]["best"]
            o, b = best["ours"]["latency_ms"], best["baseline"]["latency_ms"]
            label = f"ask vs similarity_search p50, ms ({corpus})"
            rows.append(
                _row(label, _fmt(b["p50"], 2), _fmt(o["p50"], 2), _ratio(o["p50"], b["p50"]), "≤ 0.5×")
            )
            rows[-1][-1] = _verdict(o["p50"] <= 0.5 * b["p50"])
            label = f"ask p95, ms ({corpus})"
            rows.append(
                _row(label, _fmt(b["p95"], 2), _fmt(o["p95"], 2), _ratio(o["p95"], b["p95"]), "< 25 ms")
            )
            rows[-1][-1] = _verdict(o["p95"] < 25)
    if cold:
        for corpus, item in cold["corpora"].items():
            s = item["summary"]
            o, b = s["ours"]["seconds_median"], s["baseline"]["seconds_median"]
            label = f"Cold start to first answer, s ({corpus})"
            rows.append(_row(label, _fmt(b, 2), _fmt(o, 2), _ratio(o, b), "≤ 0.5×", o <= 0.5 * b))
            o, b = s["ours"]["peak_rss_mb_median"], s["baseline"]["peak_rss_mb_median"]
            rows.append(
                _row(f"Peak RSS of that process, MB ({corpus})", _fmt(b, 0), _fmt(o, 0), _ratio(o, b))
            )
    if load:
        top = max(load["levels"], key=lambda level: level["concurrency"])
        c, rate = top["concurrency"], top["requests_per_s"]
        rows.append(_row(f"Serving: asks/s at concurrency {c}", "–", _fmt(rate), "", "≥ 100", rate >= 100))
        p95 = top["latency_ms"].get("p95")
        ok = p95 is not None and p95 < 200
        rows.append(_row(f"Serving: p95 at concurrency {c}, ms", "–", _fmt(p95), "", "< 200", ok))
        errors = sum(level["errors"] for level in load["levels"])
        rows.append(_row("Serving: errors", "–", _fmt(errors), "", "0", errors == 0))
    return _table(["figure", "baseline", "ours", "ours / baseline", "goal", "verdict"], rows)


def indexing_tables(idx: dict[str, Any]) -> list[str]:
    lines = ["### Index build", "", _machine(idx), ""]
    rows = []
    for corpus, item in idx["corpora"].items():
        for side in ("baseline", "ours"):
            r = item["best"][side]
            embedded = r.get("embedded_tokens") or r.get("chunk_tokens")
            rows.append(
                [
                    corpus,
                    side,
                    _fmt(r["documents"]),
                    _fmt(r["chunks"]),
                    _fmt(r.get("sentences")),
                    _fmt(r["source_tokens"]),
                    _fmt(embedded),
                    _fmt(r["seconds"], 2),
                    _fmt(r["chunks_per_s"]),
                    _fmt(r["tokens_per_s"], 0),
                    _fmt(r.get("process_peak_rss_mb"), 0),
                    r.get("sentence_vectors", "") if side == "ours" else "",
                ]
            )
    header = [
        "corpus",
        "side",
        "docs",
        "chunks",
        "sentences",
        "source tokens",
        "chunk tokens",
        "seconds",
        "chunks/s",
        "source tokens/s",
        "peak RSS MB",
        "sentence vectors",
    ]
    lines += _table(header, rows)
    rounds = []
    for corpus, item in idx["corpora"].items():
        for side in ("baseline", "ours"):
            values = ", ".join(_fmt(r["tokens_per_s"], 0) for r in item["runs"][side])
            rounds.append(f"{corpus} {side}: {values}")
    lines += ["", "Source tokens/s of every round (best one above): " + "; ".join(rounds) + "."]
    return lines


def latency_tables(lat: dict[str, Any]) -> list[str]:
    lines = ["### Answer latency (model loaded)", "", _machine(lat), ""]
    rows = []
    for corpus, item in lat["corpora"].items():
        for side in ("baseline", "ours"):
            r = item["best"][side]
            lm = r["latency_ms"]
            stages = r.get("stages_ms", {})
            stage_text = _stage_p50(stages)
            what = "similarity_search(k=5)" if side == "baseline" else "Assistant.ask (top_k=5)"
            rows.append(
                [
                    corpus,
                    what,
                    f"{r['questions']} ({r['unique_questions']} distinct)",
                    _fmt(lm["p50"], 2),
                    _fmt(lm["p95"], 2),
                    _fmt(lm["p99"], 2),
                    _fmt(lm["mean"], 2),
                    stage_text,
                ]
            )
    lines += _table(
        ["corpus", "call", "questions", "p50 ms", "p95 ms", "p99 ms", "mean ms", "p50 per stage"], rows
    )
    return lines


def cold_tables(cold: dict[str, Any]) -> list[str]:
    lines = ["### Cold start and peak memory", "", _machine(cold), ""]
    rows = []
    for corpus, item in cold["corpora"].items():
        for side in ("baseline", "ours"):
            s = item["summary"][side]
            rows.append(
                [
                    corpus,
                    side,
                    _fmt(s["seconds_median"], 2),
                    _fmt(s["seconds_min"], 2),
                    _fmt(s["peak_rss_mb_median"], 0),
                    f"`{item['commands'][side]}`",
                ]
            )
    lines += _table(["corpus", "side", "median s", "min s", "peak RSS MB", "command"], rows)
    return lines


def _stage_p50(stages: dict[str, Any]) -> str:
    names = ("embed", "retrieve", "compose", "total")
    return ", ".join(f"{name} {stages[name]['p50']}" for name in names if name in stages)


def load_tables(load: dict[str, Any], title: str) -> list[str]:
    lines = [f"### {title}", "", _machine(load), ""]
    rows = []
    for level in load["levels"]:
        lm = level["latency_ms"]
        rows.append(
            [
                str(level["concurrency"]),
                _fmt(level["seconds"]),
                _fmt(level["requests"]),
                _fmt(level["requests_per_s"]),
                _fmt(lm.get("p50")),
                _fmt(lm.get("p95")),
                _fmt(lm.get("p99")),
                _fmt(level["errors"]),
                f"{level['client_cpu_share']:.0%}",
            ]
        )
    header = [
        "concurrency",
        "seconds",
        "requests",
        "asks/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "errors",
        "client CPU",
    ]
    lines += _table(header, rows)
    rss = load.get("rss_mb", {})
    if rss:
        window = f"{rss['window_s']:.0f} s"
        lines += [
            "",
            f"Server RSS: {rss['start_mb']} MB at the start, {rss['max_mb']} MB at most, "
            f"{rss['end_mb']} MB at the end; mean of the first {window} {rss['first_window_mean_mb']} MB, "
            f"of the last {window} {rss['last_window_mean_mb']} MB; trend {rss['slope_mb_per_min']} MB/min.",
        ]
    return lines


def options_tables(opts: dict[str, Any]) -> list[str]:
    counts = opts["model_tokens"]
    lines = ["### Indexing options", "", _machine(opts), ""]
    rows = [
        [
            "sentences encoded on their own",
            _fmt(counts["encoded"]["tokens"]),
            _fmt(counts["encoded"]["padded_sorted"]),
            _fmt(counts["encoded"]["padded_unsorted"]),
        ],
        [
            "late-pooled (one pass per chunk)",
            _fmt(counts["late_pooled"]["tokens"]),
            _fmt(counts["late_pooled"]["padded_sorted"]),
            _fmt(counts["late_pooled"]["padded_unsorted"]),
        ],
    ]
    lines += [
        f"Counted exactly on {opts['docs']} SQuAD paragraphs ({_fmt(counts['source_tokens'])} source "
        f"tokens, {counts['chunks']} chunks, {counts['sentences']} sentences, "
        f"{counts['duplicate_texts']} repeated texts):",
        "",
    ]
    header = ["strategy", "tokens into the model", "with padding, length-sorted", "with padding, unsorted"]
    lines += [*_table(header, rows), ""]
    rows = []
    for key, runs in opts["runs"].items():
        best = max(runs, key=lambda r: r["tokens_per_s"])
        rows.append(
            [
                key,
                _fmt(best["seconds"], 2),
                _fmt(best["cpu_seconds"], 2),
                _fmt(best["tokens_per_s"], 0),
                _fmt(best["tokens_per_cpu_s"], 0),
                ", ".join(_fmt(r["tokens_per_s"], 0) for r in runs),
            ]
        )
    header = ["configuration", "seconds", "CPU seconds", "source tokens/s", "per CPU-second", "every round"]
    return lines + _table(header, rows)


def quality_tables(quality: dict[str, Any]) -> list[str]:
    lines = ["### Answer quality: late-pooled vs encoded sentence vectors", "", _machine(quality), ""]
    for item in quality["sets"].values():
        encoded, late = item["metrics"]["encoded"], item["metrics"]["late-pooled"]
        rows = [[key, _fmt(encoded[key], 3), _fmt(late[key], 3)] for key in encoded]
        lines += [f"`{item['gold']}`:", "", *_table(["metric", "encoded", "late-pooled"], rows), ""]
    return lines


def query_quality_tables(quality: dict[str, Any]) -> list[str]:
    lines = ["### Answer quality: ONNX int8 vs torch query embeddings", "", _machine(quality), ""]
    for item in quality["sets"].values():
        torch, onnx = item["metrics"]["torch"], item["metrics"]["onnx"]
        rows = [[key, _fmt(torch[key], 3), _fmt(onnx.get(key), 3)] for key in torch]
        lines += [f"`{item['gold']}`:", "", *_table(["metric", "torch", "onnx int8"], rows), ""]
    return lines


def scale_summary(scale: dict[str, Any]) -> list[list[str]]:
    """Rows for the 1M-chunk goals: recall@10 at the default efSearch, ask p95, resident memory."""
    from assistant.store.snapshot.vector_index import HNSW_EF_SEARCH

    rows: list[list[str]] = []
    n = f"{scale['n']:,}"
    for kind, entry in scale["kinds"].items():
        chosen = [r for r in entry["sweep"] if r["ef_search"] in (HNSW_EF_SEARCH, None)]
        if chosen:
            recall = chosen[0]["recall_at_10"]
            label = f"Scale {n}: {kind} recall@10 (efSearch {chosen[0]['ef_search'] or '-'})"
            rows.append(_row(label, "–", _fmt(recall, 3), "", "≥ 0.95", recall >= 0.95))
    if "ask" in scale:
        ask = scale["ask"]
        p95 = ask["ask_ms"]["p95"]
        rows.append(_row(f"Scale {n}: ask p95, ms", "–", _fmt(p95, 1), "", "< 30", p95 < 30))
        peak = ask["peak_rss_mb"]
        rows.append(_row(f"Scale {n}: resident MB", "–", _fmt(peak, 0), "", "< 4,096", peak < 4096))
    return rows


def scale_tables(scale: dict[str, Any]) -> list[str]:
    from bench.scale import table

    return [f"### Scale: {scale['n']:,} chunks", "", *table(scale).splitlines()]


def render() -> str:
    idx, lat, cold = _load("indexing"), _load("latency"), _load("cold_start")
    load, soak = _load("load"), _load("load-soak")
    opts, quality = _load("index_options"), _load("pooling_quality")
    query_quality, scale = _load("query_quality"), _load("scale-1000000")
    table = summary(idx, lat, cold, load)
    if scale:
        table += ["| " + " | ".join(row) + " |" for row in scale_summary(scale)]
    lines = ["## Summary", "", *table, ""]
    sections: list[tuple[Any, Any]] = [
        (idx, indexing_tables),
        (lat, latency_tables),
        (cold, cold_tables),
        (load, lambda d: load_tables(d, f"Serving under load ({d['duration_per_level_s']:.0f} s per level)")),
        (soak, lambda d: load_tables(d, f"Memory soak ({d['duration_per_level_s']:.0f} s)")),
        *(
            (_load(f"load-threads-{n}"), lambda d, n=n: load_tables(d, f"ASSISTANT_WORKER_THREADS={n}"))
            for n in (2, 40)
        ),
        (query_quality, query_quality_tables),
        (opts, options_tables),
        (quality, quality_tables),
        (scale, scale_tables),
    ]
    for data, render_section in sections:
        if data:
            lines += [*render_section(data), ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--print", action="store_true", help="print instead of rewriting RESULTS.md")
    args = parser.parse_args()
    block = render()
    if args.print:
        print(block)
        return
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else f"# Results\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        text = text.rstrip() + f"\n\n{START}\n{END}\n"
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    RESULTS.write_text(f"{head}{START}\n{block}{END}{tail}", encoding="utf-8")
    print(f"wrote {Path(RESULTS).relative_to(REPO_ROOT)}")


if __name__ == "__main__":
    main()
