"""`assistant index build|remove`: build the index incrementally, or delete one document."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option, load_assistant
from assistant.models import IndexReport
from assistant.store.protocol import DEFAULT_SET

#: below this many files a progress bar is more noise than help
PROGRESS_MIN_FILES = 5


@click.group("index")
def index_group() -> None:
    """Build or change the index."""


@index_group.command("build")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@index_dir_option
@click.option("--prune", is_flag=True, help="Remove documents whose files are gone.")
@click.option("--rebuild", is_flag=True, help="Start from an empty index (e.g. after damage).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME",
    help="Put the documents under PATHS in this document set (repeatable; default: 'default').",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="local",
    default=None,
    metavar="[ADDRESS]",
    help="Load, chunk and embed on Ray: a cluster address, 'auto', or (no value) a private local one.",
)
@friendly_errors
def build_command(
    paths: tuple[Path, ...],
    index_dir: Path | None,
    prune: bool,
    rebuild: bool,
    as_json: bool,
    sets: tuple[str, ...],
    ray_address: str | None,
) -> None:
    """Index files and folders (default: corpus/). Unchanged files are skipped.

    Exits 0 when every file was indexed, 3 when some were skipped (listed with reasons).
    """
    from assistant.core import Assistant

    settings = command_settings(index_dir=index_dir, ray_address=ray_address)
    target = settings.index_dir
    assistant = Assistant(target, settings)
    roots = list(paths) or [settings.corpus_dir]
    bar = _ProgressBar()
    try:
        report = assistant.index_paths(
            roots, prune=prune, rebuild=rebuild, progress=bar.update, sets=list(sets) or [DEFAULT_SET]
        )
    finally:
        bar.close()
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _print_summary(report, target)
    if report.skipped:
        sys.exit(3)


class _ProgressBar:
    """A click progress bar that appears only for more than a handful of files."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._done = 0

    def update(self, number: int, total: int, path: str) -> None:
        if total < PROGRESS_MIN_FILES:
            return
        if self._bar is None:
            self._bar = click.progressbar(length=total, label="Indexing", file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(number - self._done)
        self._done = number

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


def _print_summary(report: IndexReport, index_dir: Path) -> None:
    click.echo(
        f"Index {index_dir}: {report.documents} documents, {report.chunks} chunks "
        f"({len(report.added)} added, {len(report.replaced)} replaced, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed) "
        f"in {report.seconds:.1f} s"
    )
    if report.reused_texts:
        reused = report.reused_texts
        click.echo(f"{report.embedded_texts} texts embedded, {reused} reused from the vector cache")
    if report.skipped:
        click.echo(f"Skipped {len(report.skipped)} file(s):", err=True)
        for item in report.skipped:
            click.echo(f"  {item.path}: {item.reason}", err=True)


@index_group.command("watch")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_dir_option
@friendly_errors
def watch_command(paths: tuple[Path, ...], index_dir: Path | None) -> None:
    """Index PATHS, then re-index on every change (saves, renames, deletes) until Ctrl-C.

    Vanished files are removed from the index; a file caught mid-save is retried.
    """
    from assistant.core import Assistant
    from assistant.sources.watch import watch_folders

    settings = command_settings(index_dir=index_dir)
    assistant = Assistant.open_or_create(settings.index_dir, settings=settings)
    click.echo(f"Watching {', '.join(map(str, paths))} (Ctrl-C stops)")
    watch_folders(
        list(paths),
        lambda: assistant.index_paths(list(paths), prune=True),
        on_report=lambda report: _print_summary(report, settings.index_dir),
    )


@index_group.command("remove")
@click.argument("doc_id")
@index_dir_option
@friendly_errors
def remove_command(doc_id: str, index_dir: Path | None) -> None:
    """Delete one document (by doc_id) from dense and keyword search."""
    load_assistant(command_settings(index_dir=index_dir)).remove_document(doc_id)
    click.echo(f"Removed {doc_id}.")


@index_group.command("sets")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@friendly_errors
def sets_command(index_dir: Path | None, as_json: bool) -> None:
    """List the document sets with how many documents each holds."""
    snapshot = load_assistant(command_settings(index_dir=index_dir)).snapshot()
    counts = snapshot.set_counts() if snapshot is not None else {}
    if as_json:
        click.echo(json.dumps(counts, indent=2))
        return
    for name, count in counts.items():
        click.echo(f"{name}\t{count}")
