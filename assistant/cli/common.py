"""Pieces every CLI command shares: options backed by env vars and the error translation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assistant.errors import AssistantError

if TYPE_CHECKING:
    from assistant.core import Assistant

F = TypeVar("F", bound=Callable[..., Any])

index_dir_option = click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    envvar="ASSISTANT_INDEX_DIR",
    show_envvar=True,
    help="Index directory [default: index/].",
)


def friendly_errors(func: F) -> F:
    """Turn domain errors into a one-line message and exit code 1; no tracebacks for user mistakes."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def load_assistant(index_dir: Path | None, **overrides: Any) -> Assistant:
    """Open an existing index with settings from the environment plus CLI overrides."""
    from assistant.core import Assistant
    from assistant.settings import Settings

    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    return Assistant.load(index_dir or settings.index_dir, settings=settings)
