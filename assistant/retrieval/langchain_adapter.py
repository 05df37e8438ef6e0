"""A LangChain BaseRetriever over the assistant, so LangChain chains can use our hybrid search."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever


class AssistantRetriever(BaseRetriever):
    """Returns `Document`s whose metadata carries doc_id, chunk_id, offsets, title and score.

    `top_k` (passages per query) is set at construction and can be overridden per call:
    `retriever.invoke(query, top_k=3)`, as LangChain's standard retriever tests expect.
    """

    assistant: Any
    top_k: int = 5

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, top_k: int | None = None
    ) -> list[Document]:
        passages = self.assistant.search(query, top_k=self.top_k if top_k is None else top_k)
        return [
            Document(page_content=p.text, metadata=p.model_dump(exclude={"text"}), id=p.chunk_id)
            for p in passages
        ]
