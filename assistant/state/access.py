"""Who is asking and which document sets it may read: one rule for every front end.

The HTTP API maps a bearer key to a caller, the MCP server its configured key, the Slack bot a
channel; each then narrows its search filters with `narrow`, which never widens them.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from assistant.errors import RevokedKeyError
from assistant.models import SearchFilters
from assistant.settings import Settings, split_set_names
from assistant.state.keys import KeyStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: a key's name (never the key) and the sets it may read (None: all)."""

    name: str
    sets: list[str] | None


ADMIN = Caller("admin", None)


def public_caller(settings: Settings) -> Caller:
    """A caller without a key: the sets of ASSISTANT_PUBLIC_SETS."""
    return Caller("public", split_set_names(settings.public_sets))


def key_caller(settings: Settings, keys: KeyStore, key: str) -> Caller | None:
    """The caller a key stands for: admin for ASSISTANT_API_KEY, a scoped key's name and sets,
    None for a key nobody issued. A revoked key raises RevokedKeyError.

    Looked up on every call, so a revoked key is refused at once."""
    expected = settings.api_key
    if expected is not None and hmac.compare_digest(
        key.encode("utf-8"), expected.get_secret_value().encode("utf-8")
    ):
        return ADMIN
    found = keys.lookup(key)
    if found is None:
        return None
    if found.revoked_at is not None:
        log.warning("refused the revoked key %r", found.name)
        raise RevokedKeyError(f"the key {found.name!r} was revoked")
    return Caller(found.name, None if found.admin else list(found.sets))


def narrow(filters: SearchFilters | None, caller: Caller) -> SearchFilters | None:
    """The request's filters narrowed to the caller's sets (a set it names outside them is dropped)."""
    if caller.sets is None:
        return filters
    wanted = filters.sets if filters is not None and filters.sets is not None else caller.sets
    sets = [name for name in wanted if name in caller.sets]
    return (filters or SearchFilters()).model_copy(update={"sets": sets})


def visible_sets(counts: dict[str, int], caller: Caller) -> dict[str, int]:
    """Set name -> documents, for the sets the caller may read (all of them for an admin)."""
    allowed = list(counts) if caller.sets is None else caller.sets
    return {name: counts.get(name, 0) for name in sorted(allowed)}
