"""Run the prepare and embed steps of a build on Ray Data; the driver still writes the store.

Loading and chunking run as Ray tasks, embedding in a pool of actors that each load the model
once. Outcomes come back to the driver, are put back in file order and written through the
Store Protocol by `build_index`, so doc ids, offsets and incrementality are those of a local
build. A file that fails becomes a skip reason, never an exception that stops the job.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.embedding import DocumentEmbedder, Embedder
from assistant.errors import ConfigError, IndexWriteError
from assistant.indexing.pipeline import EmbeddedBatch, Job, Outcome, embed_batch, prepare_or_reason
from assistant.settings import Settings

log = logging.getLogger(__name__)

#: files per actor call: small enough that a retried call redoes little and actors share the work
EMBED_FILES_PER_CALL = 32
#: the object store of a private ("local") cluster: outcomes stream through it, they do not pile up
LOCAL_OBJECT_STORE_BYTES = 300 * 1024 * 1024
#: CPU shares Ray schedules by (declared, not measured): the actors must leave room for the
#: load-and-chunk tasks, or the tasks wait forever for a core the idle actors hold
PREPARE_CPUS = 0.25
EMBED_ACTOR_CPUS = 0.75


def _ray() -> Any:
    """Import ray, or say which extra to install."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError('indexing on Ray needs the ray extra: pip install "assistant[ray]"') from exc
    return ray


def connect(address: str) -> None:
    """Join (or, for "local", start) a Ray cluster: no usage stats, no dashboard, capped memory."""
    ray = _ray()
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.WARNING}
    if address == "local":
        ray.init(object_store_memory=LOCAL_OBJECT_STORE_BYTES, **options)
    else:
        try:
            ray.init(address=address, **options)
        except ConnectionError as exc:
            raise ConfigError(
                f"cannot reach the Ray cluster at '{address}' ({exc}); start it with `ray start --head`, "
                "or use --ray local for a private one"
            ) from exc


def _prepare_row(row: dict[str, Any], settings: Settings) -> dict[str, Any]:
    job: Job = pickle.loads(row["job"])
    return {"row": row["row"], "job": row["job"], "prepared": pickle.dumps(prepare_or_reason(job, settings))}


class EmbedActor:
    """Holds one embedder for its lifetime and embeds batches of prepared files."""

    def __init__(self, settings: Settings) -> None:
        self.embedder: Embedder = DocumentEmbedder(settings)
        self.pid = os.getpid()
        log.info("embedding actor %d ready", self.pid)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        jobs: list[Job] = [pickle.loads(b) for b in batch["job"]]
        prepared = [pickle.loads(b) for b in batch["prepared"]]
        try:
            embedded = embed_batch(self.embedder, jobs, prepared)
        except Exception:  # one bad file must not fail the call: embed file by file to find it
            log.exception("embedding a batch failed; retrying its files one by one")
            embedded = self._one_by_one(jobs, prepared)
        texts = [0] * len(jobs)
        texts[0] = embedded.texts
        return {
            "row": batch["row"],
            "outcome": [pickle.dumps(outcome) for outcome in embedded.outcomes],
            "texts": texts,
            "mode": [embedded.mode or ""] * len(jobs),
        }

    def _one_by_one(self, jobs: list[Job], prepared: list[Any]) -> EmbeddedBatch:
        out = EmbeddedBatch([])
        for job, item in zip(jobs, prepared, strict=True):
            try:
                single = embed_batch(self.embedder, [job], [item])
            except Exception as exc:  # reported as a skipped file, like a file that cannot be loaded
                single = EmbeddedBatch([(job, f"cannot embed: {exc}")])
            out.outcomes.extend(single.outcomes)
            out.texts += single.texts
            out.mode = single.mode or out.mode
        return out


def _workers(ray: Any, settings: Settings) -> int:
    if settings.ray_workers is not None:
        return settings.ray_workers
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def run_on_ray(jobs: list[Job], settings: Settings, embedder: Embedder) -> Iterator[EmbeddedBatch]:
    """The Ray build path: outcomes in job order, as they arrive (`embedder` stays on the driver)."""
    if not jobs:
        return
    assert settings.ray_address is not None
    connect(settings.ray_address)
    ray = _ray()
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the caller shows progress per file
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset on the console
    workers = _workers(ray, settings)
    log.info("indexing %d files on Ray with %d embedding actors", len(jobs), workers)
    rows = [{"row": i, "job": pickle.dumps(job)} for i, job in enumerate(jobs)]
    dataset = (
        ray.data.from_items(rows, override_num_blocks=min(len(rows), 8 * workers))
        .map(_prepare_row, fn_kwargs={"settings": settings}, num_cpus=PREPARE_CPUS)
        .map_batches(
            EmbedActor,
            fn_constructor_kwargs={"settings": settings},
            batch_size=EMBED_FILES_PER_CALL,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=EMBED_ACTOR_CPUS,
            max_restarts=-1,
            max_task_retries=-1,
        )
    )
    yield from _in_order(dataset.iter_batches(batch_size=None, batch_format="numpy"), len(jobs))


def _in_order(batches: Iterator[dict[str, np.ndarray]], total: int) -> Iterator[EmbeddedBatch]:
    """Put outcomes back in job order, so doc ids are given exactly as a local build gives them."""
    waiting: dict[int, tuple[Outcome, int, str]] = {}
    next_row = 0
    for batch in batches:
        for row, outcome, texts, mode in zip(
            batch["row"], batch["outcome"], batch["texts"], batch["mode"], strict=True
        ):
            waiting[int(row)] = (pickle.loads(outcome), int(texts), str(mode))
        ready: list[Outcome] = []
        texts_done, mode_seen = 0, None
        while next_row in waiting:
            outcome, texts, mode = waiting.pop(next_row)
            ready.append(outcome)
            texts_done += texts
            mode_seen = mode or mode_seen
            next_row += 1
        if ready:
            yield EmbeddedBatch(ready, texts_done, mode_seen)
    if next_row != total:
        raise IndexWriteError(f"the Ray job returned {next_row} of {total} files")
