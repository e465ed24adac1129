"""The « registre des réclamations » of a period, for the management review (NF X 50-056, ISO 10002 § 8):
number, received date, channel, customer, subject, description, failings identified, response, actions with
their dates, resolution. One row per complaint received in the period (disputes opened from a complaint are
part of its row's actions, not rows of their own). Read-only; exported as CSV and PDF.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select

from app import clock
from app.extensions import db
from app.formatting import format_amount, format_date_fr
from app.labels import CAPA_KIND_LABELS, CAPA_STATUS_LABELS, STATUS_LABELS
from app.models import Action, ActionCase, Case
from app.services.audit.wording import Words
from app.services.core import bounds
from app.services.core.errors import Invalid
from app.vocabulary import PARIS

COLUMNS = ("N°", "Reçue le", "Canal", "Client", "Objet", "Description", "Manquements constatés", "Réponse",
           "Actions (dates)", "Résolution")
MAX_ROWS = 2000
_CUT = 400


@dataclass
class Period:
    start: date
    end: date

    @property
    def label(self) -> str:
        return f"du {format_date_fr(self.start)} au {format_date_fr(self.end)}"


def period(date_from: str | None, date_to: str | None) -> Period:
    """The period asked (YYYY-MM-DD or DD/MM/YYYY, Paris days); default: the current month."""
    today = clock.now().astimezone(PARIS).date()

    def parse(value: str | None, field: str) -> date | None:
        value = (value or "").strip()
        if not value:
            return None
        for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
            try:
                return bounds.check_day(datetime.strptime(value, pattern).date(), field)  # 1900-2999: no overflow
            except ValueError:
                continue
        raise Invalid({field: "Date attendue (JJ/MM/AAAA)."})

    start = parse(date_from, "from") or today.replace(day=1)
    end = parse(date_to, "to") or today
    if end < start:
        raise Invalid({"to": "La fin de la période précède son début."})
    return Period(start, end)


def _cut(text) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= _CUT else text[:_CUT - 1] + "…"


def _actions(case: Case, words: Words) -> list[str]:
    """CAPA actions raised by or linked to the case, and the curative action the analysis recorded."""
    found = db.session.scalars(select(Action).where(or_(
        Action.source_case_id == case.id,
        Action.id.in_(select(ActionCase.action_id).where(ActionCase.case_id == case.id)))).order_by(Action.id))
    lines = []
    for action in found:
        dates = [f"créée le {format_date_fr(action.created_at)}"]
        if action.due_on:
            dates.append(f"échéance {format_date_fr(action.due_on)}")
        if action.completed_at:
            dates.append(f"réalisée le {format_date_fr(action.completed_at)}")
        lines.append(f"{CAPA_KIND_LABELS.get(action.kind, action.kind)} : {action.title} "
                     f"({', '.join(dates)} ; {CAPA_STATUS_LABELS.get(action.status, action.status)})")
    data = case.data or {}
    if data.get("curative_action") and not lines:
        lines.append(f"Curative : {_cut(data['curative_action'])}")
    for child in db.session.scalars(select(Case).where(Case.parent_id == case.id).order_by(Case.id)):
        lines.append(f"Litige {child.reference} ouvert le {format_date_fr(child.created_at)} : "
                     f"{STATUS_LABELS.get(child.status, child.status)}")
    return lines


def _row(case: Case) -> dict:
    words = Words(case)
    data = case.data or {}
    subject = " — ".join(p for p in (words.value("category", case.category) if case.category else "",
                                     _cut(data.get("product"))) if p and p != "—") or "—"
    failings = [f"{words.field('facts')} : {_cut(data['facts'])}" if data.get("facts") else "",
                f"Cause racine : {_cut(case.root_cause)}" if case.root_cause else "",
                "Cause systémique" if data.get("systemic") else ""]
    response = [words.value("decision", data["decision"]) if data.get("decision") else "",
                _cut(data.get("response_text")) if data.get("response_text") else "",
                f"répondu le {format_date_fr(case.answered_at)}" if case.answered_at else "",
                f"geste {format_amount(data['compensation'])}" if data.get("compensation") else ""]
    resolution = [STATUS_LABELS.get(case.status, case.status),
                  f"clos le {format_date_fr(case.closed_at)}" if case.closed_at else "",
                  f"satisfaction {case.satisfaction_score}/5" if case.satisfaction_score else ""]
    return {
        "reference": case.reference, "received": format_date_fr(case.received_at or case.created_at),
        "channel": words.value("channel", case.channel) if case.channel else "—",
        "customer": case.customer_name or "—", "subject": subject,
        "description": _cut(data.get("description")) or "—",
        "failings": " ; ".join(f for f in failings if f) or "—",
        "response": " ; ".join(r for r in response if r) or "—",
        "actions": _actions(case, words), "resolution": ", ".join(r for r in resolution if r),
    }


def rows(span: Period) -> list[dict]:
    """The register's rows: complaints received in the period (Paris days), oldest first."""
    start = datetime.combine(span.start, time.min, PARIS)
    end = datetime.combine(span.end + timedelta(days=1), time.min, PARIS)
    received = Case.received_at
    cases = db.session.scalars(select(Case).where(Case.parent_id.is_(None), received >= start, received < end)
                               .order_by(received, Case.id).limit(MAX_ROWS))
    return [_row(case) for case in cases]


def to_csv(span: Period, found: list[dict]) -> bytes:
    """The register as CSV (UTF-8 with BOM and semicolons: it opens as columns in a French spreadsheet)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([f"Registre des réclamations {span.label}"])
    writer.writerow(COLUMNS)
    for row in found:
        writer.writerow([row["reference"], row["received"], row["channel"], row["customer"], row["subject"],
                         row["description"], row["failings"], row["response"], " | ".join(row["actions"]) or "—",
                         row["resolution"]])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
