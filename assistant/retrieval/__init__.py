"""Retrieval over a read view: hybrid dense + keyword search and its LangChain adapter."""
