"""Domain exceptions: the core raises these; each front end turns them into its own kind of message."""

from __future__ import annotations


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
