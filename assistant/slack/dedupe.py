"""Bounded, expiring memory of what the bot has already handled, so Slack never gets two answers.

Slack delivers the same message more than once: a retry after a slow acknowledgement carries the
same `event_id`, and a mention inside a channel the bot reads arrives both as `app_mention` and as
`message` (different `event_id`s, same `(channel, ts)`). Both keys are remembered here.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")

# Slack retries three times within about five minutes; an hour also covers slow duplicate paths.
DEFAULT_TTL_SECONDS = 60 * 60
DEFAULT_MAX_ITEMS = 10_000


class TTLMap(Generic[V]):
    """A thread-safe map whose entries expire after `ttl` seconds; the oldest go first when full."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError(f"ttl must be greater than 0. Currently, ttl is {ttl}")
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1. Currently, max_items is {max_items}")
        self._ttl = ttl
        self._max_items = max_items
        self._clock = clock
        self._items: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._items)

    def get(self, key: Hashable) -> V | None:
        """The live value for `key`, or None when absent or expired."""
        with self._lock:
            self._expire(self._clock())
            entry = self._items.get(key)
            return entry[1] if entry is not None else None

    def put(self, key: Hashable, value: V) -> None:
        """Store (or refresh) `key`; evicts the oldest entries beyond `max_items`."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._items.pop(key, None)
            self._items[key] = (now + self._ttl, value)
            self._trim()

    def add_if_absent(self, key: Hashable, value: V) -> bool:
        """Store `key` only if no live entry exists; True when this call stored it (atomic)."""
        with self._lock:
            now = self._clock()
            self._expire(now)
            if key in self._items:
                return False
            self._items[key] = (now + self._ttl, value)
            self._trim()
            return True

    def _expire(self, now: float) -> None:
        # Insertion order equals expiry order because every entry gets the same ttl.
        while self._items:
            key, (expires_at, _) = next(iter(self._items.items()))
            if expires_at > now:
                break
            del self._items[key]

    def _trim(self) -> None:
        while len(self._items) > self._max_items:
            self._items.popitem(last=False)


class Deduplicator:
    """Remembers `event_id`s and `(channel, ts)` pairs; a `claim_*` is True only the first time."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_items: int = DEFAULT_MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._events: TTLMap[bool] = TTLMap(ttl, max_items, clock)
        self._messages: TTLMap[bool] = TTLMap(ttl, max_items, clock)

    def claim_event(self, event_id: str) -> bool:
        """True the first time an Events API `event_id` is seen (retries reuse the id)."""
        return self._events.add_if_absent(event_id, True)

    def claim_message(self, channel: str, ts: str) -> bool:
        """True the first time the bot decides to answer the message `(channel, ts)`."""
        return self._messages.add_if_absent((channel, ts), True)
