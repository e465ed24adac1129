"""Text and the small safe HTML subset of correspondence: plain text to paragraphs, staff HTML sanitised by nh3.

Staff write plain text, or paragraphs, bold, italic, lists and line breaks; nothing else survives `nh3.clean`
(no attribute, no link, no style, no script). The text part of a message is derived from the same source.
"""

from __future__ import annotations

import html
import re

import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {"p", "br", "strong", "b", "em", "i", "ul", "ol", "li"}
_TAG = re.compile(r"<[a-zA-Z/!]")
_BLANK = re.compile(r"\n\s*\n")


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text or ""))


def sanitize(fragment: str) -> str:
    """Keep only the safe subset (paragraphs, bold, italic, lists, line breaks); drop the rest, keep its text."""
    return nh3.clean(fragment or "", tags=ALLOWED_TAGS, attributes={}, strip_comments=True,
                     clean_content_tags={"script", "style"}, link_rel=None)


def text_to_html(text: str, *, escaped: bool = False) -> str:
    """Plain text as paragraphs (blank line) and line breaks; `escaped` when the text is already HTML-escaped."""
    body = (text or "").replace("\r\n", "\n").strip()
    if not body:
        return ""
    source = body if escaped else str(escape(body))
    paragraphs = [p.strip("\n") for p in _BLANK.split(source) if p.strip()]
    return sanitize("".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs))


def html_to_text(fragment: str) -> str:
    """The text part of a sanitised fragment: paragraphs separated by a blank line, list items with a dash."""
    text = re.sub(r"<br\s*/?>", "\n", fragment or "")
    text = re.sub(r"<li>", "- ", text)
    text = re.sub(r"</(p|ul|ol)>", "\n\n", text)
    text = re.sub(r"</li>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def staff_body(source: str) -> tuple[str, str]:
    """(text, sanitised html) of what staff typed: plain text, or the safe HTML subset."""
    if looks_like_html(source):
        clean = sanitize(source)
        return html_to_text(clean), clean
    return (source or "").strip() + "\n", text_to_html(source)


def as_markup(fragment: str | None) -> Markup:
    """A fragment already sanitised here, for a page template (sanitised again: cheap, and never trusted)."""
    return Markup(sanitize(fragment or ""))
