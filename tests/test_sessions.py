"""Staff sessions: revoked by sign-out and password changes, idle and absolute lifetimes, never cached; sign-in
costs one password hash whether the name exists or not."""

import hashlib

import pytest
from flask import g
from sqlalchemy import select

from app import clock
from app.extensions import db
from app.models import User
from app.services.people import sessions


def sign_in(client, username="gestionnaire", password="demo"):
    g.pop("_login_user", None)
    return client.post("/login", data={"username": username, "password": password})


def reaches_tasks(client, cookie: str) -> bool:
    """Whether a request carrying this session cookie is served as a signed-in user."""
    g.pop("_login_user", None)  # the fixtures' app context outlives requests
    client.set_cookie("session", cookie)
    resp = client.get("/taches/")
    return resp.status_code == 200


@pytest.fixture
def signed_in(client, users):
    assert sign_in(client).status_code == 302
    return client.get_cookie("session").value


def test_a_copied_cookie_stops_working_after_sign_out(client, signed_in):
    assert reaches_tasks(client, signed_in)
    g.pop("_login_user", None)
    assert client.post("/logout").status_code == 302
    # Someone who copied the cookie before the sign-out (shared computer, stolen cookie) is refused.
    assert not reaches_tasks(client, signed_in)
    resp = client.get("/taches/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_a_password_change_ends_every_session_but_not_another_users(client, signed_in, api):
    other = api.client.application.test_client()
    assert sign_in(other, "accueil").status_code == 302
    other_cookie = other.get_cookie("session").value
    user = db.session.scalars(select(User).where(User.username == "gestionnaire")).one()
    sessions.change_password(user, "nouveau-secret")
    assert not reaches_tasks(client, signed_in)
    assert reaches_tasks(other, other_cookie)
    assert sign_in(client, password="demo").status_code == 401
    assert sign_in(client, password="nouveau-secret").status_code == 302


def test_expired_session_says_why_on_the_login_page(client, signed_in):
    clock.advance(minutes=61)
    g.pop("_login_user", None)
    resp = client.get("/taches/", follow_redirects=True)
    assert "période d&#39;inactivité" in resp.get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"SESSION_IDLE_MINUTES": 30, "SESSION_MAX_HOURS": 2}])
def test_idle_and_absolute_lifetimes(client, signed_in):
    clock.advance(minutes=29)
    assert reaches_tasks(client, signed_in)
    fresh = client.get_cookie("session").value  # the last use is recorded in the cookie
    clock.advance(minutes=29)
    assert reaches_tasks(client, fresh)
    clock.advance(minutes=31)
    assert not reaches_tasks(client, client.get_cookie("session").value)  # idle for 31 minutes

    client.delete_cookie("session")
    assert sign_in(client).status_code == 302
    for _ in range(4):  # active every 29 minutes: under the idle limit, but 2 hours after sign-in it ends
        clock.advance(minutes=29)
        assert reaches_tasks(client, client.get_cookie("session").value)
    clock.advance(minutes=5)
    assert not reaches_tasks(client, client.get_cookie("session").value)


def test_api_tokens_survive_a_web_sign_out_but_not_a_password_change(client, signed_in, api):
    token = api.token("gestionnaire")
    g.pop("_login_user", None)
    client.post("/logout")
    assert api.get("gestionnaire", "/api/tasks").status_code == 200
    user = db.session.scalars(select(User).where(User.username == "gestionnaire")).one()
    sessions.change_password(user, "nouveau-secret")
    resp = client.get("/api/tasks", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401


def test_authenticated_pages_and_api_answers_are_not_stored(client, signed_in, api, deployed):
    for url in ("/taches/", "/dossiers/", "/me"):
        g.pop("_login_user", None)
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "no-store", url
    for url in ("/api/tasks", "/api/processes"):
        resp = api.get("gestionnaire", url)
        assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store", url
    assert client.get("/api/tasks").headers["Cache-Control"] == "no-store"  # 401 answers too


@pytest.fixture
def hash_calls(monkeypatch):
    """Count the password-hash computations (the tests' method is pbkdf2, see conftest)."""
    calls = []
    real = hashlib.pbkdf2_hmac

    def counting(*args, **kwargs):
        calls.append((args[0], args[3]))  # (digest, iterations): the cost of one computation
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    return calls


def test_sign_in_does_the_same_work_for_unknown_names(client, users, hash_calls):
    from app.services.people.users import authenticate

    authenticate("nobody", "x")  # the first unknown name builds the dummy hash once per process
    outcomes = {}
    for name, password in (("gestionnaire", "demo"), ("gestionnaire", "wrong"), ("nobody", "wrong"), ("", "")):
        hash_calls.clear()
        authenticate(name, password)
        outcomes[(name, password)] = list(hash_calls)
    assert set(map(len, outcomes.values())) == {1}, outcomes
    assert len({tuple(v) for v in outcomes.values()}) == 1  # and of the same cost
    user = db.session.scalars(select(User).where(User.username == "accueil")).one()
    user.active = False
    db.session.commit()
    hash_calls.clear()
    assert authenticate("accueil", "demo") is None
    assert len(hash_calls) == 1
    hash_calls.clear()  # through the page too
    assert sign_in(client, "inconnu", "x").status_code == 401
    assert len(hash_calls) == 1


def test_cli_changes_a_password_and_signs_out(client, signed_in, runner):
    result = runner.invoke(args=["users", "sign-out", "gestionnaire"])
    assert result.exit_code == 0 and "fermées" in result.output
    assert not reaches_tasks(client, signed_in)
    result = runner.invoke(args=["users", "password", "gestionnaire", "--password", "autre-secret"])
    assert result.exit_code == 0, result.output
    assert sign_in(client, password="autre-secret").status_code == 302
    assert runner.invoke(args=["users", "password", "personne", "--password", "x1234"]).exit_code == 1
