"""Which documents a request was given: the core reports them here, one audit line logs them.

The list lives in a context variable set per request (the server's middleware, an MCP tool
call, a Slack answer); it follows the request into the thread pool (Starlette copies the
context, so the one list is shared), and outside a request (the CLI) nothing is collected.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from assistant.observability.logs import FIELDS

audit_log = logging.getLogger("assistant.audit")

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


def write_audit(key: str | None, method: str, route: str, status: int | str, doc_ids: list[str]) -> None:
    """One structured line: key name (None when no key was accepted; never the key), what was
    called, its status and each document returned once, in the order first returned."""
    fields: dict[str, object] = {"key": key, "method": method, "route": route, "status": status}
    fields["doc_ids"] = list(dict.fromkeys(doc_ids))
    audit_log.info("%s %s %s", method, route, status, extra={FIELDS: fields})


@contextmanager
def audited(key: str | None, method: str, route: str) -> Iterator[None]:
    """The audit line of a call outside HTTP (an MCP tool, a Slack answer): status "ok", or
    "error" when the block raised."""
    status = "error"
    with collecting() as doc_ids:
        try:
            yield
            status = "ok"
        finally:
            write_audit(key, method, route, status, doc_ids)
