"""`assistant keys create|list|revoke`: scoped API keys, each limited to some document sets."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.cli.common import command_settings, friendly_errors, index_dir_option
from assistant.state.keys import KeyStore, parse_sets


def _store(index_dir: Path | None) -> KeyStore:
    return KeyStore.for_index(command_settings(index_dir=index_dir).index_dir)


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys scoped to document sets."""


@keys_group.command("create")
@click.argument("name")
@click.option("--sets", "sets", default="", metavar="A,B", help="The document sets the key may see.")
@click.option("--admin", is_flag=True, help="Every set, uploads and deletes (like ASSISTANT_API_KEY).")
@index_dir_option
@friendly_errors
def create_command(name: str, sets: str, admin: bool, index_dir: Path | None) -> None:
    """Create a key and print it once (only its hash is stored)."""
    key = _store(index_dir).create(name, parse_sets(sets), admin=admin)
    click.echo(key)
    click.echo(f"Key {name!r} created; store it now, it is not shown again.", err=True)


@keys_group.command("list")
@index_dir_option
@friendly_errors
def list_command(index_dir: Path | None) -> None:
    """Every key's name, sets, role and state (never the key)."""
    for key in _store(index_dir).list():
        role = "admin" if key.admin else ",".join(key.sets)
        state = f"revoked {key.revoked_at}" if key.revoked_at else "active"
        click.echo(f"{key.name}\t{role}\t{state}\tcreated {key.created_at}")


@keys_group.command("revoke")
@click.argument("name")
@index_dir_option
@friendly_errors
def revoke_command(name: str, index_dir: Path | None) -> None:
    """Revoke a key by name: the server refuses it from the next request on."""
    if not _store(index_dir).revoke(name):
        raise click.ClickException(f"no active key named {name!r}; see `assistant keys list`")
    click.echo(f"Revoked {name}.")
