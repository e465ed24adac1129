"""Staff sign in with the company directory: a real OpenLDAP server (scripts/ldap.sh, tests/support/ldap.py)."""

import html

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import AuditEvent, TaskRow
from app.services.people.users import by_username, create_user
from tests.support.flows import complaint_data, start
from tests.support.ldap import SUFFIX, Directory, LdapServer

GROUP_MAP = (f"cn=reclamations,ou=groups,{SUFFIX}=gestionnaire;"
             f"cn=Finance, ou=groups, {SUFFIX}=finance;"
             f"cn=chefs,ou=groups,{SUFFIX}=gestionnaire,responsable")


def ldap_config(url: str, **extra) -> dict:
    return {"LDAP_URL": url, "LDAP_BIND_DN": f"cn=admin,{SUFFIX}", "LDAP_BIND_PASSWORD": "secret",
            "LDAP_SEARCH_BASE": SUFFIX, "LDAP_GROUP_MAP": GROUP_MAP,
            "LDAP_DISABLED_GROUP": f"cn=desactives,ou=groups,{SUFFIX}", "LDAP_TIMEOUT": 2, **extra}


@pytest.fixture
def app_config(ldap_server):
    return ldap_config(ldap_server.url)


def login(client, username, password):
    return client.post("/login", data={"username": username, "password": password})


def flashed(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def test_good_password_creates_the_account_with_mapped_groups(directory, client, ctx):
    directory.add_person("mdupont", "Motdepasse-1", "Marie Dupont", "marie.dupont@example.org")
    directory.add_member("reclamations", "mdupont")
    directory.add_member("comptables-sans-correspondance", "mdupont")  # not in the mapping: gives nothing
    resp = login(client, "mdupont", "Motdepasse-1")
    assert resp.status_code == 302
    user = by_username("mdupont")
    assert user.auth_source == "ldap" and user.groups == ["gestionnaire"] and user.active
    assert user.full_name == "Marie Dupont" and user.email == "marie.dupont@example.org"
    assert user.directory_dn == f"uid=mdupont,ou=people,{SUFFIX}" and user.last_login_at is not None
    assert not user.check_password("Motdepasse-1")  # the password is never stored
    api = client.post("/api/login", json={"username": "mdupont", "password": "Motdepasse-1"})
    assert api.status_code == 200 and api.get_json()["groups"] == ["gestionnaire"]
    created = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "user_created")).all()
    assert [e.data["username"] for e in created] == ["mdupont"] and created[0].case_id is None


def test_bad_password_and_unknown_person_are_refused(directory, client, ctx):
    directory.add_person("mdupont", "Motdepasse-1")
    directory.add_member("reclamations", "mdupont")
    for username, password in (("mdupont", "faux"), ("mdupont", ""), ("inconnu", "x"), ("*", "Motdepasse-1"),
                               ("mdupont)(uid=*", "Motdepasse-1")):
        resp = login(client, username, password)
        assert resp.status_code in (200, 401)
        if password:
            assert resp.status_code == 401 and "Identifiant ou mot de passe incorrect" in flashed(resp)
    assert by_username("mdupont") is None and by_username("inconnu") is None
    assert client.post("/api/login", json={"username": "mdupont", "password": "faux"}).status_code == 401


def test_no_mapped_group_gives_no_access(directory, client, ctx):
    directory.add_person("stagiaire", "pw-stagiaire")
    resp = login(client, "stagiaire", "pw-stagiaire")
    assert resp.status_code == 401 and "aucun groupe de l" in flashed(resp)
    assert not by_username("stagiaire").active


def test_disabled_in_the_directory_deactivates_and_hands_tasks_back(directory, client, api, deployed):
    directory.add_person("pmartin", "pw-pmartin")
    directory.add_member("reclamations", "pmartin")
    assert login(client, "pmartin", "pw-pmartin").status_code == 302
    ref = start(api, **complaint_data())["reference"]
    task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
    claimed = client.post(f"/api/tasks/{task['id']}/claim", headers={"Authorization": "Bearer " + client.post(
        "/api/login", json={"username": "pmartin", "password": "pw-pmartin"}).get_json()["token"]})
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "pmartin"
    client.post("/logout")
    directory.add_member("desactives", "pmartin")
    resp = login(client, "pmartin", "pw-pmartin")
    assert resp.status_code == 401 and "désactivé dans l'annuaire" in flashed(resp)
    db.session.expire_all()
    assert not by_username("pmartin").active
    row = db.session.get(TaskRow, task["id"])
    assert row.assignee is None  # back to the group
    released = db.session.scalars(select(AuditEvent).where(AuditEvent.type == "task_released")).one()
    assert released.data == {"previous": "pmartin", "reason": "désactivé dans l'annuaire"}
    assert released.actor == "annuaire" and released.case_id == row.case_id


def test_group_change_takes_effect_at_next_sign_in(directory, client, api, deployed):
    directory.add_person("lbernard", "pw-lb")
    directory.add_member("reclamations", "lbernard")
    assert login(client, "lbernard", "pw-lb").status_code == 302
    assert by_username("lbernard").groups == ["gestionnaire"]
    ref = start(api, **complaint_data())["reference"]
    task = api.get("admin", f"/api/cases/{ref}").get_json()["tasks"][0]
    token = client.post("/api/login", json={"username": "lbernard", "password": "pw-lb"}).get_json()["token"]
    assert client.post(f"/api/tasks/{task['id']}/claim",
                       headers={"Authorization": f"Bearer {token}"}).status_code == 200
    client.post("/logout")
    directory.remove_member("reclamations", "lbernard")
    directory.add_member("Finance", "lbernard")
    db.session.expire_all()
    assert by_username("lbernard").groups == ["gestionnaire"]  # nothing changes before the next sign-in
    assert login(client, "lbernard", "pw-lb").status_code == 302
    db.session.expire_all()
    assert by_username("lbernard").groups == ["finance"]
    assert db.session.get(TaskRow, task["id"]).assignee is None  # no longer of the task's lane
    directory.add_member("chefs", "lbernard")
    login(client, "lbernard", "pw-lb")
    db.session.expire_all()
    assert by_username("lbernard").groups == ["finance", "gestionnaire", "responsable"]


def test_person_removed_from_the_directory_is_deactivated(directory, client, ctx):
    directory.add_person("parti", "pw-parti")
    directory.add_member("reclamations", "parti")
    assert login(client, "parti", "pw-parti").status_code == 302
    client.post("/logout")
    directory.remove_member("reclamations", "parti")
    directory.remove_person("parti")
    assert login(client, "parti", "pw-parti").status_code == 401
    db.session.expire_all()
    assert not by_username("parti").active


@pytest.fixture
def own_server(tmp_path):
    server = LdapServer(tmp_path / "slapd")
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("app_config", [{}])
def test_directory_down_clear_message_and_local_admin_still_works(own_server, app, ctx):
    app.config.update(ldap_config(own_server.url))
    people = Directory(own_server)
    people.add_person("mdupont", "pw-md")
    people.add_member("reclamations", "mdupont")
    create_user("admin", "admin-local", ["admin"])
    client = app.test_client()
    assert login(client, "mdupont", "pw-md").status_code == 302
    client.post("/logout")
    own_server.stop()
    resp = login(client, "mdupont", "pw-md")
    assert resp.status_code == 503 and "Annuaire de l" in flashed(resp) and "injoignable" in flashed(resp)
    api = client.post("/api/login", json={"username": "mdupont", "password": "pw-md"})
    assert api.status_code == 503 and "injoignable" in api.get_json()["error"]
    assert by_username("mdupont").active  # an outage deactivates nobody
    local = login(client, "admin", "admin-local")
    assert local.status_code == 302 and by_username("admin").last_login_at is not None


def test_user_bind_template_without_a_service_account(directory, app, client, ctx):
    app.config.update({"LDAP_BIND_DN": None, "LDAP_BIND_PASSWORD": None, "LDAP_SEARCH_BASE": None,
                       "LDAP_USER_DN_TEMPLATE": f"uid={{username}},ou=people,{SUFFIX}",
                       "LDAP_GROUP_BASE": f"ou=groups,{SUFFIX}"})
    directory.add_person("cgarcia", "pw-cg", "Carla Garcia")
    directory.add_member("Finance", "cgarcia")
    assert login(client, "cgarcia", "faux").status_code == 401
    assert login(client, "cgarcia", "pw-cg").status_code == 302
    assert by_username("cgarcia").groups == ["finance"]


def test_a_mapping_to_an_unknown_group_is_a_configuration_error(directory, app, client, ctx):
    app.config["LDAP_GROUP_MAP"] = f"cn=reclamations,ou=groups,{SUFFIX}=comptabilite"
    directory.add_person("mdupont", "pw-md")
    directory.add_member("reclamations", "mdupont")
    resp = login(client, "mdupont", "pw-md")
    assert resp.status_code == 503 and "mal configurée" in flashed(resp)
    assert by_username("mdupont") is None


def test_local_accounts_without_a_directory(app, client, ctx):
    app.config["LDAP_URL"] = None
    create_user("gestionnaire", "demo", ["gestionnaire"])
    assert login(client, "gestionnaire", "demo").status_code == 302
    assert login(client, "gestionnaire", "faux").status_code == 401


@pytest.fixture
def tls_server(tmp_path):
    server = LdapServer(tmp_path / "slapd-tls", tls=True)
    server.start()
    people = Directory(server)
    people.add_person("tls", "pw-tls")
    people.add_member("reclamations", "tls")
    yield server
    server.stop()


@pytest.mark.parametrize("app_config", [{}])
def test_ldaps_and_start_tls_check_the_certificate(tls_server, app, ctx):
    client = app.test_client()
    app.config.update(ldap_config(tls_server.ldaps_url, LDAP_CA_FILE=str(tls_server.ca_file)))
    assert login(client, "tls", "pw-tls").status_code == 302
    client.post("/logout")
    app.config.update(ldap_config(tls_server.url, LDAP_START_TLS=True, LDAP_CA_FILE=str(tls_server.ca_file)))
    assert login(client, "tls", "pw-tls").status_code == 302
    client.post("/logout")
    for url, start_tls in ((tls_server.ldaps_url, False), (tls_server.url, True)):  # an unknown CA: refused
        app.config.update(ldap_config(url, LDAP_START_TLS=start_tls, LDAP_CA_FILE=None, LDAP_TLS_VERIFY=True))
        resp = login(client, "tls", "pw-tls")
        assert resp.status_code == 503 and "injoignable" in flashed(resp)
        app.config["LDAP_TLS_VERIFY"] = False  # the control: the same server without the check goes through
        assert login(client, "tls", "pw-tls").status_code == 302
        client.post("/logout")
