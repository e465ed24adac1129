"""Staff registration of a new intake: start a case, or show likely duplicates, or link it to an open case."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.forms.fields import validate_submission
from app.models import User
from app.services.cases import lifecycle as cases
from app.services.cases.duplicates import Duplicate, find_duplicates
from app.services.core import audit, definitions
from app.services.core.case_lock import lock_case
from app.services.core.errors import Conflict, Forbidden, Invalid
from app.services.core.transaction import transaction


@dataclass
class IntakeResult:
    case: object | None = None  # the new case, or the existing one the intake was linked to
    linked: bool = False
    duplicates: list[Duplicate] = field(default_factory=list)


def startable(user: User) -> list:
    """The active processes whose start lane includes the user, as (definition, spec) pairs."""
    found = []
    for definition in definitions.all_active():
        pspec = definitions.spec_for(definition)
        if pspec.start_form is not None and (not pspec.start_lane or user.in_any(pspec.start_lane)):
            found.append((definition, pspec))
    return found


def process_name(process_key: str) -> str:
    """The French name of a process (its key when it has none)."""
    return definitions.active(process_key).name or process_key


def start_form(user: User, process_key: str) -> list:
    """The start form fields of a process the user may start."""
    pspec = definitions.spec_for(definitions.active(process_key))
    if pspec.start_lane and not user.in_any(pspec.start_lane):
        raise Forbidden(f"Seul le groupe « {pspec.start_lane} » peut ouvrir un dossier « {process_key} ».")
    return pspec.start_form


def register(user: User, process_key: str, raw: dict, *, confirm_new: bool = False, link_to: str | None = None,
             html: bool = False) -> IntakeResult:
    """Validate the start form; then link to `link_to`, or report duplicates unless confirmed, or start the case."""
    fields = start_form(user, process_key)
    clean, errors = validate_submission(fields, raw or {}, html=html)
    errors.update(cases.future_received_date(clean))
    if errors:
        raise Invalid(errors)
    if link_to:
        return IntakeResult(case=link_intake(user, link_to, process_key, clean), linked=True)
    if not confirm_new:
        duplicates = find_duplicates(clean)
        if duplicates:
            return IntakeResult(duplicates=duplicates)
    return IntakeResult(case=cases.start_case(user, process_key, raw, html=html))


def link_intake(user: User, reference: str, process_key: str, clean: dict):
    """Record an intake on an existing open case's timeline instead of opening a second case."""
    case = lock_case(cases.get_case(reference).id)  # the case row lock first (case_lock)
    if case.completed:
        raise Conflict("Ce dossier est clos : ouvrez un nouveau dossier.")
    with transaction():
        audit.record(case, user.username, "intake_linked", data={
            "process": process_key, "channel": clean.get("channel"),
            "data": {k: v for k, v in clean.items() if v not in (None, "")}})
    return case
