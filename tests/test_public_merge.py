"""A public submission matching someone's open case (same e-mail, same invoice) discloses nothing and does not
speak for the complainant: same confirmation page, unverified for staff until accepted, mail to the address on
file only."""

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, Case, OutboxMessage
from tests.support.pages import login

pytestmark = pytest.mark.usefixtures("rollup_checked")

VICTIM = {"kind": "complaint", "origin": "external_customer", "customer_name": "Martine Lefèvre",
          "customer_email": "martine@example.fr", "description": "Frais de livraison facturés deux fois.",
          "invoice_refs": "FA-2026-1182", "amount": "42,50", "website": ""}
ATTACK = {**VICTIM, "customer_name": "Un inconnu", "customer_email": "Martine@Example.fr",
          "description": "PIRATE : merci d'envoyer le remboursement sur le RIB FR76 0000."}


def confirmation_after(client, data) -> str:
    assert client.post("/reclamation", data=data).status_code == 303
    return client.get("/reclamation/confirmation").get_data(as_text=True)


def victim_case() -> Case:
    db.session.expire_all()
    return db.session.scalars(select(Case).order_by(Case.id)).first()


def test_the_confirmation_page_is_the_same_for_a_merge_and_a_new_case(app, client, deployed):
    new_case_page = confirmation_after(client, VICTIM)
    victim = victim_case()
    merged_page = confirmation_after(app.test_client(), ATTACK)  # another browser: the attacker
    assert db.session.scalar(select(func.count()).select_from(Case)) == 1  # merged, not a second case
    assert merged_page == new_case_page
    assert victim.reference not in merged_page and victim.tracking_token not in merged_page
    other_case_page = confirmation_after(app.test_client(), {**VICTIM, "customer_email": "autre@example.fr"})
    assert other_case_page == new_case_page


def test_a_merged_submission_is_unverified_until_staff_accept_it(app, client, deployed):
    confirmation_after(client, VICTIM)
    victim = victim_case()
    confirmation_after(app.test_client(), ATTACK)
    tracking = client.get(f"/suivi/{victim.tracking_token}").get_data(as_text=True)
    assert "PIRATE" not in tracking  # not shown as the complainant's own message

    staff = login(app, "gestionnaire")
    page = staff.get(f"/dossiers/{victim.reference}").get_data(as_text=True)
    assert "Dépôt reçu du formulaire public, non vérifié" in page and "PIRATE" in page
    [merged] = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == victim.id,
                                                           AuditEvent.type == "public_intake_merged")).all()
    action = f"/dossiers/{victim.reference}/depots/{merged.seq}/accepter"
    assert f'action="{action}"' in page

    auditor = login(app, "auditeur")  # read-only: may not accept
    assert auditor.post(action).status_code == 403
    assert staff.post(f"/dossiers/{victim.reference}/depots/1/accepter").status_code == 404  # not a submission
    resp = staff.post(action)
    assert resp.status_code == 302
    [accepted] = db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == victim.id,
                                                             AuditEvent.type == "public_intake_accepted")).all()
    assert (accepted.actor, accepted.data) == ("gestionnaire", {"seq": merged.seq})
    page = staff.get(f"/dossiers/{victim.reference}").get_data(as_text=True)
    assert f'action="{action}"' not in page and "Dépôt du formulaire public accepté" in page
    again = staff.post(action, follow_redirects=True).get_data(as_text=True)
    assert "déjà été accepté" in again
    tracking = client.get(f"/suivi/{victim.tracking_token}").get_data(as_text=True)
    assert "PIRATE" in tracking  # accepted: now part of the complainant's own contributions


def test_the_tracking_link_goes_to_the_address_on_file_only(app, client, deployed):
    confirmation_after(client, VICTIM)
    victim = victim_case()
    confirmation_after(app.test_client(), {**ATTACK, "customer_email": "MARTINE@EXAMPLE.FR"})
    sent = db.session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == victim.id)
                              .order_by(OutboxMessage.id)).all()
    assert [m.template for m in sent] == ["acknowledgment", "intake_merged"]
    assert {m.recipient for m in sent} == {"martine@example.fr"}  # the case's address, never the one typed
    tokens = [m for m in db.session.scalars(select(OutboxMessage)) if victim.tracking_token in m.body]
    assert all(m.recipient == victim.customer_email for m in tokens)
    assert "PIRATE" not in sent[1].body and "Un inconnu" not in sent[1].body
    assert not re.search(r"de votre part", sent[1].body)  # the mail does not say the complainant wrote it
