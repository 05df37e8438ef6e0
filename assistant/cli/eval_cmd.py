"""`assistant eval`: score a gold set, convert public benchmarks, calibrate abstention.

`assistant eval GOLD.jsonl ...` runs the gold set (the DESIGN.md contract); `eval convert` and
`eval calibrate` are sub-commands. Any first argument that is not a sub-command name is taken
as the run command's, so the contract's short form keeps working (`eval run GOLD` also does).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option, load_assistant

MODES = ("hybrid", "dense", "keyword")
COMPOSERS = ("extractive", "llm")


class _RunByDefault(click.Group):
    """A group whose unknown first argument (a gold file) is handed to the `run` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group("eval", cls=_RunByDefault)
def eval_group() -> None:
    """Evaluate answers and retrieval against a gold set.

    \b
    assistant eval GOLD.jsonl [--index-dir DIR] [--out REPORT.json] [--min METRIC=VALUE ...]
    assistant eval convert squad|scifact [--out-dir DIR] [--build-index]
    assistant eval calibrate GOLD.jsonl [--index-dir DIR] [--thresholds 0.05:0.95:0.05]
    assistant eval train-answer-model [--squad-dir eval/generated/squad] [--seed 13]
    """


def _progress(label: str) -> Callable[[int, int], None]:
    """A progress callback writing one updating line to stderr (silent when not a terminal)."""
    interactive = sys.stderr.isatty()

    def report(done: int, total: int) -> None:
        if interactive:
            end = "\n" if done == total else ""
            click.echo(f"\r{label}: {done}/{total}", err=True, nl=False)
            click.echo(end, err=True, nl=False)

    return report


def _thresholds(specs: Sequence[str], at_least: bool, param: str) -> list[Any]:
    from assistant.evaluation.report import parse_threshold

    parsed = []
    for spec in specs:
        try:
            parsed.append(parse_threshold(spec, at_least))
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint=param) from exc
    return parsed


@eval_group.command("run")
@click.argument("gold", type=click.Path(dir_okay=False, path_type=Path))
@index_dir_option
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the JSON report here (and a Markdown report next to it).",
)
@click.option(
    "--markdown",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Markdown report path [default: --out with .md].",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write one self-contained HTML page with charts (with --compare: both runs).",
)
@click.option(
    "--compare",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An earlier JSON report: print metric deltas and flipped questions.",
)
@click.option(
    "--min",
    "minimums",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Exit 1 when METRIC is below VALUE (repeatable).",
)
@click.option(
    "--max",
    "maximums",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Exit 1 when METRIC is above VALUE, e.g. latency_p95_ms (repeatable).",
)
@click.option(
    "--top-k",
    type=click.IntRange(1, 100),
    default=None,
    help="Passages per answer [default: ASSISTANT_TOP_K].",
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Only the first N questions of the gold set."
)
@click.option(
    "--mode",
    type=click.Choice(MODES),
    default="hybrid",
    show_default=True,
    help="Retrieval used for the retrieval metrics (answers always use hybrid).",
)
@click.option(
    "--depth",
    type=click.IntRange(10, 100),
    default=50,
    show_default=True,
    help="Passages retrieved per question for the retrieval metrics.",
)
@click.option(
    "--composer",
    type=click.Choice(COMPOSERS),
    default="extractive",
    show_default=True,
    help="Answer composer to evaluate.",
)
@click.option(
    "--abstain-threshold",
    type=float,
    default=None,
    help="Override ASSISTANT_ABSTAIN_THRESHOLD for this run.",
)
@click.option(
    "--failures",
    "failures_shown",
    type=click.IntRange(0),
    default=10,
    show_default=True,
    help="How many of the worst failures to list.",
)
@friendly_errors
def run_command(
    gold: Path,
    index_dir: Path | None,
    out: Path | None,
    markdown: Path | None,
    html_path: Path | None,
    compare: Path | None,
    minimums: tuple[str, ...],
    maximums: tuple[str, ...],
    top_k: int | None,
    limit: int | None,
    mode: str,
    depth: int,
    composer: str,
    abstain_threshold: float | None,
    failures_shown: int,
) -> None:
    """Run every question of GOLD through the assistant and report the metrics."""
    from assistant.evaluation import report as rep
    from assistant.evaluation.gold import check_against_index, load_gold
    from assistant.evaluation.runner import Evaluator, RunConfig

    thresholds = _thresholds(minimums, True, "--min") + _thresholds(maximums, False, "--max")
    old = rep.load_report(compare) if compare else None
    records = load_gold(gold)[:limit]
    assistant = load_assistant(
        command_settings(index_dir=index_dir, abstain_threshold=abstain_threshold, composer=composer)
    )
    check_against_index(records, assistant)
    config = RunConfig(top_k=top_k, mode=mode, depth=depth, composer=composer)  # type: ignore[arg-type]
    run = Evaluator(assistant, config).run(records, str(gold), _progress("evaluating"))
    report = run.to_json()
    mismatched = sum(1 for r in run.results if r.answer and r.answer.composer != composer)

    click.echo(
        f"{gold}: {len(records)} questions, index {report['config']['index_dir']}, "
        f"retrieval metrics from {mode} search"
    )
    click.echo(rep.metrics_table(report))
    if mismatched:
        click.echo(f"\nwarning: {mismatched} answers came from another composer than {composer}")
    if report["errors"]:
        click.echo(f"\n{len(report['errors'])} questions raised (counted as wrong):")
        for error in report["errors"]:
            click.echo(f"  [{error['id']}] {error['question']}: {error['error']}")
    failures = rep.worst_failures(report, failures_shown)
    if failures:
        click.echo(f"\nworst failures ({len(failures)} shown):")
        click.echo(rep.failures_text(failures))
    comparison = rep.compare_reports(old, report) if old is not None else None
    if comparison is not None:
        click.echo(f"\ncompared with {compare}:")
        click.echo(rep.comparison_text(comparison))
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        click.echo(f"\nwrote {out}")
    md_path = markdown or (out.with_suffix(".md") if out is not None else None)
    if md_path is not None:
        md_path.parent.mkdir(parents=True, exist_ok=True)
        md_path.write_text(rep.markdown_report(report, comparison), encoding="utf-8")
        click.echo(f"wrote {md_path}")
    if html_path is not None:
        from assistant.evaluation.html_report import html_report

        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(html_report(report, old, title=f"Evaluation: {gold.name}"), encoding="utf-8")
        click.echo(f"wrote {html_path}")
    missed = rep.missed_thresholds(report["metrics"], thresholds)
    if missed:
        raise click.ClickException("thresholds missed: " + "; ".join(missed))
    if thresholds:
        click.echo(f"all {len(thresholds)} thresholds met")


@eval_group.command("convert")
@click.argument("dataset", type=click.Choice(["squad", "scifact", "hotpotqa"]))
@click.option(
    "--datasets-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("../shared/datasets"),
    show_default=True,
    envvar="ASSISTANT_DATASETS_DIR",
    show_envvar=True,
    help="Folder holding squad-v2.0-dev/, scifact/ or hotpotqa/ (a HotpotQA sample: eval/datasets).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: eval/generated/DATASET].",
)
@click.option(
    "--limit",
    type=click.IntRange(1),
    default=None,
    help="Sample N questions (SQuAD: half unanswerable); the corpus stays whole.",
)
@click.option("--seed", type=int, default=13, show_default=True, help="Sampling seed.")
@click.option("--build-index", is_flag=True, help="Also index the corpus into OUT_DIR/index (takes a while).")
@friendly_errors
def convert_command(
    dataset: str,
    datasets_dir: Path,
    out_dir: Path | None,
    limit: int | None,
    seed: int,
    build_index: bool,
) -> None:
    """Turn a public benchmark into a corpus folder plus a gold set."""
    from assistant.evaluation.converters import CONVERTERS, DEFAULT_OUTPUT_ROOT

    target = out_dir or DEFAULT_OUTPUT_ROOT / dataset
    result = CONVERTERS[dataset](datasets_dir, target, limit=limit, seed=seed)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(result.counts.items()))
    click.echo(f"{dataset}: {result.documents} documents in {result.corpus_dir}")
    click.echo(f"{dataset}: {result.questions} questions ({counts}) in {result.gold_path}")
    index_dir = target / "index"
    if build_index:
        from assistant.core import Assistant

        assistant = Assistant.open_or_create(index_dir, settings=command_settings(index_dir=index_dir))
        built = assistant.index_paths([result.corpus_dir], prune=True)
        click.echo(
            f"indexed {built.documents} documents, {built.chunks} chunks "
            f"in {built.seconds:.0f}s into {index_dir}"
        )
    else:
        click.echo(f"next: assistant index build {result.corpus_dir} --index-dir {index_dir}")
    click.echo(f"then: assistant eval {result.gold_path} --index-dir {index_dir}")


def _grid(spec: str) -> list[float]:
    """'0.2:0.8:0.05' (start:stop:step, inclusive) or '0.3,0.4,0.5'."""
    try:
        if ":" in spec:
            start, stop, step = (float(x) for x in spec.split(":"))
            if step <= 0 or stop < start:
                raise ValueError
            count = round((stop - start) / step) + 1
            return [round(start + i * step, 6) for i in range(count)]
        return sorted({float(x) for x in spec.split(",") if x.strip()})
    except ValueError:
        raise click.BadParameter(
            f"expected START:STOP:STEP or a comma list of numbers, got {spec!r}",
            param_hint="--thresholds",
        ) from None


@eval_group.command("calibrate")
@click.argument("gold", type=click.Path(dir_okay=False, path_type=Path))
@index_dir_option
@click.option(
    "--thresholds",
    default="0.05:0.95:0.05",
    show_default=True,
    help="Thresholds to try: START:STOP:STEP or a comma list.",
)
@click.option("--top-k", type=click.IntRange(1, 100), default=None, help="Passages per answer.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N questions.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the sweep as JSON.")
@friendly_errors
def calibrate_command(
    gold: Path,
    index_dir: Path | None,
    thresholds: str,
    top_k: int | None,
    limit: int | None,
    out: Path | None,
) -> None:
    """Sweep the abstention threshold on GOLD and recommend the most accurate value."""
    from assistant.evaluation.calibrate import (
        POLICY_FALSE_ABSTENTION,
        Calibrator,
        best_threshold,
        policy_threshold,
    )
    from assistant.evaluation.gold import check_against_index, load_gold
    from assistant.evaluation.report import format_value

    grid = _grid(thresholds)
    records = load_gold(gold)[:limit]
    assistant = load_assistant(command_settings(index_dir=index_dir))
    check_against_index(records, assistant)
    current = assistant.settings.abstain_threshold
    try:
        rows = Calibrator(assistant, top_k).run(records, grid, _progress("calibrating"))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    names = [
        "accuracy",
        "answer_accuracy",
        "abstention_precision",
        "abstention_recall",
        "abstention_f1",
        "false_abstention_rate",
    ]
    header = ["threshold", *names]
    table = [[f"{row.threshold:g}", *(format_value(n, getattr(row, n)) for n in names)] for row in rows]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header))]
    for cells in [header, *table]:
        click.echo("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    best = best_threshold(rows)
    if len(rows) > 2 and best.threshold in (rows[0].threshold, rows[-1].threshold):
        click.echo("\nthe best value is at the edge of the grid: widen --thresholds to see past it")
    click.echo(
        f"\nmost accurate: {best.threshold:g} (accuracy {best.accuracy:.3f}); "
        f"current ASSISTANT_ABSTAIN_THRESHOLD = {current:g}"
    )
    policy = policy_threshold(rows)
    if policy is not None:
        click.echo(
            f"policy (false abstention at most {POLICY_FALSE_ABSTENTION:.0%}): {policy.threshold:g} "
            f"(abstention recall {format_value('abstention_recall', policy.abstention_recall)})"
        )
    if out is not None:
        payload = {
            "gold_set": str(gold),
            "questions": len(records),
            "current": current,
            "best": best.threshold,
            "policy": policy.threshold if policy is not None else None,
            "rows": [row.as_dict() for row in rows],
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {out}")


@eval_group.command("train-answer-model")
@click.option(
    "--squad-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval/generated/squad"),
    show_default=True,
    help="Output of `assistant eval convert squad --build-index` (gold.jsonl and index/).",
)
@click.option(
    "--claims",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("eval/generated/scifact/gold.jsonl"),
    show_default=True,
    help="SciFact's converted gold set, asked as off-topic questions (skipped when absent).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Artifact path [default: the shipped assistant/compose/answer_model.json].",
)
@click.option("--seed", type=int, default=13, show_default=True, help="Article split seed.")
@click.option("--train-articles", type=click.IntRange(1), default=20, show_default=True)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("eval/generated/answer-model"),
    show_default=True,
    help="Recorded features are kept here and reused; delete it after changing the features.",
)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures as JSON.")
@friendly_errors
def train_answer_model_command(
    squad_dir: Path,
    claims: Path,
    out: Path | None,
    seed: int,
    train_articles: int,
    cache: Path,
    report: Path | None,
) -> None:
    """Train the answer model (selector, abstention, calibration) on SQuAD 2.0 split by article."""
    from assistant.compose.scorer import ARTIFACT
    from assistant.evaluation.training import train_answer_model

    target = out or ARTIFACT
    trained = train_answer_model(
        squad_dir / "index",
        squad_dir / "gold.jsonl",
        claims if claims.exists() else None,
        target,
        seed=seed,
        train_articles=train_articles,
        cache=cache,
    )
    figures = json.dumps(trained.report, indent=2)
    click.echo(figures)
    click.echo(f"wrote {target} ({trained.report['artifact_bytes']} bytes)")
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(figures + "\n", encoding="utf-8")
