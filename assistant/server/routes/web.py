"""The web UI: `index.html` at `/`; its assets are mounted at `/static` by the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

WEB_DIR = Path(__file__).resolve().parent.parent / "web"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    """Serve the single-page chat UI."""
    page = WEB_DIR / "index.html"
    if not page.is_file():
        raise HTTPException(404, "The web UI is not installed (assistant/server/web/index.html)")
    return FileResponse(page, media_type="text/html", headers={"Cache-Control": "no-cache"})
