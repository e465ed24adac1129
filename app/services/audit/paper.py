"""Paper: the trail and the register as PDF (WeasyPrint), from the same HTML as their print pages."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from flask import current_app

# One home for the static files the print pages link (styles only; scripts do not run in a PDF).
_STATIC_PREFIX = "/static/"


def _static_file(url: str) -> Path:
    """The file under app/static a print page links; ValueError for anything else (no network from a PDF)."""
    path = urlparse(url).path
    if not path.startswith(_STATIC_PREFIX):
        raise ValueError(f"refused: {url}")
    root = Path(current_app.static_folder).resolve()
    target = (root / path[len(_STATIC_PREFIX):]).resolve()
    if root not in target.parents or not target.is_file():
        raise ValueError(f"not found: {url}")
    return target


def _fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        def fetch(self, url, headers=None):
            target = _static_file(url)
            kind = "text/css" if target.suffix == ".css" else "application/octet-stream"
            return URLFetcherResponse(url, body=target.read_bytes(), headers={"Content-Type": kind})

    return StaticOnly()


def pdf(html: str) -> bytes:
    """An A4 PDF of a print page."""
    from weasyprint import HTML

    return HTML(string=html, base_url="http://local/", url_fetcher=_fetcher()).write_pdf()
