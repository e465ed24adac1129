"""Walk every same-site page a signed-in user can reach (GET links only) and collect their visible text."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin, urlsplit

# Links that are files, actions or exports, not pages to read.
SKIP = re.compile(r"/(static|api)/|\.(json|bpmn|csv|pdf|xlsx|png|jpg)\b|/pieces|/telecharger|/export|/deconnexion"
                  r"|/logout|/imprimer|/metrics|/sante|/health|inline=1|/bpmn$")
HREF = re.compile(r'href="([^"#]+)')


def visible_text(html: str) -> str:
    """The text a person reads: tags, scripts, styles and the hidden honeypot removed, entities decoded."""
    html = re.sub(r"<(script|style|template|noscript)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(r'<div class="hp"[^>]*>.*?</div>', " ", html, flags=re.S)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    # technical identifiers shown on purpose to process owners (a process key, an element id) are marked <code>
    html = re.sub(r"<code\b[^>]*>.*?</code>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def crawl(client, starts: list[str], limit: int = 400, skip: re.Pattern | None = None) -> dict[str, str]:
    """{path: visible text} of the HTML pages reachable from `starts` (each path once, at most `limit`)."""
    seen: dict[str, str] = {}
    queue = list(starts)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen or SKIP.search(path) or (skip is not None and skip.search(path)):
            continue
        resp = client.get(path)
        if resp.status_code != 200 or not resp.mimetype == "text/html":
            seen[path] = ""
            continue
        html = resp.get_data(as_text=True)
        seen[path] = visible_text(html)
        for href in HREF.findall(html):
            target = urljoin(path, unescape(href))
            parts = urlsplit(target)
            if parts.netloc or parts.scheme:
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            # the task list's many filter and sort combinations: one of each page is enough
            if parts.path == "/taches/" and parts.query and not parts.query.startswith("onglet="):
                continue
            if link not in seen and link not in queue:
                queue.append(link)
    return {p: t for p, t in seen.items() if t}
