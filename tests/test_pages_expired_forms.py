"""Every staff POST form whose CSRF token expired gives its page back with what was typed and a French message.

Tokens are made old by moving the signer's clock back while the pages are rendered (tests/support/
expired_forms.py), never by sleeping. One mechanism serves them all (app/form_recovery.py); the crawl below
posts every form of every page the demo's people reach, and the journeys check each kind of form end to end:
the page comes back, the typed text is in its form (escaped), files and passwords are not kept, nothing was
recorded, and sending the form again from the page it gave back works.
"""

import io
import re
from html import escape, unescape
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import func, select

from app.cli.demo_data import load_demo
from app.extensions import db
from app.form_recovery import EXPIRED, RETYPE
from app.models import Case, Comment
from tests.support.crawl import SKIP
from tests.support.expired_forms import form_html, fresh, old_tokens, post_forms, typed
from tests.support.pages import login, ready_task, start_case

# Forms that check their token themselves (and re-render their own confirmations): tests/test_pages_fewer_clicks.py.
SELF_CHECKED = {"tasks.submit", "cases.new_case"}
# Staff POST routes with no form on a page of the demo data, and why.
NOT_ON_A_DEMO_PAGE = {
    "auth.login": "the sign-in page, before any session: test_sign_in_form_keeps_the_name_not_the_password",
    "processes.check": "JSON post of the diagram editor (fetch with the X-CSRFToken header), not an HTML form",
    "processes.save": "JSON post of the diagram editor (fetch with the X-CSRFToken header), not an HTML form",
    "processes.decision_save": "JSON post of the decision table editor (fetch), not an HTML form",
}
HREF = re.compile(r'href="([^"#]+)')
LIMIT = 160
NOT_CRAWLED = re.compile(r"/state\?at=|/print$|[?&]page=|/audit/\?")  # the same forms again, many times


@pytest.fixture
def csrf_app(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield app
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def demo(csrf_app, deployed):
    """The demo data, plus one of each thing whose page holds a form the demo alone does not show."""
    load_demo(6)
    from app import clock
    from app.models import IngestedMail, MessageTemplate, OutboxMessage, ProcessDefinition
    from app.services.messaging import template_editing
    from app.services.processes import admin as processes
    from app.services.quality import capa
    from tests.support.pages import user

    cases = db.session.scalars(select(Case).order_by(Case.id)).all()
    cases[0].incident = "Le service de facturation ne répond pas."  # admin: retry and move
    letter = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == cases[1].id)).first()
    letter.channel, letter.status = "letter", "to_print"  # accueil: « posté »
    db.session.add(IngestedMail(dedupe_key="q" * 64, raw_sha256="0" * 64, size=10, received_at=clock.now(),
                                sender_address="x@example.fr", subject="Pièce illisible", status="quarantined",
                                reason="Message illisible."))
    user("service").active = False  # admin: reactivate
    from app.models import TaskRow
    from app.services.core import audit

    held = db.session.scalars(select(TaskRow).where(TaskRow.state == "ready", TaskRow.lane == "gestionnaire")).first()
    held.assignee = "gestionnaire"  # gestionnaire: « Libérer »
    audit.record(cases[3], "public", "public_intake_merged",  # a public-form submission waiting for acceptance
                 data={"data": {"description": "Complément déposé en ligne."}})
    user("commercial").absent_since = clock.now()  # commercial: « Je suis de retour »
    db.session.commit()
    capa.create_action(user("qualite"), {"kind": "corrective", "title": "Former l'accueil", "owner": "qualite",
                                               "due_on": "2026-12-31"},
                       [cases[2].reference])
    template = db.session.scalars(select(MessageTemplate).order_by(MessageTemplate.id)).first()
    template_editing.save(user("proprietaire"), template.key, template.subject or "Objet", template.body + "\n",
                          base_version=template.version, note="test")
    xml = db.session.scalars(select(ProcessDefinition.xml).order_by(ProcessDefinition.id)).first()
    processes.save_draft(user("proprietaire"), xml, strict=False)
    db.session.commit()


def table_counts() -> dict[str, int]:
    db.session.expire_all()
    return {t.name: db.session.scalar(select(func.count()).select_from(t)) for t in db.metadata.sorted_tables
            if not t.name.startswith("rate_limit") and t.name != "access_log"}  # page views given back are logged


def staff_post_endpoints(app) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in rule.methods
            and rule.endpoint.split(".")[0] not in ("api", "public", "static")}


def endpoint_of(app, path: str) -> str | None:
    try:
        return app.url_map.bind("localhost").match(path, method="POST")[0]
    except Exception:  # noqa: BLE001 - not one of our POST routes
        return None


def pages_with_old_tokens(client, starts, skip=None) -> dict[str, str]:
    """{path: html} of the pages reachable from starts, rendered with tokens signed 11 hours ago."""
    seen, queue = {}, list(starts)
    with old_tokens():
        while queue and len(seen) < LIMIT:
            path = queue.pop(0)
            if path in seen or SKIP.search(path) or (skip and skip.search(path)):
                continue
            resp = fresh(client).get(path)
            seen[path] = resp.get_data(as_text=True) if resp.status_code == 200 and resp.mimetype == "text/html" \
                else ""
            for href in HREF.findall(seen[path]):
                parts = urlsplit(urljoin(path, href.replace("&amp;", "&")))
                if parts.netloc or (parts.path == "/taches/" and parts.query and "onglet=" not in parts.query):
                    continue
                link = parts.path + (f"?{parts.query}" if parts.query else "")
                if link not in seen and link not in queue:
                    queue.append(link)
    return {p: h for p, h in seen.items() if h}


def check_expired_post(app, client, page: str, form, marker: str) -> str:
    """Post the form with its old token: the page comes back (400) with the typed values; return its HTML."""
    data, expect = typed(form, marker)
    files = {}
    if form.multipart:
        for item in form.inputs:
            if item["type"] == "file":
                files[item["name"]] = (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "lettre.pdf")
    resp = fresh(client).post(form.action, data={**data, **files}, headers={"Referer": f"http://localhost{page}"},
                              content_type="multipart/form-data" if form.multipart else None)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400, (page, form.action, resp.status_code)
    assert EXPIRED in unescape(html), (page, form.action)
    again = form_html(html, form.action, page)
    assert again, f"{form.action}: its form is not on the page given back ({page})"
    assert 'class="flash flash-error form-expired" role="alert"' in again
    for name, value in expect.items():
        if isinstance(value, tuple):
            assert re.search(rf'<option[^>]*value="{re.escape(escape(value[1]))}"[^>]*selected', again), (name, again)
        else:
            assert escape(value) in again, f"{form.action}: {name} not given back on {page}"
            assert value not in again or "<" not in value  # never unescaped
    assert "mot-de-passe-secret" not in html
    if files or any(i["type"] == "password" for i in form.inputs):
        assert RETYPE.strip() in unescape(html)
    return html


def test_every_form_of_every_page_comes_back_filled_in(app, demo):
    """All the staff POST forms the demo's people see, each posted once with an expired token."""
    tried: dict[str, str] = {}
    email = db.session.scalars(select(Case.customer_email).where(Case.customer_email.is_not(None))).first()
    for username in ("admin", "gestionnaire", "accueil", "finance", "qualite", "commercial", "proprietaire", "dpo"):
        client = login(app, username)
        pages = pages_with_old_tokens(client, ["/", "/taches/", "/taches/?onglet=group", "/absence",
                                                f"/confidentialite/?email={email}"], NOT_CRAWLED)
        before = table_counts()
        for page, html in pages.items():
            for form in post_forms(html, page):
                endpoint = endpoint_of(app, form.action)
                if endpoint is None or endpoint in SELF_CHECKED or endpoint in tried:
                    continue
                check_expired_post(app, client, page, form, f"Saisie {len(tried)}")
                tried[endpoint] = page
        assert table_counts() == before, f"an expired post of {username} changed something"
    missing = staff_post_endpoints(app) - set(tried) - SELF_CHECKED - set(NOT_ON_A_DEMO_PAGE)
    assert missing == set(), " ".join(sorted(missing))


def _page_and_form(client, page: str, action: str):
    with old_tokens():
        html = fresh(client).get(page).get_data(as_text=True)
    [form] = [f for f in post_forms(html, page) if f.action == action][:1]
    return form


def _token(html: str, action: str, page: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form_html(html, action, page)).group(1)


def test_comment_comes_back_then_is_sent_from_the_page_given_back(app, csrf_app, deployed):
    case = start_case()
    client = login(app, "gestionnaire")
    page, action = f"/dossiers/{case.reference}", f"/dossiers/{case.reference}/commentaires"
    form = _page_and_form(client, page, action)
    data, _ = typed(form, "x")
    text = "Le client rappelle : la facture FA-2026-1182 est bien en double. <b>urgent</b> & « vite »"
    resp = fresh(client).post(action, data={**data, "text": text}, headers={"Referer": f"http://localhost{page}"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Commentaires internes" in html and "Le formulaire a expiré" in unescape(html)
    again = form_html(html, action, page)
    assert escape(text) in again and "<b>urgent</b>" not in html
    assert db.session.scalar(select(func.count()).select_from(Comment)) == 0
    # The page given back carries a fresh token: sending it again records the comment once.
    key = re.search(r'name="idempotency_key" value="([^"]+)"', again).group(1)
    resp = fresh(client).post(action, data={"csrf_token": _token(html, action, page), "idempotency_key": key,
                                            "text": text})
    assert resp.status_code == 302
    assert db.session.scalars(select(Comment.body)).all() == [text]


def test_attachment_form_says_the_file_must_be_chosen_again(app, csrf_app, deployed):
    case = start_case()
    client = login(app, "gestionnaire")
    page, action = f"/dossiers/{case.reference}", f"/dossiers/{case.reference}/pieces"
    form = _page_and_form(client, page, action)
    data, _ = typed(form, "x")
    resp = fresh(client).post(action, data={**data, "file": (io.BytesIO(b"%PDF-1.4\n%%EOF\n"), "courrier.pdf")},
                              headers={"Referer": f"http://localhost{page}"}, content_type="multipart/form-data")
    assert resp.status_code == 400
    shown = unescape(resp.get_data(as_text=True))
    assert "Les fichiers joints et les mots de passe ne sont pas conservés" in shown
    assert "courrier.pdf" not in shown  # the file is not kept: nothing was stored


def test_escalation_reason_comes_back_on_the_task_page(app, csrf_app, deployed):
    from tests.support.thread import complaint_with_dispute

    _complaint, dispute = complaint_with_dispute()
    client = login(app, "commercial")  # the group of the dispute's waiting step may escalate it
    task = ready_task(dispute)
    page = f"/taches/{task.id}"
    with old_tokens():
        html = fresh(client).get(page).get_data(as_text=True)
    forms = [f for f in post_forms(html, page) if f.action.endswith("/escalader")]
    assert forms, "no escalation form on the dispute's task page"
    data, _ = typed(forms[0], "x")
    reason = "Le service commercial ne répond pas depuis dix jours."
    resp = fresh(client).post(forms[0].action, data={**data, "reason": reason},
                              headers={"Referer": f"http://localhost{page}"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert escape(reason) in form_html(html, forms[0].action, page)
    assert task.name in unescape(html)  # the task page itself


def test_sign_in_form_keeps_the_name_not_the_password(app, csrf_app, users):
    client = app.test_client()
    with old_tokens():
        html = fresh(client).get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    resp = fresh(client).post("/login", data={"csrf_token": token, "username": "gestionnaire",  # no referrer:
                                              "password": "mot-de-passe-secret"},  # the Origin says it is ours
                              headers={"Origin": "http://localhost"})
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert 'value="gestionnaire"' in form_html(html, "/login", "/login")
    assert "mot-de-passe-secret" not in html and "Les fichiers joints et les mots de passe" in unescape(html)


def test_sign_out_button_gives_the_page_back_still_signed_in(app, csrf_app, deployed):
    client = login(app, "gestionnaire")
    with old_tokens():
        html = fresh(client).get("/taches/").get_data(as_text=True)
    token = _token(html, "/logout", "/taches/")
    resp = fresh(client).post("/logout", data={"csrf_token": token}, headers={"Referer": "http://localhost/taches/"})
    assert resp.status_code == 400 and "Le formulaire a expiré" in unescape(resp.get_data(as_text=True))
    assert fresh(client).get("/taches/").status_code == 200


def test_no_page_to_give_back_is_the_plain_expired_message(app, csrf_app, deployed):
    """No referrer, a foreign one, another site's Origin, or an editor's JSON post: the short French page, not
    our page filled in with what another site chose."""
    case = start_case()
    client = login(app, "gestionnaire")
    action = f"/dossiers/{case.reference}/commentaires"
    ours = f"http://localhost/dossiers/{case.reference}"
    for headers in ({}, {"Referer": "https://ailleurs.example/dossiers/x"},
                    {"Origin": "https://ailleurs.example", "Referer": ours}, {"Origin": "null"}):
        resp = fresh(client).post(action, data={"text": "x", "csrf_token": "périmé"}, headers=headers)
        assert resp.status_code == 400
        shown = unescape(resp.get_data(as_text=True))
        assert "Rechargez la page et recommencez" in shown and "Commentaires internes" not in shown
    owner = login(app, "proprietaire")
    resp = fresh(owner).post("/processus/reclamation/brouillon", json={"xml": "<x/>"},
                             headers={"Referer": "http://localhost/processus/"})
    assert resp.status_code == 400 and "Rechargez la page" in unescape(resp.get_data(as_text=True))


def test_fill_form_keeps_the_page_intact_around_the_form():
    """The refill edits only the posted form's fields: odd line breaks typed earlier on the page (\\u2028, form
    feed, CRLF) do not shift it, text is escaped, a tick box not sent is unticked, passwords stay empty."""
    from werkzeug.datastructures import MultiDict

    from app.form_recovery import fill_form

    page = ('<p>a\u2028b\x0cc\r\nd</p>\n<form method="post" action="/autre"><input name="n" value="0"></form>'
            '<form method="post" action="/c"><input type="hidden" name="csrf_token" value="neuf">'
            '<textarea name="text">\u2028ancien</textarea><input name="n" value="1">'
            '<input type="checkbox" name="k" value="v" checked><select name="s"><option value="a" selected>A'
            '</option><option value="b">B</option></select><input type="password" name="password"></form>')
    out = fill_form(page, "/p", "/c", MultiDict([("text", "<b>é</b>"), ("n", "2"), ("s", "b"),
                                                 ("password", "secret"), ("csrf_token", "vieux")]))
    assert out.startswith('<p>a\u2028b\x0cc\r\nd</p>\n<form method="post" action="/autre"><input name="n" value="0">')
    assert '<textarea name="text">&lt;b&gt;é&lt;/b&gt;</textarea>' in out and 'value="2"' in out
    assert '<input type="checkbox" name="k" value="v">' in out
    assert '<option value="a">A</option><option value="b" selected>B</option>' in out
    assert 'value="neuf"' in out and "secret" not in out and "vieux" not in out
    assert fill_form(page, "/p", "/ailleurs", MultiDict()) is None
