"""The service's Prometheus metrics, defined once; every process records into these.

With `PROMETHEUS_MULTIPROC_DIR` set (several uvicorn workers), prometheus-client keeps each
process's values in files there and `render()` merges them, so one scrape sees every worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from assistant.models import Answer

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Milliseconds-scale work measured in seconds, as Prometheus expects.
_FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BUILD_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

REQUEST_SECONDS = Histogram(
    "assistant_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code",
    ["route", "method", "status"],
    buckets=_FAST_BUCKETS,
)
ANSWERS = Counter("assistant_answers_total", "Answers given, by outcome", ["outcome"])
STAGE_SECONDS = Histogram(
    "assistant_answer_stage_duration_seconds",
    "Time spent per answer stage (retrieve, compose)",
    ["stage"],
    buckets=_FAST_BUCKETS,
)
INDEX_DOCUMENTS = Gauge(
    "assistant_index_documents", "Documents in the served index", multiprocess_mode="livemostrecent"
)
INDEX_CHUNKS = Gauge(
    "assistant_index_chunks", "Chunks in the served index", multiprocess_mode="livemostrecent"
)
BUILD_SECONDS = Histogram(
    "assistant_index_build_duration_seconds",
    "Index build durations, failed ones included",
    buckets=_BUILD_BUCKETS,
)
SHED_REQUESTS = Counter(
    "assistant_shed_requests_total",
    "Question requests refused with 503 at the admission bound (not in the request histogram)",
)
BUILD_FAILURES = Counter("assistant_index_build_failures_total", "Index builds that raised")
SLACK_EVENTS = Counter(
    "assistant_slack_events_total",
    "Slack events and messages, handled or dropped as repeats",
    ["kind", "result"],
)

Outcome = Literal["answered", "tentative", "abstained"]
STAGES = ("retrieve", "compose")


def answer_outcome(answer: Answer) -> Outcome:
    """The one place an answer's outcome label is decided (a new tier is one more branch here)."""
    if answer.abstained:
        return "abstained"
    if answer.tentative:
        return "tentative"
    return "answered"


def observe_answer(answer: Answer) -> None:
    """Count the answer's outcome and record its retrieval and compose time."""
    ANSWERS.labels(outcome=answer_outcome(answer)).inc()
    for stage in STAGES:
        ms = answer.timings_ms.get(stage)
        if ms is not None:
            STAGE_SECONDS.labels(stage=stage).observe(ms / 1000.0)


def set_index_size(documents: int, chunks: int) -> None:
    INDEX_DOCUMENTS.set(documents)
    INDEX_CHUNKS.set(chunks)


@contextmanager
def build_timer() -> Iterator[None]:
    """Time one index build; a build that raises is counted as a failure too."""
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        BUILD_FAILURES.inc()
        raise
    finally:
        BUILD_SECONDS.observe(time.perf_counter() - started)


def count_slack_event(kind: str, handled: bool) -> None:
    """`kind`: "event" (Slack's delivery, retries share its id) or "message" (the bot's reply)."""
    SLACK_EVENTS.labels(kind=kind, result="handled" if handled else "deduplicated").inc()


def render() -> bytes:
    """The text exposition of every metric: this process's, or all workers' in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (uvicorn and gunicorn worker exit hooks call this)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
