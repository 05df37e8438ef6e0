"""Benchmarks: ours against the plain LangChain pipeline, measured in the same run (see README.md)."""
