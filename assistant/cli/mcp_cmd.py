"""`assistant mcp`: a Model Context Protocol server over stdio (or streamable HTTP with --http)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option, load_assistant

DEFAULT_MCP_PORT = 8001
MCP_PATH = "/mcp"


@click.command("mcp")
@index_dir_option
@click.option("--http", "use_http", is_flag=True, help=f"Serve streamable HTTP at {MCP_PATH}, not stdio.")
@click.option("--host", default=None, help="With --http: address to listen on [default: ASSISTANT_HOST].")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_MCP_PORT,
    show_default=True,
    help="With --http: port to listen on.",
)
@click.option(
    "--allow-indexing",
    is_flag=True,
    help="Add the index_documents tool (read-only without it); it indexes only inside the corpus folders.",
)
@click.option(
    "--corpus-dir",
    "corpus_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="A folder index_documents may read (repeatable) [default: ASSISTANT_CORPUS_DIR].",
)
@friendly_errors
def mcp_command(
    index_dir: Path | None,
    use_http: bool,
    host: str | None,
    port: int,
    allow_indexing: bool,
    corpus_dirs: tuple[Path, ...],
) -> None:
    """Serve ask, search, get_document and list_documents as MCP tools for agents.

    Over stdio by default, as Claude Desktop and Claude Code start it; nothing but the protocol
    is written to stdout.
    """
    from assistant.core import Assistant
    from assistant.mcp import build_server

    settings = command_settings(index_dir=index_dir, host=host)
    # Over stdio, stdout is the protocol: anything a library prints while loading goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        if allow_indexing:  # may start from an empty index and fill it from the corpus
            assistant = Assistant.open_or_create(settings.index_dir, settings=settings)
        else:
            assistant = load_assistant(settings)
        assistant.embed_query("warm up")  # load the model now, not during the first tool call
    server = build_server(
        assistant,
        allow_indexing=allow_indexing,
        corpus_dirs=list(corpus_dirs) or [settings.corpus_dir],
        public_url=settings.public_url,
    )
    if use_http:
        click.echo(f"MCP over streamable HTTP at http://{settings.host}:{port}{MCP_PATH}", err=True)
        server.run("streamable-http", host=settings.host, port=port, streamable_http_path=MCP_PATH)
    else:
        server.run("stdio")
