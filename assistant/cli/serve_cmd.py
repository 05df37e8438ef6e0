"""`assistant serve`: the HTTP API and web UI (and Slack events when configured)."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option

if TYPE_CHECKING:
    from assistant.core import Assistant

log = logging.getLogger(__name__)


@click.command("serve")
@click.option("--host", default=None, help="Address to listen on [default: 127.0.0.1; ASSISTANT_HOST].")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on; 0 picks a free one [default: 8000; ASSISTANT_PORT].",
)
@index_dir_option
@click.option(
    "--build/--no-build",
    default=True,
    show_default=True,
    help="Index the corpus folder (ASSISTANT_CORPUS_DIR) first if the index does not exist yet.",
)
@click.option(
    "--watch",
    "watch_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="A folder (or file) to keep in sync while serving; repeat for more.",
)
@click.option(
    "--sync-every",
    type=click.FloatRange(min=1),
    default=None,
    envvar="ASSISTANT_SOURCES_SYNC_SECONDS",
    help="Sync the registered sources (`assistant sources add`) every this many seconds.",
)
@friendly_errors
def serve_command(
    host: str | None,
    port: int | None,
    index_dir: Path | None,
    build: bool,
    watch_paths: tuple[Path, ...],
    sync_every: float | None,
) -> None:
    """Serve the API (OpenAPI at /docs) and the web UI, printing the address to open."""
    import uvicorn

    from assistant.core import Assistant
    from assistant.server import create_app

    settings = command_settings(host=host, port=port, index_dir=index_dir)
    assistant = Assistant.open_or_create(settings.index_dir, settings=settings)
    if build and assistant.snapshot() is None:
        click.echo(f"No index in {settings.index_dir} yet; indexing {settings.corpus_dir} ...")
        report = assistant.index_paths([settings.corpus_dir])
        click.echo(f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.seconds:.1f} s")
        for skipped in report.skipped:
            click.echo(f"  skipped {skipped.path}: {skipped.reason}", err=True)
    assistant.embed_query("warm up")  # load the model now, not during the first question
    try:
        app = create_app(settings, assistant)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    sock = _listen(settings.host, settings.port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    click.echo(f"Serving on http://{shown_host}:{bound_port}")
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", timeout_graceful_shutdown=10))
    stop = threading.Event()
    if watch_paths:
        _start_watching(assistant, list(watch_paths), stop)
    if sync_every is not None:
        threading.Thread(target=_sync_sources, args=(assistant, sync_every, stop), daemon=True).start()
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()


def _start_watching(assistant: Assistant, paths: list[Path], stop: threading.Event) -> None:
    """Keep `paths` in sync from a background thread; answers see each new snapshot at once."""
    from assistant.sources.watch import watch_folders

    click.echo(f"Watching {', '.join(map(str, paths))}")
    thread = threading.Thread(
        target=watch_folders,
        args=(paths, lambda: assistant.index_paths(paths, prune=True), stop),
        name="watch",
        daemon=True,
    )
    thread.start()


def _listen(host: str, port: int) -> socket.socket:
    """Bind before printing the address, so the printed port (even for --port 0) is real."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    sock.set_inheritable(True)
    return sock


def _sync_sources(assistant: Assistant, every: float, stop: threading.Event) -> None:
    """Sync the registered sources now and every `every` seconds; a failed sync is retried."""
    while not stop.is_set():
        try:
            assistant.sync_registered()
        except Exception:  # the last good index keeps answering; the next round tries again
            log.exception("syncing the registered sources failed")
        stop.wait(every)
