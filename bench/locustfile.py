"""Locust users for bench/load_locust.py: each asks `POST /ask` with the next bench question.

Settings come from the environment (locust runs this file in its own process):
BENCH_QUESTIONS (a JSON file of questions) and BENCH_USER_RATE (requests per second per user;
0 = closed loop, the next question as soon as the answer arrives). A 503 (load shed) is
reported under its own name, `/ask 503`, so the admitted answers' latency stays separate.
A closed-loop user waits the 503's `Retry-After` before its next question, as the official
clients do (the `openai` client's retries, for one); a paced user keeps its pace, ignoring it:
the worst case of clients that retry on their own schedule.
"""

from __future__ import annotations

import itertools
import json
import os
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, constant_throughput, task

QUESTIONS = json.loads(Path(os.environ["BENCH_QUESTIONS"]).read_text(encoding="utf-8"))
_NEXT = itertools.count()
_RATE = float(os.environ.get("BENCH_USER_RATE", "0"))


class Asker(FastHttpUser):
    wait_time = constant_throughput(_RATE) if _RATE > 0 else constant(0)
    network_timeout = 60.0
    connection_timeout = 10.0

    @task
    def ask(self) -> None:
        question = QUESTIONS[next(_NEXT) % len(QUESTIONS)]
        with self.client.post("/ask", json={"question": question}, catch_response=True) as response:
            if response.status_code == 503 and response.headers.get("Retry-After"):
                response.request_meta["name"] = "/ask 503"
                response.success()
                if _RATE <= 0:
                    gevent.sleep(float(response.headers["Retry-After"]))
            elif response.status_code != 200:
                response.failure(f"HTTP {response.status_code}")
