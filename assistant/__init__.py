"""Offline retrieval-augmented Q&A with verifiable, cited answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.models import Answer, Citation, Passage, SearchFilters
from assistant.settings import Settings

if TYPE_CHECKING:
    from assistant.core import Assistant

__all__ = ["Answer", "Assistant", "Citation", "Passage", "SearchFilters", "Settings"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import assistant` (and the CLI's --help) does not pay for FAISS and numpy.
    if name == "Assistant":
        from assistant.core import Assistant

        return Assistant
    raise AttributeError(name)
