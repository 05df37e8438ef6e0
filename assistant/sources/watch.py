"""Watch folders and re-sync them when files change (watchfiles: debounced, rename aware).

A sync lists the whole folder and compares content hashes, so an atomic save (write a temp
file, rename it over the old one), a rename or a delete needs no event bookkeeping: any burst
of events means "sync now". A file caught mid-write (its bytes changed while read) is skipped
by the sync and retried after RETRY_SECONDS even if no further event arrives.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from assistant.errors import ConfigError
from assistant.models import IndexReport
from assistant.sources.protocol import RETRIED

log = logging.getLogger(__name__)

#: quiet time (ms) after the last event before a burst is handed over: one save, one sync
STEP_MS = 150
#: longest a burst of events is grouped (ms), so a long copy still syncs as it goes
DEBOUNCE_MS = 1500
#: when a file was caught mid-write, sync again after this many seconds
RETRY_SECONDS = 1.0


class _DocumentFilter(DefaultFilter):
    """Ignore hidden entries and editor backups (`.file.swp`, `file~`): they are never indexed."""

    def __call__(self, change: Change, path: str) -> bool:
        name = Path(path).name
        return super().__call__(change, path) and not name.startswith(".") and not name.endswith("~")


def needs_retry(report: IndexReport) -> bool:
    """Whether a sync skipped an item that was changing while it was read."""
    return any(RETRIED in item.reason for item in report.skipped)


def watch_folders(
    paths: Sequence[Path],
    sync: Callable[[], IndexReport],
    stop: threading.Event | None = None,
    on_report: Callable[[IndexReport], None] | None = None,
) -> None:
    """Sync once, then after every burst of changes under `paths`, until `stop` is set."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise ConfigError(f"cannot watch {', '.join(missing)}: no such file or folder")
    retry = _run(sync, on_report)
    for changes in watch(
        *paths,
        watch_filter=_DocumentFilter(),
        debounce=DEBOUNCE_MS,
        step=STEP_MS,
        stop_event=stop,
        rust_timeout=int(RETRY_SECONDS * 1000),
        yield_on_timeout=True,
        raise_interrupt=False,
    ):
        if changes or retry:
            log.info("%d change(s) under %s: syncing", len(changes), ", ".join(map(str, paths)))
            retry = _run(sync, on_report)


def _run(sync: Callable[[], IndexReport], on_report: Callable[[IndexReport], None] | None) -> bool:
    """One sync; a failed one is logged and retried, so the watcher outlives a bad moment."""
    try:
        report = sync()
    except Exception:  # the watcher keeps the last good index and tries again
        log.exception("sync failed; retrying in %.1f s", RETRY_SECONDS)
        return True
    if on_report is not None:
        on_report(report)
    return needs_retry(report)
