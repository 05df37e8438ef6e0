"""`assistant serve`: the HTTP API and web UI (and Slack events when configured)."""

from __future__ import annotations

import logging
import os
import socket
import sys
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
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Serving processes sharing the index on disk [default: 1; ASSISTANT_WORKERS].",
)
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
    workers: int | None,
    build: bool,
    watch_paths: tuple[Path, ...],
    sync_every: float | None,
) -> None:
    """Serve the API (OpenAPI at /docs) and the web UI, printing the address to open."""
    import uvicorn
    from uvicorn.config import LOGGING_CONFIG

    from assistant.core import Assistant
    from assistant.observability.logs import use_json_logs
    from assistant.server import create_app

    settings = command_settings(host=host, port=port, index_dir=index_dir, workers=workers)
    assistant = Assistant.open_or_create(settings.index_dir, settings=settings)
    if build and assistant.snapshot() is None:
        click.echo(f"No index in {settings.index_dir} yet; indexing {settings.corpus_dir} ...")
        report = assistant.index_paths([settings.corpus_dir])
        click.echo(f"Indexed {report.documents} documents ({report.chunks} chunks) in {report.seconds:.1f} s")
        for skipped in report.skipped:
            click.echo(f"  skipped {skipped.path}: {skipped.reason}", err=True)
    if settings.workers == 1:
        assistant.embed_query("warm up")  # load the model now, not during the first question
    try:
        app = create_app(settings, assistant)  # checks the configuration before the port is bound
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    sockets = _listen(settings.host, settings.port, settings.workers)
    bound_port = sockets[0].getsockname()[1]
    shown_host = f"[{settings.host}]" if ":" in settings.host else settings.host
    if settings.workers > 1:
        click.echo(f"Starting {settings.workers} worker processes over {settings.index_dir}")
    click.echo(f"Serving on http://{shown_host}:{bound_port}")
    stop = threading.Event()
    if watch_paths:
        _start_watching(assistant, list(watch_paths), stop)
    if sync_every is not None:
        threading.Thread(target=_sync_sources, args=(assistant, sync_every, stop), daemon=True).start()
    json_logs = settings.log_format == "json"
    try:
        if settings.workers == 1:
            log_config = None if json_logs else LOGGING_CONFIG
            config = uvicorn.Config(
                app, log_level="info", timeout_graceful_shutdown=10, log_config=log_config
            )
            if json_logs:
                use_json_logs()
            uvicorn.Server(config).run(sockets=sockets)
        else:
            _serve_workers(settings.workers, settings.index_dir, sockets, json_logs)
    finally:
        stop.set()


def _serve_workers(workers: int, index_dir: Path, sockets: list[socket.socket], json_logs: bool) -> None:
    """Several processes on one port, each building its own app from the factory.

    Each process opens the index from disk, so they share it as files: the vectors are mapped
    read-only, SQLite is read through read-only connections, and a new snapshot (the CURRENT
    file a build rewrites) is picked up by every process at its next request. Metrics go to a
    shared multiprocess folder (PROMETHEUS_MULTIPROC_DIR, a fresh one unless set), so a scrape
    of any worker counts them all.
    """
    import tempfile

    import uvicorn
    from uvicorn.config import LOGGING_CONFIG
    from uvicorn.supervisors.multiprocess import Multiprocess, Process

    class SocketPerWorker(Multiprocess):
        """uvicorn's supervisor, worker i listening on socket i only. With one shared socket the
        worker whose loop woke first accepted a whole burst of connections: 32 keep-alive clients
        could all land on one worker while the other idled (228 answers/s against 319 for a 18/14
        split, bench/RESULTS.md). A worker restarted later listens on every socket."""

        def init_processes(self) -> None:
            own = len(self.sockets) == self.processes_num  # one socket each (SO_REUSEPORT)
            for number in range(self.processes_num):
                process = Process(self.config, [self.sockets[number]] if own else self.sockets)
                process.start()
                self.processes.append(process)

    # The command's options reach the worker processes (spawned, not forked) as the environment.
    os.environ["ASSISTANT_INDEX_DIR"] = str(index_dir)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="assistant-metrics-"))
    config = uvicorn.Config(
        "assistant.server.app:create_app_from_environment",
        factory=True,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=10,
        log_config=None if json_logs else LOGGING_CONFIG,
    )
    SocketPerWorker(config, sockets=sockets).run()


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


def _listen(host: str, port: int, workers: int = 1) -> list[socket.socket]:
    """Bind before printing the address, so the printed port (even for --port 0) is real.

    Several workers on Linux get a socket each on the same port (SO_REUSEPORT): the kernel then
    spreads new connections over them evenly. Elsewhere they share one socket."""
    count = workers if workers > 1 and sys.platform == "linux" and hasattr(socket, "SO_REUSEPORT") else 1
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, kind, proto)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if count > 1:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.set_inheritable(True)
            sockets.append(sock)
            port = sock.getsockname()[1]  # --port 0: the others join the port the first one got
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    return sockets


def _sync_sources(assistant: Assistant, every: float, stop: threading.Event) -> None:
    """Sync the registered sources now and every `every` seconds; a failed sync is retried."""
    while not stop.is_set():
        try:
            assistant.sync_registered()
        except Exception:  # the last good index keeps answering; the next round tries again
            log.exception("syncing the registered sources failed")
        stop.wait(every)
