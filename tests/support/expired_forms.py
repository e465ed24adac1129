"""Expired CSRF tokens by time injection, and the POST forms of a page, for the expired-form tests.

`old_tokens()` makes the pages rendered inside it carry tokens signed hours ago (the signer's clock is moved
back, nothing sleeps); posted afterwards, they are older than WTF_CSRF_TIME_LIMIT and refused as expired.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from flask import g
from itsdangerous.timed import TimestampSigner

HOURS_AGO = 11  # the token lifetime is a working day (10 hours)
CSRF_SALT = b"wtf-csrf-token"  # flask_wtf.csrf signs its tokens with this salt


@contextmanager
def old_tokens(hours: float = HOURS_AGO):
    real = TimestampSigner.get_timestamp
    shift = int(hours * 3600)

    def signed_earlier(self):  # only Flask-WTF's tokens: the session cookie keeps the real time
        return real(self) - shift if self.salt == CSRF_SALT else real(self)

    TimestampSigner.get_timestamp = signed_earlier
    try:
        yield
    finally:
        TimestampSigner.get_timestamp = real


def fresh(client):
    """Forget what the previous request cached on the shared `g` (signed-in user, signed CSRF token)."""
    g.pop("_login_user", None)
    g.pop("csrf_token", None)
    return client


@dataclass
class Form:
    action: str
    multipart: bool
    inputs: list[dict] = field(default_factory=list)  # {"tag", "name", "type", "value", "options"}
    formactions: list[str] = field(default_factory=list)  # buttons sending the form elsewhere


class _Forms(HTMLParser):
    def __init__(self, page: str, page_path: str):
        super().__init__()
        self.page_path, self.forms, self.current, self.select = page_path, [], None, None
        self.feed(page)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self.current = Form(urlsplit(urljoin(self.page_path, a.get("action") or self.page_path)).path,
                                "multipart" in (a.get("enctype") or ""))
        elif self.current is None:
            return
        elif tag == "input" and a.get("name"):
            self.current.inputs.append({"tag": "input", "name": a["name"], "type": (a.get("type") or "text").lower(),
                                        "value": a.get("value", ""), "checked": "checked" in a})
        elif tag == "textarea" and a.get("name"):
            self.current.inputs.append({"tag": "textarea", "name": a["name"], "type": "textarea", "value": ""})
        elif tag == "select" and a.get("name"):
            self.select = {"tag": "select", "name": a["name"], "type": "select", "options": [],
                           "multiple": "multiple" in a}
            self.current.inputs.append(self.select)
        elif tag in ("button", "input") and "formaction" in a:
            self.current.formactions.append(urlsplit(urljoin(self.page_path, a["formaction"])).path)
        elif tag == "option" and self.select is not None and "value" in a:
            self.select["options"].append(a["value"])

    def handle_endtag(self, tag):
        if tag == "form" and self.current is not None:
            self.forms.append(self.current)
            self.current = None
        elif tag == "select":
            self.select = None


def post_forms(html: str, page_path: str) -> list[Form]:
    """The page's POST forms, one per address they post to (a button's formaction counts as one)."""
    out = []
    for form in _Forms(html, page_path).forms:
        out.append(form)
        out += [Form(action, form.multipart, form.inputs) for action in dict.fromkeys(form.formactions)]
    return out


def form_html(html: str, action_path: str, page_path: str) -> str:
    """The HTML of the first POST form of a page sent to action_path (its action, default the page, or one of
    its buttons' formaction)."""
    for match in re.finditer(r"<form\b[^>]*>.*?</form>", html, re.S | re.I):
        start = match.group(0)[:match.group(0).index(">")]
        if 'method="post"' not in start.lower():
            continue
        action = re.search(r'action="([^"]*)"', start)
        targets = [urljoin(page_path, unescape(action.group(1))) if action else page_path]
        targets += [urljoin(page_path, unescape(u)) for u in re.findall(r'formaction="([^"]*)"', match.group(0))]
        if action_path in {urlsplit(t).path for t in targets}:
            return match.group(0)
    return ""


def typed(form: Form, marker: str) -> tuple[dict, dict]:
    """What a person would have typed in the form: (posted values, {field: what to find in the page again})."""
    data, expect = {}, {}
    for n, item in enumerate(form.inputs):
        name, kind = item["name"], item["type"]
        if name in ("csrf_token", "idempotency_key"):
            data[name] = item["value"]
        elif kind == "hidden":
            data.setdefault(name, item["value"])
        elif kind in ("text", "textarea", "search", "email", "tel", "url") and not name.startswith("website"):
            value = f"{marker} {n} <é&>" if kind != "email" else f"saisie{n}@example.fr"
            data[name] = value
            expect[name] = value
        elif kind == "password":
            data[name] = "mot-de-passe-secret"
        elif kind == "select" and item["options"]:
            choice = [o for o in item["options"] if o][-1:] or item["options"][-1:]
            data[name] = choice[0]
            if choice[0]:
                expect[name] = ("option", choice[0])
        elif kind in ("checkbox",):
            data[name] = item["value"] or "on"
    return data, expect
