"""Which documents a request was given: the core reports them here, the server logs them once.

The list lives in a context variable the server's middleware sets per request; it follows the
request into the thread pool (Starlette copies the context, so the one list is shared), and
outside a request (CLI, MCP, Slack) nothing is collected.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_RETURNED: ContextVar[list[str] | None] = ContextVar("returned_doc_ids", default=None)


def returned(doc_ids: Iterable[str]) -> None:
    """Note documents handed to the caller (a no-op outside a collected request)."""
    found = _RETURNED.get()
    if found is not None:
        found.extend(doc_ids)


@contextmanager
def collecting() -> Iterator[list[str]]:
    """Collect the doc_ids reported while the block runs (in order, repeats included)."""
    found: list[str] = []
    token = _RETURNED.set(found)
    try:
        yield found
    finally:
        _RETURNED.reset(token)
