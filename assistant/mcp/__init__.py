"""Model Context Protocol front end: the Assistant as tools for agents (`assistant mcp`)."""

from assistant.mcp.server import build_server

__all__ = ["build_server"]
