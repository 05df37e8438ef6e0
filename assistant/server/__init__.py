"""The HTTP service: `create_app(settings, assistant=None)` builds the FastAPI app."""

from __future__ import annotations

from assistant.server.app import create_app

__all__ = ["create_app"]
