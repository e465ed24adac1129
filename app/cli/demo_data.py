"""Demo data: one user per group (password 'demo') and a few cases at different steps."""

from sqlalchemy import select

from app.extensions import db
from app.models import User
from app.services.cases import lifecycle as cases
from app.services.people.users import KNOWN_GROUPS, create_user
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
    return created, references
