"""Demo data: one user per group (password 'demo') and a few cases at different steps."""

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.cases import lifecycle as cases
from app.services.people.users import KNOWN_GROUPS, create_user
from app.services.public import contest
from app.services.tasks import actions as tasks

DEMO_PASSWORD = "demo"
CUSTOMERS = [
    ("Martine Lefèvre", "martine.lefevre@example.fr", "letter", "external_customer",
     "Facture FA-2026-1182 : frais de livraison facturés deux fois."),
    ("Boulangerie Durand", "contact@boulangerie-durand.example", "email", "external_customer",
     "Four livré avec une porte défectueuse, intervention demandée sous 48 h."),
    ("Service logistique", "logistique@example.org", "phone", "internal_customer",
     "Les bons de commande arrivent sans référence client depuis la mise à jour."),
    ("Acier Nord SA", "qualite@aciernord.example", "registered_letter", "supplier",
     "Pénalités de retard appliquées à tort sur la livraison du 3 novembre."),
    ("Jean Moreau", "", "counter", "external_customer", "Accueil désagréable en agence, attente de 45 minutes."),
    ("Claire Petit", "claire.petit@example.fr", "web", "external_customer",
     "Merci pour la réactivité du technicien lors de la panne de chaudière."),
]


def ensure_users() -> int:
    """Create the missing demo users, one per group; return how many were created."""
    created = 0
    for group in KNOWN_GROUPS:
        if db.session.scalars(select(User).where(User.username == group)).first() is None:
            create_user(group, DEMO_PASSWORD, [group], full_name=f"Démo {group}", commit=False)
            created += 1
    db.session.commit()
    return created


def load_demo(count: int = 6) -> tuple[int, list[str]]:
    """Load demo users and start `count` complaints, advancing some of them."""
    created = ensure_users()
    accueil = db.session.scalars(select(User).where(User.username == "accueil")).one()
    gestionnaire = db.session.scalars(select(User).where(User.username == "gestionnaire")).one()
    references = []
    for i in range(count):
        name, email, channel, origin, description = CUSTOMERS[i % len(CUSTOMERS)]
        kind = "compliment" if "Merci" in description else "complaint"
        data = {"channel": channel, "origin": origin, "kind": kind, "customer_name": name,
                "customer_email": email, "description": description, "amount": float(40 * (i + 1)),
                "written": "yes" if channel in ("letter", "registered_letter", "email", "web") else "no",
                "invoice_refs": f"FA-2026-{1180 + i}"}
        case = cases.start_case(accueil, "reclamation", data)
        references.append(case.reference)
        if i % 3 == 1 and kind == "complaint":
            ready = tasks.ready_for_case(case.id)
            if ready:
                cases.complete_task(gestionnaire, ready[0].id, {
                    "admissible": "yes", "category": "billing", "severity": "medium", "department": "billing",
                    "qualification_comment": "Recevable : vérification de la facturation demandée."})
    if count >= len(CUSTOMERS):
        references += load_thread(accueil)
    return created, references


def _complete(case, bpmn_id: str, username: str, data: dict) -> None:
    person = db.session.scalars(select(User).where(User.username == username)).one()
    row = next(r for r in tasks.ready_for_case(case.id) if r.bpmn_id == bpmn_id)
    cases.complete_task(person, row.id, data)


def load_thread(accueil: User) -> list[str]:
    """A complainant's thread: the answer contested from the tracking page, a blocked payment, the dispute it
    opened; and a second answer waiting for the complainant's reaction (its tracking page offers « Contester »)."""
    references = []
    for name, email, invoice in (("Sophie Bernard", "sophie.bernard@example.fr", "FA-2026-2211"),
                                 ("Garage Martin", "compta@garage-martin.example", "FA-2026-2290")):
        case = cases.start_case(accueil, "reclamation", {
            "channel": "email", "origin": "external_customer", "kind": "complaint", "customer_name": name,
            "customer_email": email, "description": f"Facture {invoice} : remise commerciale non appliquée.",
            "amount": 1250.4, "invoice_refs": invoice,
            "expected_remedy": "Un avoir du montant de la remise."})
        _complete(case, "ut_qualify", "gestionnaire", {"admissible": "yes", "category": "billing",
                                                       "severity": "high", "department": "billing"})
        _complete(case, "ut_analyse", "service", {"facts": "La remise n'a pas été reprise sur la facture.",
                                                  "systemic": "no", "needs_information": "no"})
        _complete(case, "ut_decide", "gestionnaire", {"decision": "partly", "compensation": 300.0,
                                                      "response_text": "Nous vous accordons une remise partielle."})
        references.append(case.reference)
    contested = cases.get_case(references[0])
    contest.contest(contested, "La remise prévue au contrat est de 1 250,40 €, pas de 300 €. Je bloque le "
                               "paiement de la facture en attendant.", None, None)
    _complete(contested, "ut_contest", "gestionnaire", {"payment_blocked": "yes", "blocked_amount": 1250.4,
                                                        "invoice_refs": "FA-2026-2211",
                                                        "block_reason": "Remise contractuelle contestée"})
    dispute = cases.get_case(cases.get_case(references[0]).data["dispute_reference"])
    return references + [dispute.reference]
