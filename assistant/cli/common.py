"""Pieces every CLI command shares: options backed by env vars and the error translation."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError
from pydantic_settings import SettingsError

from assistant.errors import AssistantError, config_error, user_message

if TYPE_CHECKING:
    from assistant.core import Assistant
    from assistant.settings import Settings

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
    """Turn domain errors into a one-line message and exit code 1; no tracebacks for user mistakes.

    A Settings validation failure that reaches here (a bad ASSISTANT_* value) is a ConfigError.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            raise click.ClickException(user_message(exc)) from exc
        except (ValidationError, SettingsError) as exc:
            if isinstance(exc, ValidationError) and exc.title != "Settings":
                raise
            raise click.ClickException(user_message(config_error(exc))) from exc

    return wrapper  # type: ignore[return-value]


def command_settings(**options: Any) -> Settings:
    """The one Settings object a command uses: the environment (and .env) with the command's
    own options on top (None means "not given"), so `--index-dir` and ASSISTANT_INDEX_DIR can
    never disagree inside a command. A bad value is a ConfigError naming the variable."""
    from assistant.settings import Settings

    try:
        return Settings(**{name: value for name, value in options.items() if value is not None})
    except (ValidationError, SettingsError) as exc:
        raise config_error(exc) from None


def load_assistant(settings: Settings) -> Assistant:
    """Open the existing index at `settings.index_dir` (IndexNotFoundError naming the build command)."""
    from assistant.core import Assistant

    return Assistant.load(settings.index_dir, settings=settings)
