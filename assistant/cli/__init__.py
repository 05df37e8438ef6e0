"""The `assistant` command: one click group, one module per command."""

from __future__ import annotations

import logging
import os

import click

from assistant.cli.ask_cmd import ask_command
from assistant.cli.eval_cmd import eval_group
from assistant.cli.index_cmd import index_group
from assistant.cli.keys_cmd import keys_group
from assistant.cli.mcp_cmd import mcp_command
from assistant.cli.serve_cmd import serve_command
from assistant.cli.slack_cmd import slack
from assistant.cli.sources_cmd import sources_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log progress details to stderr.")
def main(verbose: bool) -> None:
    """Index documents and answer questions with cited, verifiable answers."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


main.add_command(index_group)
main.add_command(ask_command)
main.add_command(slack)
main.add_command(eval_group)
main.add_command(serve_command)
main.add_command(mcp_command)
main.add_command(sources_group)
main.add_command(keys_group)
