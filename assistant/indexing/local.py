"""Run the prepare and embed steps of a build in this process."""

from __future__ import annotations

from collections.abc import Iterator

from assistant.embedding import Embedder
from assistant.indexing.pipeline import DOCS_PER_BATCH, EmbeddedBatch, Job, embed_batch, prepare_or_reason
from assistant.settings import Settings


def run_local(jobs: list[Job], settings: Settings, embedder: Embedder) -> Iterator[EmbeddedBatch]:
    """Prepare and embed in this process, DOCS_PER_BATCH files at a time."""
    for start in range(0, len(jobs), DOCS_PER_BATCH):
        batch = jobs[start : start + DOCS_PER_BATCH]
        yield embed_batch(embedder, batch, [prepare_or_reason(job, settings) for job in batch])
