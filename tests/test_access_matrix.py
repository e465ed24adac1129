"""Every route of app.url_map against every role: anonymous and one user per group.

EXPECTED declares, for each endpoint, who may use it. A route that is not in the table fails the build:
add it with the groups that may use it. The check per request:
  * allowed: neither 401 nor 403 nor a redirect to the login page (404, 409, 422 are fine: the role passed);
  * anonymous on a protected route: 401 (API) or a redirect to /login (pages);
  * a signed-in user outside the groups: 403.
Admin may use every staff route; auditors may read what staff read and get 403 on every write
(app/access.py READ_ONLY_ALLOWED lists the exceptions: signing in and out).
"""

import pytest
from flask import g
from sqlalchemy import select

from app.access import READ_ONLY_ALLOWED, WRITE_METHODS
from app.extensions import db
from app.models import Case
from tests.support.flows import complaint_data, ready, start
from tests.support.pages import fill
from tests.support.setup import GROUPS, PROCESSES

AUDIT_READERS = ("auditeur", "responsable", "direction", "qualite")  # the audit trail and its exports
WRITERS = tuple(g for g in GROUPS if g != "auditeur")
PUBLIC = "public"  # anyone, signed in or not
STAFF = "staff"    # any signed-in staff member (page session or API token)

# endpoint -> PUBLIC, STAFF, or the groups allowed (admin is always allowed on staff routes).
EXPECTED = {
    "static": PUBLIC,
    "ops.health_check": PUBLIC,
    "ops.live": PUBLIC,
    "ops.ready": PUBLIC,
    # No session role: a bearer METRICS_TOKEN, or loopback clients only when unset (tests/test_metrics.py)
    "ops.prometheus_metrics": PUBLIC,
    "auth.index": STAFF,  # the home page: anonymous users are sent to the login page
    "auth.login": PUBLIC,
    "auth.logout": PUBLIC,
    "auth.whoami": STAFF,
    "admin.incidents": ("admin",),
    "privacy.index": ("dpo",),
    "privacy.archive": ("dpo",),
    "privacy.erase": ("dpo",),
    "privacy.hold": ("dpo",),
    "privacy.journal": ("dpo",),
    "admin.retry": ("admin",),
    "admin.people": ("admin",),
    "admin.deactivate": ("admin",),
    "admin.reactivate": ("admin",),
    "auth.absence": STAFF,  # one's own absence
    "auth.absence_start": STAFF,
    "auth.absence_end": STAFF,
    "admin.incident": ("admin",),
    "admin.move": ("admin",),
    "mailbox.index": ("accueil", "responsable", "auditeur"),
    "mailbox.show": ("accueil", "responsable", "auditeur"),
    "mailbox.release": ("accueil", "responsable"),
    "mailbox.discard": ("accueil", "responsable"),
    "api.openapi": PUBLIC,
    "api.login": PUBLIC,
    "api.processes": STAFF,
    "api.process": STAFF,
    "api.create_case": ("accueil",),  # the start event's lane of reclamation
    "api.get_case": STAFF,
    "api.case_history": STAFF,
    "api.list_tasks": STAFF,
    "api.get_task": ("gestionnaire", "responsable", "auditeur"),  # the task's lane, managers, auditors
    "api.claim": ("gestionnaire",),
    "api.unclaim": ("gestionnaire", "responsable"),  # the holder (gestionnaire claimed it above) or a manager
    "api.complete": ("gestionnaire",),
    "api.retry": ("admin",),
    "api.upload_definition": ("proprietaire",),
    "api.deploy_definition": ("proprietaire",),
    "api.definition_versions": STAFF,
    "api.definition_xml": STAFF,
    "api.compare_definition": STAFF,
    "api.migration_candidates": STAFF,
    "api.migrate_cases": ("proprietaire",),
    "api.workflow_archives": STAFF,
    "api.upload_decision": ("proprietaire",),
    "api.decision_xml": STAFF,
    "api.upload_tests": ("proprietaire",),
    "api.definition_tests": STAFF,
    "processes.index": STAFF,
    "processes.history": STAFF,
    "processes.compare": STAFF,
    "processes.download": STAFF,
    "processes.viewer": STAFF,
    "processes.migrate_form": STAFF,
    "processes.modeler": ("proprietaire",),
    "processes.create": ("proprietaire",),
    "processes.save": ("proprietaire",),
    "processes.upload": ("proprietaire",),
    "processes.deploy": ("proprietaire",),
    "processes.delete": ("proprietaire",),
    "processes.migrate": ("proprietaire",),
    "processes.check": ("proprietaire",),
    "processes.tests_save": ("proprietaire",),
    "processes.decision_download": STAFF,
    "processes.decision_editor": ("proprietaire",),
    "processes.decision_save": ("proprietaire",),
    "actions.index": ("qualite", "responsable", "direction", "auditeur"),
    "actions.show": ("qualite", "responsable", "direction", "auditeur"),
    "actions.create": ("qualite", "responsable"),
    "actions.edit": ("qualite", "responsable"),
    "actions.change_status": ("qualite", "responsable"),
    "actions.link": ("qualite", "responsable"),
    "actions.unlink": ("qualite", "responsable"),
    "public.intake": PUBLIC,  # the complainants' pages: rate-limited, the tracking token is the key
    "public.confirmation": PUBLIC,
    "public.track": PUBLIC,
    "public.add_information": PUBLIC,
    "public.contest": PUBLIC,
    "public.survey": PUBLIC,
    "public.lost_link": PUBLIC,
    "api.audit_events": AUDIT_READERS,
    "api.case_state": AUDIT_READERS,
    "audit.index": AUDIT_READERS,
    "audit.case": AUDIT_READERS,
    "audit.diagram": AUDIT_READERS,
    "audit.export_csv": AUDIT_READERS,
    "audit.export_json": AUDIT_READERS,
    "audit.late_responses": AUDIT_READERS,
    "audit.print_trail": AUDIT_READERS,
    "audit.state": AUDIT_READERS,
    "audit.verify": AUDIT_READERS,
    "audit.run_verify": AUDIT_READERS,
    "audit.pdf_trail": AUDIT_READERS,
    "audit.register_page": AUDIT_READERS,
    "audit.register_csv": AUDIT_READERS,
    "audit.register_pdf": AUDIT_READERS,
    "tasks.index": STAFF,
    "tasks.task": ("gestionnaire", "responsable", "auditeur"),  # the task's lane, managers, auditors
    "tasks.submit": ("gestionnaire",),
    "tasks.claim": ("gestionnaire",),
    "tasks.release": STAFF,  # unassigned here (visited before tasks.claim): a no-op; holder or manager otherwise
    "tasks.reassign": ("responsable",),
    "tasks.bulk": STAFF,
    "cases.search": STAFF,
    "cases.show": STAFF,
    "cases.diagram": STAFF,
    "cases.download": STAFF,
    "cases.complainant_download": STAFF,
    "cases.comment": STAFF,
    "cases.accept_submission": STAFF,
    "cases.escalate": STAFF,  # and then the step's group, a manager or an admin (escalation.can_escalate)
    "cases.upload": STAFF,
    "cases.new": WRITERS,  # the page that starts a case: auditors never get it
    "cases.new_case": ("accueil",),  # the start event's lane of reclamation
    "reports.dashboard": ("qualite", "responsable", "direction", "auditeur"),
    "api.indicators": ("qualite", "responsable", "direction", "auditeur"),
    "reports.cases_csv": ("qualite", "responsable", "direction", "auditeur"),
    "reports.indicators_csv": ("qualite", "responsable", "direction", "auditeur"),
    "notifications.index": STAFF,  # each user sees their own and their groups' notifications
    "notifications.mark_read": STAFF,
    "notifications.mark_all_read": STAFF,
    "letters.index": ("accueil", "gestionnaire", "auditeur"),
    "letters.show": ("accueil", "gestionnaire", "auditeur"),
    "letters.posted": ("accueil", "gestionnaire"),
    "letters.pdf": ("accueil", "gestionnaire", "auditeur"),
    "letters.templates_index": ("proprietaire",),  # process owners edit the message templates
    "letters.template_edit": ("proprietaire",),
    "letters.template_versions": ("proprietaire",),
    "letters.template_roll_back": ("proprietaire",),
    "letters.template_create": ("proprietaire",),
    "cases.reply": ("gestionnaire", "responsable"),  # the open task's group (qualification) and managers
    "cases.reply_action": ("gestionnaire", "responsable"),
}
ROLES = (None, *GROUPS)
XML = (PROCESSES / "reclamation.bpmn").read_text(encoding="utf-8")
# Request bodies that pass validation up to the role check (the default for API writes is {}).
BODIES = {
    "api.login": {"json": {"username": "accueil", "password": "demo"}},
    "api.create_case": {"json": {"process": "reclamation", "data": {}}},
    "api.upload_definition": {"data": XML, "content_type": "application/xml"},
    "api.upload_decision": {"data": (PROCESSES / "service_par_categorie.dmn").read_text(encoding="utf-8"),
                            "content_type": "application/xml"},
}


@pytest.fixture
def backend():
    return "sqlite"  # access rules do not depend on the database


def allowed(endpoint: str, method: str, role: str | None) -> bool:
    spec = EXPECTED[endpoint]
    if method in WRITE_METHODS and role == "auditeur" and endpoint not in READ_ONLY_ALLOWED:
        return False  # a signed-in auditor changes nothing, public forms included
    if spec == PUBLIC:
        return True
    if role is None:
        return False
    return spec == STAFF or role == "admin" or role in spec


def test_every_endpoint_is_declared(app):
    missing = sorted({r.endpoint for r in app.url_map.iter_rules()} - set(EXPECTED))
    assert not missing, (
        "Routes without a declared access rule: " + ", ".join(missing) + ". Add each to EXPECTED in "
        "tests/test_access_matrix.py with the groups allowed (and make the route check them).")


def test_every_route_against_every_role(app, client, deployed, api):
    reference = start(api, **complaint_data())["reference"]
    values = {"reference": reference, "task_id": ready(api, reference, "ut_qualify")["id"], "key": "reclamation",
              "ref": "1", "filename": "app.css", "process": "reclamation",
              "process_key": "reclamation",
              "token": db.session.scalars(select(Case.tracking_token).where(Case.reference == reference)).one()}
    sessions = {}
    for role in GROUPS:  # sign in once per role and keep the session cookie (logout would drop it)
        resp = client.post("/login", data={"username": role, "password": "demo"})
        assert resp.status_code == 302
        sessions[role] = client.get_cookie("session").value
        client.delete_cookie("session")
    tokens = {role: api.token(role) for role in GROUPS}

    wrong = []
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    for rule in rules:
        if rule.endpoint not in EXPECTED:
            continue  # reported by test_every_endpoint_is_declared
        url = fill(rule, values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            # Refused roles first: an allowed write may change the object (e.g. complete the task).
            # Admin last: it may act on a task another role holds.
            for role in sorted(ROLES, key=lambda r: (allowed(rule.endpoint, method, r), r == "admin", r or "")):
                # The fixtures' app context outlives requests: drop Flask-Login's cached user from g.
                g.pop("_login_user", None)
                g.pop("user", None)
                client.delete_cookie("session")
                headers = {}
                if role and url.startswith("/api/"):
                    headers["Authorization"] = f"Bearer {tokens[role]}"
                elif role:
                    client.set_cookie("session", sessions[role])
                kwargs = {"json": {}} if url.startswith("/api/") and method in WRITE_METHODS else {}
                kwargs = BODIES.get(rule.endpoint, kwargs)
                resp = client.open(url, method=method, headers=headers, **kwargs)
                status, location = resp.status_code, resp.headers.get("Location", "")
                resp.close()  # file responses (static) hold their file open until closed
                if rule.endpoint == "auth.logout" and role:  # signing out ends the user's sessions: sign in again
                    g.pop("_login_user", None)
                    client.delete_cookie("session")
                    assert client.post("/login", data={"username": role, "password": "demo"}).status_code == 302
                    sessions[role] = client.get_cookie("session").value
                to_login = status in (301, 302, 303) and "/login" in location and rule.endpoint != "auth.logout"
                ok = allowed(rule.endpoint, method, role)
                if ok and (status in (401, 403) or to_login):
                    who = role or 'anonymous'
                    wrong.append(f"{method} {url} ({rule.endpoint}) as {who}: {status}, expected access")
                elif not ok and role is None and not (status == 401 or to_login):
                    wrong.append(f"{method} {url} ({rule.endpoint}) anonymous: {status}, expected 401 or login")
                elif not ok and role is not None and status != 403:
                    wrong.append(f"{method} {url} ({rule.endpoint}) as {role}: {status}, expected 403")
    assert not wrong, "Access matrix violations:\n" + "\n".join(wrong)
