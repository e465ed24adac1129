"""Likely duplicates of a new intake among open cases (staff registration and public intake share it)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import lazyload

from app import clock
from app.extensions import db
from app.models import Case
from app.services.core.search import like_escape

SIMILARITY_THRESHOLD = 0.5
RECENT_DAYS = 120
RECENT_LIMIT = 500
_STOP = frozenset("""le la les un une des de du d l et ou a au aux en pour par sur dans avec sans que qui ne pas
est sont été mon ma mes votre vos notre nos ce cette ces il elle ils on je nous vous leur plus très bien""".split())


@dataclass
class Duplicate:
    case: Case
    reasons: list[str] = field(default_factory=list)
    score: float = 0.0


def normalize(text: str | None) -> str:
    """Lower case, no accents, single spaces."""
    text = unicodedata.normalize("NFKD", text or "")
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    return " ".join(text.split())


def words(text: str | None) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", normalize(text)) if len(w) > 2 and w not in _STOP}


def similarity(a: str | None, b: str | None) -> float:
    """Word overlap of two descriptions (Jaccard index of their meaningful words)."""
    wa, wb = words(a), words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def invoice_refs(text: str | None) -> set[str]:
    return {r.upper() for r in re.split(r"[\s,;]+", text or "") if len(r) >= 3}


def find_duplicates(data: dict, *, exclude_id: int | None = None, limit: int = 5) -> list[Duplicate]:
    """Open cases that look like the same complaint: same customer or e-mail, same invoice, similar text."""
    name, email = normalize(data.get("customer_name")), (data.get("customer_email") or "").strip().lower()
    refs, description = invoice_refs(data.get("invoice_refs")), data.get("description") or ""
    conditions = []
    if name:
        conditions.append(func.lower(Case.customer_name) == (data.get("customer_name") or "").strip().lower())
    if email:
        conditions.append(func.lower(Case.customer_email) == email)
    for ref in sorted(refs)[:10]:
        conditions.append(Case.invoice_refs.ilike("%" + like_escape(ref) + "%", escape="\\"))
    since = clock.now() - timedelta(days=RECENT_DAYS)
    # Candidates are compared on their own columns: no eager join of each one's process definition (its XML).
    base = select(Case).options(lazyload(Case.definition)).where(Case.completed.is_(False))
    if exclude_id is not None:
        base = base.where(Case.id != exclude_id)
    candidates = {c.id: c for c in db.session.scalars(base.where(or_(*conditions)).limit(200))} if conditions else {}
    # Recent open cases are compared in Python too: accents and case in names, similar descriptions.
    if words(description) or name:
        for c in db.session.scalars(base.where(Case.received_at >= since).order_by(Case.received_at.desc())
                                    .limit(RECENT_LIMIT)):
            candidates.setdefault(c.id, c)
    found = []
    for case in candidates.values():
        dup = _compare(case, name, email, refs, description)
        if dup.reasons:
            found.append(dup)
    found.sort(key=lambda d: (-d.score, d.case.reference))
    return found[:limit]


def _compare(case: Case, name: str, email: str, refs: set[str], description: str) -> Duplicate:
    dup = Duplicate(case)
    if name and normalize(case.customer_name) == name:
        dup.reasons.append("même nom de réclamant")
        dup.score += 1
    if email and (case.customer_email or "").lower() == email:
        dup.reasons.append("même e-mail")
        dup.score += 1
    common = refs & invoice_refs(case.invoice_refs)
    if common:
        dup.reasons.append("même facture : " + ", ".join(sorted(common)))
        dup.score += 1.5
    ratio = similarity(description, (case.data or {}).get("description"))
    if ratio >= SIMILARITY_THRESHOLD:
        dup.reasons.append(f"description proche ({round(ratio * 100)} %)")
        dup.score += ratio
    return dup
