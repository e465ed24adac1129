"""Expired staff forms come back filled in: one mechanism for every staff POST form.

A staff page left open longer than the CSRF token's lifetime (`WTF_CSRF_TIME_LIMIT`, a working day) is refused
by the global CSRF check before any route runs, so nothing is changed. Instead of a bare error page, the
refusal gives back the page the form was on: that page is rendered again (an internal GET of the referring
page, or of the form's own address when it has a page), the form that was posted is found in it by its
`action` (or a button's `formaction`), and its fields are filled with what was typed, under a French message
that says nothing was recorded. Only for posts from our own pages (Referer or Origin of this site): another
site's post gets the short message, never our page filled in with its values. Passwords, files, the CSRF
token and the idempotency key are not given back (the page's own fresh ones are kept). Routes need no code of
their own: comment, attachment, escalation, reply, letter templates, CAPA actions, absence, people,
notifications, processes, privacy, mailbox, incidents, sign-in...

The two forms that check their token themselves (task completion and new case, which also re-render
confirmations) keep doing so; the public blueprint checks its own tokens as well.
"""

from __future__ import annotations

import io
from html import escape
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

from flask import current_app, render_template, request, session
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException

EXPIRED = ("Le formulaire a expiré (jeton de sécurité) : rien n'a été enregistré. Vos saisies sont conservées "
           "ci-dessous : vérifiez-les puis envoyez-les à nouveau.")
RETYPE = " Les fichiers joints et les mots de passe ne sont pas conservés : choisissez-les ou saisissez-les de nouveau."
GENERIC = "Le formulaire a expiré ou n'est pas valide (jeton de sécurité). Rechargez la page et recommencez."
NOT_KEPT = {"csrf_token", "idempotency_key"}
UNTYPED = {"hidden", "password", "file", "submit", "button", "reset", "image"}
SELF_CHECKED_BLUEPRINTS = {"api", "public"}
FORMS = {"application/x-www-form-urlencoded", "multipart/form-data"}  # not the editors' JSON posts


def is_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("password", "mot_de_passe", "secret", "token"))


def typed_values() -> MultiDict:
    """What the person typed in the refused post, without the token, the key and anything secret."""
    return MultiDict([(k, v) for k, v in request.form.items(multi=True) if k not in NOT_KEPT and not is_secret(k)])


def csrf_error(_exc):
    """The CSRFError handler: the page with the form filled in again, or the generic page when there is none."""
    page = None
    if request.method == "POST" and request.blueprint not in SELF_CHECKED_BLUEPRINTS and request.mimetype in FORMS:
        origin = _origin()
        if origin is not None:
            page = _recovered_page(origin)
    if page is not None:
        return page, 400
    from app.services.core.errors import ServiceError

    return render_template("errors/service.html", error=ServiceError(GENERIC)), 400


def _origin() -> str | None:
    """The page the form was posted from, as a path with its query string: the referrer when it is one of ours,
    else the form's own address when it answers GET (a form posting to its own page) and the browser said the
    post came from our site. A post from another site (its Origin header) gets nothing back: the page would be
    our page filled in with what that site chose."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        return None
    referrer = request.referrer
    if referrer:
        parts = urlsplit(referrer)
        if parts.netloc != request.host or parts.scheme not in ("http", "https"):
            return None
        return parts.path + (f"?{parts.query}" if parts.query else "")
    if origin is None:
        return None
    try:  # does the refused address also answer GET?
        current_app.url_map.bind_to_environ(request.environ).match(request.path, method="GET")
    except HTTPException:
        return None
    return request.script_root + request.full_path.rstrip("?")


def _recovered_page(origin: str) -> str | None:
    """The origin page rendered again with the posted form filled in, or None (no such page, no such form)."""
    html = _render_get(origin)
    if html is None:
        return None
    target = request.script_root + request.path
    values = typed_values()
    return fill_form(html, origin, target, values)


def _render_get(path: str) -> str | None:
    """Render one of our pages as the same person would get it (same cookies), inside this request."""
    parts = urlsplit(path)
    script_root = request.script_root or ""
    route = unquote(parts.path)
    if script_root and route.startswith(script_root):
        route = route[len(script_root):] or "/"
    environ = {k: v for k, v in request.environ.items() if not k.startswith(("werkzeug.", "flask."))}
    environ.update({"REQUEST_METHOD": "GET", "PATH_INFO": route, "QUERY_STRING": parts.query,
                    "CONTENT_LENGTH": "0", "CONTENT_TYPE": "", "wsgi.input": io.BytesIO(b"")})
    app = current_app._get_current_object()
    try:
        with app.request_context(environ):
            result = app.preprocess_request()
            if result is None:
                result = app.dispatch_request()
            response = app.make_response(result)
            inner_session = dict(session)
    except Exception:  # noqa: BLE001 - any failure to render the page: the generic expired-form page instead
        current_app.logger.warning("expired form: %s could not be rendered again", path, exc_info=True)
        return None
    if response.status_code != 200 or response.mimetype != "text/html":
        return None
    # What the rendering did to the session (flashed messages shown, last use) is this response's session.
    session.clear()
    session.update(inner_session)
    return response.get_data(as_text=True)


# --- filling a form in a rendered page -----------------------------------------------------------------------

class _Tags(HTMLParser):
    """The tags of a page with their offsets: (kind, tag, attrs, start, end)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.html = html
        # where each line starts, lines counted as HTMLParser counts them (on "\n" only: not str.splitlines,
        # which also breaks on \u2028 or \x0c that a person may have typed)
        self.lines = [0] + [i + 1 for i, char in enumerate(html) if char == "\n"]
        self.tags: list[tuple[str, str, list, int, int]] = []
        self.feed(html)
        self.close()

    def _offset(self) -> int:
        line, column = self.getpos()
        return self.lines[line - 1] + column

    def handle_starttag(self, tag, attrs):
        start = self._offset()
        self.tags.append(("start", tag, attrs, start, start + len(self.get_starttag_text())))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        start = self._offset()
        self.tags.append(("end", tag, [], start, self.html.index(">", start) + 1))


def _tag(tag: str, attrs: list, closing: str) -> str:
    parts = [tag] + [name if value is None else f'{name}="{escape(value, quote=True)}"' for name, value in attrs]
    return "<" + " ".join(parts) + closing


def _with(attrs: list, name: str, value: str | None, present: bool = True) -> list:
    out = [(k, v) for k, v in attrs if k != name]
    if present:
        out.append((name, value))
    return out


def _forms(tags, origin: str, target: str) -> list[tuple[int, int]]:
    """(index of <form>, index of </form>) of the POST forms sent to the refused address: by their action, or
    by the `formaction` of one of their buttons (« Prendre la tâche » on the task page)."""

    def path(url):
        return urlsplit(urljoin(origin, url or origin)).path

    out, opened, matched = [], None, False
    for i, (kind, tag, attrs, _s, _e) in enumerate(tags):
        a = dict(attrs)
        if tag == "form" and kind == "start":
            opened = i if (a.get("method") or "get").lower() == "post" else None
            matched = opened is not None and path(a.get("action")) == target
        elif tag == "form" and opened is not None:
            if matched:
                out.append((opened, i))
            opened = None
        elif opened is not None and kind == "start" and a.get("formaction") is not None:
            matched = matched or path(a["formaction"]) == target
    return out


def fill_form(html: str, origin: str, target: str, values: MultiDict) -> str | None:
    """The page with the first POST form to `target` holding the typed values and the expired-form message;
    None when the page has no such form. Among several, the one whose fields were posted."""
    tags = _Tags(html).tags
    forms = _forms(tags, origin, target)
    if not forms:
        return None

    def names(span):
        return {dict(t[2]).get("name") for t in tags[span[0]:span[1]] if t[0] == "start"}

    first, last = max(forms, key=lambda span: len(names(span) & set(values)))
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement)
    secret = False
    used: dict[str, int] = {}
    select_name = None
    textarea = None
    for i in range(first + 1, last):
        kind, tag, attrs, start, end = tags[i]
        a = dict(attrs)
        name = a.get("name")
        closing = "/>" if html[end - 2:end] == "/>" else ">"
        if kind == "end":
            if tag == "select":
                select_name = None
            elif tag == "textarea" and textarea is not None:
                text_name, text_end = textarea
                if text_name in values:
                    edits.append((text_end, start, escape(values.getlist(text_name)[_next(used, text_name)])))
                textarea = None
            continue
        if tag == "input":
            kind_of = (a.get("type") or "text").lower()
            if kind_of in ("password", "file"):
                secret = True
            if not name or kind_of in UNTYPED or is_secret(name):
                continue
            if kind_of in ("checkbox", "radio"):
                if kind_of == "radio" and name not in values:
                    continue
                checked = (a.get("value") or "on") in values.getlist(name)
                edits.append((start, end, _tag(tag, _with(attrs, "checked", None, checked), closing)))
            elif name in values:
                posted = values.getlist(name)
                index = _next(used, name)
                if index < len(posted):
                    edits.append((start, end, _tag(tag, _with(attrs, "value", posted[index]), closing)))
        elif tag == "textarea" and name:
            textarea = (name, end)
        elif tag == "select" and name:
            select_name = name if name in values else None
        elif tag == "option" and select_name is not None and "value" in a:
            chosen = a["value"] in values.getlist(select_name)
            edits.append((start, end, _tag(tag, _with(attrs, "selected", None, chosen), closing)))
    form_end = tags[first][4]
    message = EXPIRED + (RETYPE if secret else "")
    edits.append((form_end, form_end, f'<div class="flash flash-error form-expired" role="alert"><p>{escape(message)}'
                                      "</p></div>"))
    out, cursor = [], 0
    for start, end, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        out.append(html[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(html[cursor:])
    return "".join(out)


def _next(used: dict[str, int], name: str) -> int:
    index = used.get(name, 0)
    used[name] = index + 1
    return index
