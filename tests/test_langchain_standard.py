"""LangChain's own standard retriever suite (langchain-tests) against `Assistant.as_retriever()`."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.retrievers import BaseRetriever
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.core import Assistant

#: the suite's coroutine test (ainvoke) runs on anyio's pytest plugin; sync tests ignore the mark
pytestmark = pytest.mark.anyio


class TestAssistantRetrieverStandard(RetrieversIntegrationTests):
    """The suite builds retrievers from `retriever_constructor(**params)`; the params carry the
    session's real index of the sample corpus."""

    assistant: Assistant

    @pytest.fixture(autouse=True)
    def _use_sample_index(self, sample_assistant: Assistant) -> None:
        type(self).assistant = sample_assistant

    @property
    def retriever_constructor(self) -> type[BaseRetriever]:
        return type(self.assistant.as_retriever())

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"assistant": self.assistant}

    @property
    def retriever_query_example(self) -> str:
        return "How long does a refund take?"

    @property
    def num_results_arg_name(self) -> str:
        return "top_k"
