"""The peer of the load figure: a FastAPI service around the plain LangChain pipeline.

    python -m bench.peer_service --index DIR --port PORT

What a user would write in a few lines: the FAISS store that `bench.baseline_langchain build`
saved (same bundled model, HuggingFaceEmbeddings), `POST /ask {"question"}` answering with
`similarity_search(k=5)`'s passages, served by uvicorn (one process, FastAPI's thread pool).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bench.baseline_langchain import load_store
from bench.common import BASELINE_K


class Question(BaseModel):
    question: str


def make_app(index: Path) -> Any:
    from fastapi import FastAPI

    store = load_store(index)
    store.similarity_search("warm up the model", k=BASELINE_K)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ask")
    def ask(body: Question) -> dict[str, Any]:
        docs = store.similarity_search(body.question, k=BASELINE_K)
        return {"passages": [{"text": d.page_content, "source": d.metadata.get("source")} for d in docs]}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(make_app(args.index), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
