"""What an operator watches: Prometheus metrics and JSON logs with a request id.

Below the core in the layers, so the core, the indexer and every front end record into the same
metrics without importing each other.
"""
