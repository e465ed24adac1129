"""Paper: the trail and the register as PDF (WeasyPrint), from the same HTML as their print pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from flask import current_app

# One home for the static files the print pages link (styles only; scripts do not run in a PDF).
_STATIC_PREFIX = "/static/"


def _fetcher(url: str, *args, **kwargs):
    """Serve the page's own stylesheets from app/static; refuse everything else (no network from a PDF)."""
    from weasyprint.urls import URLFetchingError

    path = urlparse(url).path
    if not path.startswith(_STATIC_PREFIX):
        raise URLFetchingError(f"refused: {url}")
    root = Path(current_app.static_folder).resolve()
    target = (root / path[len(_STATIC_PREFIX):]).resolve()
    if root not in target.parents or not target.is_file():
        raise URLFetchingError(f"not found: {url}")
    return {"string": target.read_bytes(), "mime_type": "text/css" if target.suffix == ".css" else None}


def pdf(html: str) -> bytes:
    """An A4 PDF of a print page."""
    from weasyprint import HTML

    return HTML(string=html, base_url="http://local/", url_fetcher=_fetcher).write_pdf()
