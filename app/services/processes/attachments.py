"""What goes with a process version besides its BPMN: decision tables (DMN documents) and owner tests.

Both are edited on a draft; a deployed version gets a new draft carrying them. The DMN documents are hashed
into the version's sha256 (definitions.sha256), the tests are not: they check a version, they are not it.
"""

from __future__ import annotations

import re

from app import clock
from app.engine import DefinitionError, dmn
from app.engine.parser import load_decisions
from app.extensions import db
from app.models import ProcessDefinition, User
from app.services.core import definitions, owner_tests
from app.services.core.errors import NotFound
from app.services.processes.admin import Problem, ValidationFailed, commit, get, require_editor
from app.services.processes.validation import validate

DMN_FILENAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,115}\.dmn", re.ASCII)


def save_decision(user: User, definition_id: int, dmn_xml: str, filename: str | None = None) -> tuple[
        ProcessDefinition, list[Problem]]:
    """Attach a DMN document to a draft (replacing the file that defines the same decision); a deployed
    version gets a new draft with it. Refused if the DMN document itself is unreadable or invalid."""
    require_editor(user)
    if not isinstance(dmn_xml, str):
        raise ValidationFailed([Problem(None, None, "Document DMN attendu (texte XML).")])
    try:
        ids = dmn.decision_ids(dmn_xml)
        load_decisions({filename or "decision.dmn": dmn_xml})
    except DefinitionError as exc:
        raise ValidationFailed([Problem(e, e, m) for e, m in exc.problems], "Table de décision invalide.") from None
    source = get(definition_id)
    decisions = {name: text for name, text in (source.decisions or {}).items()
                 if not set(dmn.decision_ids(text)) & set(ids)}
    name = filename if filename and DMN_FILENAME.fullmatch(filename) else f"{ids[0]}.dmn"
    decisions[name] = dmn_xml
    checked_key, problems = validate(source.xml, source.key, decisions)

    def work():
        now = clock.now()
        if source.status == "draft":
            draft = source
        else:
            draft = ProcessDefinition(key=source.key, version=None, status="draft", name=source.name, xml=source.xml,
                                      filename=source.filename, based_on_id=source.id, tests=source.tests)
            db.session.add(draft)
        draft.decisions = decisions
        draft.sha256 = definitions.sha256(draft.xml, decisions)
        draft.created_by, draft.created_at = user.username, now
        db.session.flush()
        return draft

    return commit(work), problems


def save_tests(user: User, definition_id: int, document) -> tuple[ProcessDefinition, list]:
    """Store the owner tests of a draft (a deployed version gets a new draft with them); return the draft and
    the failures of a run against it (shown at once, checked again at deploy)."""
    require_editor(user)
    try:
        tests = owner_tests.parse_tests(document)
    except ValueError as exc:
        raise ValidationFailed([Problem(None, None, str(exc))], "Tests du processus invalides.") from None
    source = get(definition_id)

    def work():
        if source.status == "draft":
            draft = source
        else:
            draft = ProcessDefinition(key=source.key, version=None, status="draft", name=source.name, xml=source.xml,
                                      filename=source.filename, based_on_id=source.id, decisions=source.decisions,
                                      sha256=source.sha256)
            db.session.add(draft)
        draft.tests = tests or None
        draft.created_by, draft.created_at = user.username, clock.now()
        db.session.flush()
        return draft

    draft = commit(work)
    return draft, owner_tests.run(draft.xml, draft.key, tests, draft.decisions)


def decision_document(definition_id: int, filename: str) -> str:
    """The text of one DMN document of a version, or NotFound."""
    text = (get(definition_id).decisions or {}).get(filename)
    if text is None:
        raise NotFound("Table de décision inconnue pour cette version.")
    return text
