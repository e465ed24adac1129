"""What each request keeps to cost less (README, "Task list page, fourth pass"), and that nothing kept outlives a
change: the user is read again on every request (a disabled user or a new role counts at the next one), the
menu follows the groups and the URL prefix, a kept session cookie verifies and expires as a fresh one, the kept
filter form escapes what was typed and follows the deployed processes, and the response headers stay.
"""

import re
from datetime import timedelta

import pytest
from flask import g

from app import web
from app.extensions import db
from app.services.core.definitions import deploy_files
from tests.support.pages import login, ready_task, start_case, user
from tests.support.setup import TEST_BPMN


def _menu(resp) -> list[str]:
    nav = re.search(r'<nav aria-label="Navigation principale">(.*?)</nav>', resp.get_data(as_text=True), re.S)
    return re.findall(r">([^<]+)</a>", nav.group(1))


def _current(resp) -> list[str]:
    return re.findall(r'<a href="[^"]*" aria-current="page">([^<]+)</a>', resp.get_data(as_text=True))


def test_a_disabled_user_is_refused_at_the_very_next_request(app, deployed):
    g_client = login(app, "gestionnaire")
    assert g_client.get("/taches/").status_code == 200
    assert g_client.get("/taches/").status_code == 200  # the same cookie, kept: still served
    person = user("gestionnaire")
    person.active = False
    db.session.commit()
    resp = g_client.get("/taches/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_role_change_counts_at_the_very_next_request(app, deployed):
    client = login(app, "service")
    first = client.get("/taches/")
    assert "Indicateurs" not in _menu(first) and "Personnes" not in _menu(first)
    assert client.get("/admin/personnes").status_code == 403
    person = user("service")
    person.groups = ["service", "admin"]
    db.session.commit()
    promoted = client.get("/taches/")
    assert "Indicateurs" in _menu(promoted) and "Personnes" in _menu(promoted)
    assert client.get("/admin/personnes").status_code == 200
    person = user("service")
    person.groups = ["service"]
    db.session.commit()
    assert _menu(client.get("/taches/")) == _menu(first)
    assert client.get("/admin/personnes").status_code == 403


def test_the_menu_marks_this_page_and_follows_the_url_prefix(app, deployed):
    client = login(app, "responsable")
    assert _current(client.get("/taches/")) == ["Tâches"]
    assert _current(client.get("/dossiers/")) == ["Dossiers"]
    assert _current(client.get("/taches/")) == ["Tâches"]  # kept links, the other page's marker
    mounted = client.get("/taches/", base_url="http://localhost/reclamations").get_data(as_text=True)
    assert 'href="/reclamations/taches/"' in mounted and 'href="/reclamations/static/app.css"' in mounted
    plain = client.get("/taches/").get_data(as_text=True)
    assert 'href="/taches/"' in plain and "/reclamations/" not in plain


def test_a_kept_session_cookie_verifies_and_expires_as_a_fresh_one(app, deployed, monkeypatch):
    client = login(app, "gestionnaire")
    assert client.get("/taches/").status_code == 200  # the remembered tab: a new cookie
    cookie = client.get_cookie("session").value
    assert client.get("/taches/").status_code == 200 and client.get_cookie("session").value == cookie
    kept = app.extensions["reclamations.session_cookies"]
    assert any(key[0] == cookie for key in kept)
    # a cookie changed by one character is not the kept one: its signature is checked, and it fails
    forged = cookie[:-2] + ("A" if cookie[-2] != "A" else "B") + cookie[-1]
    g.pop("_login_user", None)
    client.set_cookie("session", forged)
    resp = client.get("/taches/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    # the genuine cookie past PERMANENT_SESSION_LIFETIME (itsdangerous's clock: time.time) is an empty session
    client.set_cookie("session", cookie)
    assert client.get("/taches/").status_code == 200
    later = web.time.time() + app.permanent_session_lifetime.total_seconds() + 5
    monkeypatch.setattr(web.time, "time", lambda: later)
    resp = client.get("/taches/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_kept_session_cookie_shares_no_value_between_requests(app, deployed):
    """flash() appends to the session's list in place: a kept cookie's content is decoded afresh each time."""
    client = login(app, "gestionnaire")
    case = start_case()
    task_id = ready_task(case).id
    assert client.post(f"/taches/{task_id}/prendre").status_code == 302  # a flash waits in the new cookie
    cookie = client.get_cookie("session").value
    for _ in range(2):  # the same cookie twice: its waiting flash, then this view's own, never one more
        g.pop("_login_user", None)
        client.set_cookie("session", cookie)
        html = client.get("/taches/?onglet=inconnu").get_data(as_text=True)
        assert html.count("prise.") == 1 and html.count("Onglet inconnu") == 1


def test_the_kept_filter_form_escapes_what_was_typed_and_follows_the_deployed_processes(app, deployed):
    client = login(app, "gestionnaire")
    typed = '"><script>alert(1)</script>'
    for _ in range(2):  # printed, then kept
        html = client.get("/taches/", query_string={"q": typed, "onglet": "group"}).get_data(as_text=True)
        assert "<script>alert(1)" not in html
        assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in html
    plain = client.get("/taches/?onglet=group&processus=reclamation").get_data(as_text=True)
    assert '<option value="reclamation" selected>' in plain and '<option value="boucle"' not in plain
    deploy_files([TEST_BPMN / "loop.bpmn"], "test")  # another process deployed: the choices are read again
    db.session.commit()
    after = client.get("/taches/?onglet=group&processus=reclamation").get_data(as_text=True)
    assert '<option value="boucle" >Boucle de test</option>' in after
    assert '<option value="reclamation" selected>' in after


def test_security_headers_stay_and_a_view_keeps_its_own_policy(app, deployed):
    client = login(app, "gestionnaire")
    resp = client.get("/taches/")
    headers = resp.headers
    nonce = re.search(r'<script nonce="([^"]+)">', resp.get_data(as_text=True)).group(1)
    assert headers["Content-Security-Policy"] == (
        f"default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
        "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin" and headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert headers["Permissions-Policy"] == "camera=(), microphone=(), geolocation=()"
    assert headers["Cache-Control"] == "no-store" and headers.getlist("Content-Security-Policy") == [
        headers["Content-Security-Policy"]]
    g.pop("_login_user", None)  # the fixtures' app context outlives requests
    anonymous = app.test_client().get("/health/live").headers
    assert "'nonce-" not in anonymous["Content-Security-Policy"] and "Cache-Control" not in anonymous


@pytest.mark.parametrize("days", [0, 3])
def test_a_kept_row_follows_the_clock(app, deployed, days):
    """The row's urgency is worked out on every view (the kept HTML is keyed by it), not kept with the row."""
    from app import clock
    from tests.support.pages import set_task

    case = start_case()
    set_task(ready_task(case), due_in_days=1)
    client = login(app, "gestionnaire")
    first = client.get("/taches/?onglet=group").get_data(as_text=True)
    assert "bientôt" in first
    clock.set_now(clock.now() + timedelta(days=days))
    html = login(app, "gestionnaire").get("/taches/?onglet=group").get_data(as_text=True)  # a new session
    assert ("en retard" in html) == (days == 3) and ("bientôt" in html) == (days == 0)
