"""Domain exceptions: the core raises these; each front end turns them into its own kind of message."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic_core import ErrorDetails


class AssistantError(Exception):
    """Base class for every error a user can cause or fix."""


class IndexNotFoundError(AssistantError):
    """No index exists at the given directory."""


class IndexCorruptError(AssistantError):
    """The index exists but cannot be read; the fix is a rebuild."""


class ModelMismatchError(AssistantError):
    """The index was built with a different embedding model or dimension."""


class InvalidQuestionError(AssistantError):
    """The question is empty, too long or otherwise unusable."""


class DocumentNotFoundError(AssistantError):
    """No document with that doc_id is in the index."""


class LoadError(AssistantError):
    """A file could not be turned into a document (unsupported, corrupt, encrypted, empty...)."""


class IndexBusyError(AssistantError):
    """Another process holds the index write lock."""


class ModelLoadError(AssistantError):
    """The embedding model cannot be loaded (wrong name or path, or it needs a hub we cannot reach)."""


class IndexWriteError(AssistantError):
    """A new snapshot could not be written (disk full, I/O error); the live index is unchanged."""


class IndexVersionError(AssistantError):
    """The index was written by an older or newer version of the format than this one reads."""


class UnsupportedFileTypeError(LoadError):
    """The file's type is not one the loaders read."""


class FileTooLargeError(LoadError):
    """The file is over the configured size limit."""


class InvalidFeedbackError(AssistantError, ValueError):
    """A feedback record is malformed (unknown rating, text over its limit...)."""


class StateVersionError(AssistantError):
    """A state database (feedback, jobs, Slack de-duplication) is from a newer version."""


class RevokedKeyError(AssistantError):
    """The key was revoked with `assistant keys revoke`."""


class ConfigError(AssistantError):
    """A setting (environment variable, .env line or option) has an unusable value."""


#: pydantic error types whose stock wording ("Input should be a valid integer, unable to ...")
#: says more than a person needs
_PLAIN_WORDING = {
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_parsing": "must be a number",
    "bool_parsing": "must be true or false",
}
_MAX_SHOWN_VALUE = 40


def config_error(exc: ValueError) -> ConfigError:
    """Turn Settings' validation failure into a ConfigError naming each variable and what to fix.

    Takes pydantic's ValidationError, or pydantic-settings' SettingsError (a list-valued
    variable that is not JSON). Secret values are never echoed.
    """
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        return ConfigError("; ".join(_describe_setting(error) for error in exc.errors()))
    # pydantic-settings names the field only in its message:
    # 'error parsing value for field "cors_origins" from source "EnvSettingsSource"'
    found = re.search(r'field "(\w+)"', str(exc))
    name = _env_name((found.group(1),)) if found else "a list-valued setting"
    return ConfigError(f'{name}: must be a JSON list, for example ["a", "b"]')


def _env_name(loc: tuple[int | str, ...]) -> str:
    return "ASSISTANT_" + "_".join(str(part) for part in loc).upper()


def _is_secret(loc: tuple[int | str, ...]) -> bool:
    from pydantic import SecretStr

    from assistant.settings import Settings

    field = Settings.model_fields.get(str(loc[0])) if loc else None
    return field is None or SecretStr in getattr(field.annotation, "__args__", (field.annotation,))


def _describe_setting(error: ErrorDetails) -> str:
    name = _env_name(tuple(error["loc"]))
    message = _PLAIN_WORDING.get(error["type"]) or error["msg"]
    message = message.removeprefix("Value error, ").replace("Input should be", "must be")
    value = error.get("input")
    if _is_secret(error["loc"]) or not isinstance(value, str | int | float):
        return f"{name}: {message}"
    shown = str(value)
    if len(shown) > _MAX_SHOWN_VALUE:
        shown = shown[:_MAX_SHOWN_VALUE] + "..."
    return f"{name}={shown}: {message}"


def user_message(exc: AssistantError) -> str:
    """The one-line message a person sees for any domain error (CLI, Slack, HTTP error bodies)."""
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
