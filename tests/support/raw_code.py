"""Find raw code in what a person reads on a page: snake_case ids, engine class names, Python values, ISO times."""

import re
from html.parser import HTMLParser

# Places where an id is shown on purpose, next to its label, or is not text at all.
SKIPPED_TAGS = {"script", "style", "code", "title", "noscript"}
# "letter": a message as it was sent to the complainant, a record reproduced as is (its wording is the letters').
SKIPPED_CLASSES = {"audit-id", "audit-hash", "letter"}
RAW = [
    (re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b"), "identifiant"),
    (re.compile(r"\b\w*(?:EventDefinition|Gateway|HandlerTask|UserTask|StartEvent)\b"), "type du moteur"),
    (re.compile(r"\b(?:True|False|None)\b"), "valeur Python"),
    (re.compile(r"\{'|\['|\[\{"), "structure Python"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}"), "date ISO"),
    (re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])"), "nombre à l'anglaise"),
]
ALLOWED = {"csrf_token"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack: list[bool] = []
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        classes = set((dict(attrs).get("class") or "").split())
        skipped = tag in SKIPPED_TAGS or bool(classes & SKIPPED_CLASSES) or bool(self.stack and self.stack[-1])
        if tag not in ("br", "img", "input", "meta", "link", "hr", "col", "source"):
            self.stack.append(skipped)

    def handle_endtag(self, tag):
        if tag not in ("br", "img", "input", "meta", "link", "hr", "col", "source") and self.stack:
            self.stack.pop()

    def handle_data(self, data):
        if not self.stack or not self.stack[-1]:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def raw_code(html: str) -> list[str]:
    """Every piece of raw code a reader would see, with a few characters of context."""
    text = visible_text(html)
    found = []
    for pattern, kind in RAW:
        for match in pattern.finditer(text):
            if match.group(0) in ALLOWED:
                continue
            found.append(f"{kind} « {match.group(0)} » dans « …{text[max(0, match.start() - 40):match.end() + 40]}… »")
    return found
