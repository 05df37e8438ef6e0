"""Errors of the eval suite; all are AssistantErrors so the CLI shows them as one-line messages."""

from __future__ import annotations

from assistant.errors import AssistantError


class EvalError(AssistantError):
    """Something the user can fix in an evaluation's inputs (gold set, report, dataset)."""


class GoldSetError(EvalError):
    """The gold set cannot be used as it is; the message lists what to fix."""
