"""`assistant sources add|sync|list`: register folders and websites, keep the index in sync."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option
from assistant.sources.registry import SourceStatus


@click.group("sources")
def sources_group() -> None:
    """Register sources (folders, websites) and sync them into the index."""


@sources_group.group("add")
def add_group() -> None:
    """Register a source; `assistant sources sync` indexes it."""


@add_group.command("web")
@click.argument("url")
@click.option("--max-pages", type=click.IntRange(min=1), default=100, show_default=True)
@click.option(
    "--same-host/--any-host",
    default=True,
    show_default=True,
    help="Follow links only within the start URL's host.",
)
@index_dir_option
@friendly_errors
def add_web(url: str, max_pages: int, same_host: bool, index_dir: Path | None) -> None:
    """A website from URL: its sitemap and linked pages, robots.txt obeyed."""
    from assistant.core import Assistant
    from assistant.sources.web import WebSource

    settings = command_settings(index_dir=index_dir)
    status = (
        Assistant.open_or_create(settings.index_dir, settings)
        .sources()
        .add(WebSource(url, max_pages=max_pages, same_host=same_host))
    )
    click.echo(f"Added {status.id}: {status.location}")


@add_group.command("folder")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@index_dir_option
@friendly_errors
def add_folder(paths: tuple[Path, ...], index_dir: Path | None) -> None:
    """Files and folders on disk (vanished files are removed at each sync)."""
    from assistant.core import Assistant
    from assistant.sources import FolderSource

    settings = command_settings(index_dir=index_dir)
    source = FolderSource.of([p.resolve() for p in paths])
    status = Assistant.open_or_create(settings.index_dir, settings).sources().add(source)
    click.echo(f"Added {status.id}: {status.location}")


@sources_group.command("sync")
@click.argument("source_id", required=False)
@index_dir_option
@friendly_errors
def sync_command(source_id: str | None, index_dir: Path | None) -> None:
    """Sync every registered source (or SOURCE_ID). Exits 3 when some items had errors."""
    from assistant.core import Assistant

    settings = command_settings(index_dir=index_dir)
    done = Assistant.open_or_create(settings.index_dir, settings).sync_registered(source_id)
    for status in done:
        _print_status(status)
    if any(s.errors for s in done):
        sys.exit(3)


@sources_group.command("list")
@index_dir_option
@click.option("--json", "as_json", is_flag=True, help="Print the sources as JSON.")
@friendly_errors
def list_command(index_dir: Path | None, as_json: bool) -> None:
    """Each source with its last sync, counts and per-item errors."""
    from assistant.sources.registry import SourceRegistry

    sources = SourceRegistry(command_settings(index_dir=index_dir).index_dir).load()
    if as_json:
        click.echo("[" + ",\n".join(s.model_dump_json(exclude={"config"}) for s in sources) + "]")
        return
    if not sources:
        click.echo("No sources: add one with `assistant sources add web URL` or `... add folder PATH`.")
    for status in sources:
        _print_status(status)


def _print_status(status: SourceStatus) -> None:
    counts = ", ".join(f"{n} {name}" for name, n in status.counts.items()) or "never synced"
    click.echo(
        f"{status.id}  {status.kind}  {status.location}  last sync {status.last_sync or '-'}  ({counts})"
    )
    for error in status.errors:
        click.echo(f"  {error.path}: {error.reason}", err=True)
