"""The public intake page: filing each kind, input errors, honeypot, CSRF, rate limits, duplicates."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage

pytestmark = pytest.mark.usefixtures("rollup_checked")  # indicator facts checked after each test

KINDS = ("complaint", "compliment", "suggestion", "request")


def form_data(**overrides) -> dict:
    data = {"kind": "complaint", "origin": "external_customer", "customer_name": "Martine Lefèvre",
            "customer_email": "martine@example.fr", "description": "Frais de livraison facturés deux fois.",
            "invoice_refs": "FA-2026-1182", "amount": "42,50", "website": ""}
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def case_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Case))


def only_case() -> Case:
    db.session.expire_all()
    return db.session.scalars(select(Case)).one()


def test_page_shows_public_fields_only(client, deployed):
    resp = client.get("/reclamation")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    for name in ("kind", "origin", "customer_name", "customer_email", "description", "invoice_refs", "amount"):
        assert f'name="{name}"' in html
    # Staff-only and fixed fields are not offered to the public.
    for name in ("received_at", "channel", "written"):
        assert f'name="{name}"' not in html
    assert "Votre nom" in html and 'name="website"' in html  # public labels from the BPMN, honeypot
    assert "Se déconnecter" not in html and "/tasks" not in html
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


def test_type_parameter_preselects_the_kind(client, deployed):
    html = client.get("/reclamation?type=suggestion").get_data(as_text=True)
    assert re.search(r'checked id="kind-2" name="kind"[^>]*value="suggestion"', html)
    html = client.get("/reclamation?type=bogus").get_data(as_text=True)
    assert re.search(r'checked id="kind-0"[^>]*value="complaint"', html)


@pytest.mark.parametrize("kind", KINDS)
def test_filing_each_kind_starts_a_web_case(client, deployed, kind):
    resp = client.post("/reclamation", data=form_data(kind=kind, received_at="2020-01-01", channel="phone"))
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/reclamation/confirmation")
    case = only_case()
    assert (case.kind, case.channel, case.created_by) == (kind, "web", "public")
    # received_at and channel sent by a crafted request are ignored: the server sets them.
    assert case.received_at.date().isoformat() == "2026-11-23"
    assert case.data["written"] == "yes" and float(case.amount) == 42.5
    # A written complaint gets 15 calendar days, and the acknowledgment goes out with the tracking link.
    assert case.due_at is not None and case.due_at.date().isoformat() == "2026-12-08"
    ack = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case.id)).one()
    assert ack.template == "acknowledgment" and f"/suivi/{case.tracking_token}" in ack.body
    started = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.seq == 1)).one()
    assert (started.type, started.actor) == ("case_started", "public")

    # With an e-mail address, the reference and the link go by e-mail only (the page is the same as a merge's).
    page = client.get("/reclamation/confirmation").get_data(as_text=True)
    assert case.reference not in page and case.tracking_token not in page
    assert "Votre demande est enregistrée" in page and "Nous vous envoyons un e-mail" in page


def test_confirmation_without_a_submission_goes_back_to_the_form(client, deployed):
    resp = client.get("/reclamation/confirmation")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/reclamation")


INVALID = [
    ({"customer_name": ""}, "customer_name", "Ce champ est obligatoire."),
    ({"description": "   "}, "description", "Ce champ est obligatoire."),
    ({"customer_name": "x" * 201}, "customer_name", "200 caractères au maximum."),
    ({"customer_email": "pas-un-email"}, "customer_email", "Le format de la valeur est incorrect."),
    ({"customer_phone": "abc"}, "customer_phone", "Le format de la valeur est incorrect."),
    ({"amount": "douze"}, "amount", "Nombre attendu (par exemple 12,50)."),
    ({"amount": "-3"}, "amount", "La valeur doit être supérieure ou égale à 0."),
    ({"kind": "threat"}, "kind", "Choix invalide."),
    ({"origin": "martian"}, "origin", "Choix invalide."),
    ({"customer_email": "", "customer_address": ""}, "customer_email",
     "Indiquez une adresse e-mail ou une adresse postale pour recevoir notre réponse."),
]


@pytest.mark.parametrize(("overrides", "field", "message"), INVALID)
def test_invalid_input_rerenders_with_the_error_and_keeps_the_input(client, deployed, overrides, field, message):
    data = form_data(product="Abonnement fibre", **overrides)
    resp = client.post("/reclamation", data=data)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert case_count() == 0
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error and error.group(1).replace("&#39;", "'") == message
    assert f'aria-describedby="{field}-error"' in html
    assert "Le formulaire contient une erreur" in html and f'<li><a href="#{field}' in html  # the summary
    assert 'value="Abonnement fibre"' in html  # what was typed is kept


def test_postal_address_is_enough_to_be_answered(client, deployed):
    resp = client.post("/reclamation", data=form_data(customer_email="", customer_address="3 rue des Lilas, Lyon"))
    assert resp.status_code == 303
    case = only_case()
    assert case.customer_email is None
    assert db.session.scalars(select(OutboxMessage)).one().channel == "letter"
    # No e-mail to send it to: the page shows the new case's reference and tracking link.
    page = client.get("/reclamation/confirmation").get_data(as_text=True)
    assert case.reference in page and f"http://localhost/suivi/{case.tracking_token}" in page


def test_honeypot_refuses_without_creating_a_case(client, deployed):
    resp = client.post("/reclamation", data=form_data(website="http://spam.example"))
    assert resp.status_code == 400
    assert "pas pu être traité" in resp.get_data(as_text=True)
    assert case_count() == 0


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_missing_token_is_refused_and_the_input_kept(self, client, deployed):
        resp = client.post("/reclamation", data=form_data(description="Colis jamais livré"))
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400
        assert "La page a expiré" in html and "Colis jamais livré" in html
        assert case_count() == 0

    def test_the_page_token_is_accepted(self, client, deployed):
        html = client.get("/reclamation").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
        resp = client.post("/reclamation", data=form_data(csrf_token=token))
        assert resp.status_code == 303
        assert case_count() == 1


class TestRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "PUBLIC_SUBMIT_RATELIMIT": "2 per hour", "PUBLIC_RATELIMIT": "6 per minute"}

    def test_submissions_are_limited_per_address(self, client, deployed):
        other = {"REMOTE_ADDR": "198.51.100.7"}
        assert client.post("/reclamation", data=form_data(customer_name="")).status_code == 422  # not counted
        for n in range(2):
            resp = client.post("/reclamation", data=form_data(customer_email=f"a{n}@example.fr", invoice_refs=""))
            assert resp.status_code == 303
        resp = client.post("/reclamation", data=form_data(customer_email="a9@example.fr"))
        assert resp.status_code == 429
        assert "Trop de demandes" in resp.get_data(as_text=True)
        assert case_count() == 2
        # Another address is not affected.
        resp = client.post("/reclamation", data=form_data(customer_email="b@example.fr"), environ_base=other)
        assert resp.status_code == 303

    def test_pages_are_limited_per_address(self, client, deployed):
        for _ in range(6):
            assert client.get("/reclamation").status_code == 200
        assert client.get("/reclamation").status_code == 429
        assert client.get("/suivi/" + "x" * 32).status_code == 429
        assert client.get("/reclamation", environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 200


# --- duplicates: a strong match is recorded on the open case instead of opening a second one -----------------

def test_same_email_and_invoice_is_added_to_the_open_case(client, deployed):
    assert client.post("/reclamation", data=form_data()).status_code == 303
    first = only_case()
    resp = client.post("/reclamation", data=form_data(customer_email="MARTINE@example.fr",
                                                      description="Toujours pas remboursée, je relance."))
    assert resp.status_code == 303
    assert case_count() == 1
    merged = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == first.id,
                                                         AuditEvent.type == "public_intake_merged")).one()
    assert merged.actor == "public"
    assert merged.data["data"]["description"] == "Toujours pas remboursée, je relance."
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == first.id)
                              .order_by(OutboxMessage.id)).all()
    assert [m.template for m in sent] == ["acknowledgment", "intake_merged"]
    # Told to the address on file (the case's), with its link; the submitted text is not echoed in the mail.
    assert sent[1].recipient == first.customer_email and f"/suivi/{first.tracking_token}" in sent[1].body
    assert "je relance" not in sent[1].body
    page = client.get("/reclamation/confirmation").get_data(as_text=True)
    # Knowing an e-mail and an invoice number must not be enough to learn the case exists, nor its reference.
    assert first.reference not in page and first.tracking_token not in page


def test_identical_resubmission_without_invoice_is_merged(client, deployed):
    client.post("/reclamation", data=form_data(invoice_refs=""))
    again = "  frais de livraison FACTURÉS deux fois. "
    client.post("/reclamation", data=form_data(invoice_refs="", description=again))
    assert case_count() == 1


@pytest.mark.parametrize("overrides", [
    {"customer_email": "autre@example.fr"},  # another complainant, same invoice
    {"invoice_refs": "FA-2026-9999", "description": "Un autre problème : produit cassé."},  # another subject
])
def test_different_intakes_open_their_own_case(client, deployed, overrides):
    client.post("/reclamation", data=form_data())
    assert client.post("/reclamation", data=form_data(**overrides)).status_code == 303
    assert case_count() == 2


def test_a_closed_case_is_not_a_duplicate(client, deployed):
    client.post("/reclamation", data=form_data())
    first = only_case()
    first.completed = True
    db.session.commit()
    client.post("/reclamation", data=form_data())
    assert case_count() == 2


def test_simultaneous_identical_submissions_give_one_case(app, deployed, backend):
    """Two requests with the same complaint at the same moment (double click): one case, one merged intake."""
    if backend != "postgresql":
        pytest.skip("SQLite serializes writers itself; the per-e-mail lock is PostgreSQL's")
    import threading

    from app.services.public import intake as public

    barrier, results, errors = threading.Barrier(2), [], []
    raw = {k: v for k, v in form_data().items() if k != "website"}

    def submit():
        with app.app_context():
            try:
                barrier.wait()
                results.append(public.file_intake(dict(raw)).merged)
            except Exception as exc:  # noqa: BLE001  (reported below)
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(results) == [False, True]
    assert case_count() == 1


def test_weak_resemblance_opens_a_case_flagged_for_staff(client, api, deployed):
    client.post("/reclamation", data=form_data())
    first = only_case()
    client.post("/reclamation", data=form_data(customer_email="autre@example.fr", description="Autre chose."))
    assert case_count() == 2
    second = db.session.scalars(select(Case).where(Case.id != first.id)).one()
    [flag] = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == second.id,
                                                         AuditEvent.type == "possible_duplicates")).all()
    [candidate] = flag.data["candidates"]
    assert candidate["reference"] == first.reference
    assert any("FA-2026-1182" in reason for reason in candidate["reasons"])
    # Staff see it on the case page's timeline.
    client.post("/login", data={"username": "gestionnaire", "password": "demo"})
    page = client.get(f"/dossiers/{second.reference}").get_data(as_text=True)
    assert "Doublons possibles" in page and first.reference in page
