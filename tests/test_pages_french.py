"""No raw code reaches a person: every staff and public page of the demo data, read as people read it."""

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli.demo_data import load_demo
from app.extensions import db
from app.labels import CAPA_KIND_LABELS, CAPA_STATUS_LABELS, CLOCK_LABELS, EVENT_LABELS, STATUS_LABELS, SYSTEM_LABELS
from app.models import Case
from tests.support.crawl import crawl
from tests.support.pages import login

ROOT = Path(__file__).resolve().parent.parent
BPMN = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.bpmn"))
# Codes that are also the French word people read (« Formulaire web », « Description », « Service »…).
FRENCH_WORDS = {"service", "web", "suggestion", "message", "date", "description", "compliment", "admissible",
                "direction", "finance", "commercial", "accueil", "gestionnaire", "responsable", "auditeur",
                "admin", "type", "total", "contestation", "incident", "litige", "curative", "corrective",
                "preventive"}
# Not crawled here: the auditors' pages have their own check in business words (test_audit_words.py), and the
# template and diagram editors show process owners the source they edit (placeholders, field ids) by design.
AUDIT = re.compile(r"^/audit/|^/courriers/modeles/|^/processus/versions/\d+/modeleur")
ENGLISH = {"None", "True", "False", "null", "undefined", "NaN", "Traceback"}


def known_codes() -> set[str]:
    """Enum ids, field ids, lane ids and process keys from the BPMN; event types, statuses and keys from labels."""
    codes = set(re.findall(r'camunda:value id="([^"]+)"', BPMN))
    codes |= set(re.findall(r'camunda:formField id="([^"]+)"', BPMN))
    codes |= set(re.findall(r'<bpmn:lane id="([^"]+)"', BPMN))
    codes |= set(re.findall(r'<bpmn:process id="([^"]+)"', BPMN))
    codes |= set(EVENT_LABELS) | set(STATUS_LABELS) | set(SYSTEM_LABELS) | set(CLOCK_LABELS)
    codes |= set(CAPA_KIND_LABELS) | set(CAPA_STATUS_LABELS)
    codes |= {"last_message", "remind_at", "dispute_reference", "complaint_reference", "contest_text",
              "contestation", "escalation", "dispute_outcome", "external_customer", "registered_letter",
              }
    return {c for c in codes if c.lower() not in FRENCH_WORDS and len(c) > 1}


def leaks(text: str, codes: set[str]) -> set[str]:
    text = re.sub(r"[\w.+-]+@[\w.-]+", " ", text)  # e-mail addresses are what people typed
    words = set(re.findall(r"\w+", text))
    found = {w for w in words if w in codes or w in ENGLISH}
    found |= {m for m in re.findall(r"\bpar (cli|public|system|complainant)\b", text)}
    if re.search(r"non vérifié(?! par l'audit)", text):
        found.add("« non vérifié » sans explication")
    return found


@pytest.fixture
def demo(app, deployed):
    load_demo(6)
    return [c.tracking_token for c in db.session.scalars(select(Case))]


@pytest.mark.parametrize("username", ["admin", "accueil", "gestionnaire", "finance", "direction", "auditeur"])
def test_no_code_on_any_staff_page_of_the_demo(app, demo, username):
    pages = crawl(login(app, username), ["/", "/taches/", "/taches/?onglet=group", "/taches/?onglet=all"],
                  skip=AUDIT)
    assert len(pages) > (20 if username == "admin" else 5), sorted(pages)
    codes = known_codes()
    found = {path: sorted(leaks(text, codes)) for path, text in pages.items()}
    found = {path: words for path, words in found.items() if words}
    assert found == {}, found


def test_no_code_on_any_public_page_of_the_demo(client, demo):
    starts = ["/reclamation", "/suivi"] + [f"/suivi/{token}" for token in demo]
    pages = crawl(client, starts)
    assert len(pages) >= len(demo)
    codes = known_codes()
    found = {path: sorted(leaks(text, codes)) for path, text in pages.items()}
    assert {p: w for p, w in found.items() if w} == {}
