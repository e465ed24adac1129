"""Versioned process definitions: deploy BPMN files, find the active version, get the parsed spec."""

import hashlib
from pathlib import Path

from sqlalchemy import String, cast, func, select, text

from app import clock
from app.engine import (
    SPECS,
    DefinitionError,
    ProcessSpec,
    bpmn_xml,
    dmn,
    executable_process_ids,
    parse_definition,
    parse_xml,
)
from app.extensions import db
from app.models import ProcessDefinition
from app.services.core import audit, deadline_rules, owner_tests
from app.services.core.errors import NotFound
from app.services.core.transaction import transaction


def sha256(xml: str, decisions: dict[str, str] | None = None) -> str:
    """The version's fingerprint: the BPMN, and its DMN documents when it has some."""
    digest = hashlib.sha256(xml.encode("utf-8"))
    for name, document in sorted((decisions or {}).items()):
        digest.update(b"\0" + name.encode("utf-8") + b"\0" + document.encode("utf-8"))
    return digest.hexdigest()


def decision_digests(decisions: dict[str, str] | None) -> dict[str, str]:
    """File name -> sha256 of each DMN document (for the audit trail)."""
    return {name: hashlib.sha256(document.encode("utf-8")).hexdigest()
            for name, document in sorted((decisions or {}).items())}


def decisions_next_to(xml: str, folder: Path) -> dict[str, str]:
    """The DMN files of a folder that the document's business rule tasks call, by file name."""
    refs = bpmn_xml.decision_refs(parse_xml(xml))
    found = {}
    for path in sorted(Path(folder).glob("*.dmn")) if refs else []:
        document = path.read_text(encoding="utf-8")
        if refs & set(dmn.decision_ids(document)):
            found[path.name] = document
    return found


def active(key: str) -> ProcessDefinition:
    """The latest deployed version of a process, or NotFound."""
    definition = db.session.scalars(
        select(ProcessDefinition).where(ProcessDefinition.key == key, ProcessDefinition.status == "deployed")
        .order_by(ProcessDefinition.version.desc()).limit(1)
    ).first()
    if definition is None:
        raise NotFound(f"Processus inconnu : {key}")
    return definition


def _latest():
    return (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v"))
            .where(ProcessDefinition.status == "deployed").group_by(ProcessDefinition.key).subquery())


def all_active() -> list[ProcessDefinition]:
    """The active version of every deployed process."""
    latest = _latest()
    return list(db.session.scalars(
        select(ProcessDefinition).join(latest, (ProcessDefinition.key == latest.c.key)
                                       & (ProcessDefinition.version == latest.c.v)).order_by(ProcessDefinition.key)
    ))


_ACTIVE_KEY = None


def active_versions_column():
    """A key of the active versions, for caches of what is derived from them, as a scalar subquery (a page's
    query reads it with its rows): "id:sha256" of each active version, comma-separated, in no set order
    (versions_key() makes it canonical). A deployed row never changes; the hash tells a database refilled with
    the same ids apart."""
    global _ACTIVE_KEY
    if _ACTIVE_KEY is None:  # built once: every task list view reads it
        latest = _latest()
        _ACTIVE_KEY = (
            select(func.aggregate_strings(cast(ProcessDefinition.id, String) + ":" + ProcessDefinition.sha256, ","))
            .select_from(ProcessDefinition)
            .join(latest, (ProcessDefinition.key == latest.c.key) & (ProcessDefinition.version == latest.c.v))
            .scalar_subquery().correlate(None))
    return _ACTIVE_KEY


def versions_key(raw: str | None) -> str:
    """The canonical form of what active_versions_column() read (its parts sorted)."""
    return ",".join(sorted(raw.split(","))) if raw else ""


def versions_key_of(definitions: list[ProcessDefinition]) -> str:
    """versions_key() of these definition rows (all_active()'s result, to check a key read before it)."""
    return versions_key(",".join(f"{d.id}:{d.sha256}" for d in definitions))


def active_versions_key() -> str:
    """versions_key() of the active versions, read now (one light query, no document loaded)."""
    return versions_key(db.session.scalar(select(active_versions_column())))


_USER_TASKS: dict[tuple[str, str], tuple[str, ...]] = {}  # (sha256, process key) -> user task ids (immutable)


def user_tasks_of_deployed() -> set[tuple[str, str]]:
    """(process key, user task id) of every deployed version, old ones included (tasks completed on them count)."""
    out = set()
    for key, sha in db.session.execute(select(ProcessDefinition.key, ProcessDefinition.sha256)
                                       .where(ProcessDefinition.status == "deployed")):
        if (sha, key) not in _USER_TASKS:
            definition = db.session.scalars(select(ProcessDefinition).where(
                ProcessDefinition.sha256 == sha, ProcessDefinition.key == key).limit(1)).one()
            _USER_TASKS[(sha, key)] = tuple(spec_for(definition).user_tasks)
        out.update((key, bpmn_id) for bpmn_id in _USER_TASKS[(sha, key)])
    return out


def spec_for(definition: ProcessDefinition) -> ProcessSpec:
    """The parsed spec of a definition row (parsed once per version and process, then cached; the XML and the
    decision tables are read only on a cache miss)."""
    cached = SPECS.cached(definition.sha256, definition.key)
    return cached if cached is not None else SPECS.get(definition.sha256, definition.key, definition.xml,
                                                        definition.decisions)


def form_problems(pspec) -> list[tuple[str, str]]:
    """(element, French message) for each form field whose id the forms reserve (meta, data, errors...)."""
    from app.forms.fields import reserved_id_message

    forms = [(pspec.key, pspec.start_form)] + [(bpmn_id, t["form"]) for bpmn_id, t in pspec.user_tasks.items()]
    return [(element, message) for element, fields in forms for spec in fields
            if (message := reserved_id_message(spec.name))]


def tests_next_to(path: Path) -> list[dict] | None:
    """The owner tests shipped next to a BPMN file (<name>.tests.json), or None."""
    found = path.with_name(path.stem + ".tests.json")
    if not found.exists():
        return None
    try:
        return owner_tests.parse_tests(found.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise DefinitionError([(None, f"{found.name} : {exc}")]) from None


def test_problems(xml: str, key: str, tests: list[dict] | None, decisions: dict[str, str] | None) -> list:
    """(element, French message) for each owner test that fails on this version."""
    return [(f.element, f"Test « {f.test} » : {f.message}")
            for f in owner_tests.run(xml, key, tests or [], decisions)] if tests else []


def deploy_xml(xml: str, actor: str, filename: str | None = None, decisions: dict[str, str] | None = None,
               tests: list[dict] | None = None) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy every executable process of a document; unchanged ones (same hash) make no new version.

    `decisions` are the DMN documents by file name (None: those of the active version).
    Returns (definition, created) pairs. Raises DefinitionError and writes nothing if any process is invalid.
    """
    root = parse_xml(xml)
    keys = executable_process_ids(root)
    if not keys:
        raise DefinitionError([(None, "Aucun processus exécutable (isExecutable=\"true\").")])
    if decisions is None:  # no DMN given: the tables of the active version go on, else the shipped ones
        decisions = {}
        for key in keys:
            try:
                decisions.update(active(key).decisions or {})
            except NotFound:
                continue
        if not decisions:
            from flask import current_app

            folder = current_app.config.get("PROCESSES_DIR") if current_app else None
            decisions = decisions_next_to(xml, Path(folder)) if folder else {}
    decisions = decisions or None
    digest = sha256(xml, decisions)
    parsed = [parse_definition(xml, key, filename or "process.bpmn", decisions) for key in keys]
    problems = [p for pspec in parsed for p in deadline_rules.check_definition(pspec) + form_problems(pspec)]
    problems += [p for pspec in parsed for p in test_problems(xml, pspec.key, tests, decisions)]
    if problems:
        raise DefinitionError(problems)
    serialize_deployments()
    results = []
    for pspec in parsed:
        try:
            current = active(pspec.key)
        except NotFound:
            current = None
        if current is not None and current.sha256 == digest:
            results.append((current, False))
            continue
        last_version = db.session.scalar(
            select(func.max(ProcessDefinition.version)).where(ProcessDefinition.key == pspec.key)) or 0
        now = clock.now()
        definition = ProcessDefinition(
            key=pspec.key, name=pspec.name, version=last_version + 1, status="deployed", xml=xml, sha256=digest,
            filename=filename, created_by=actor, created_at=now, deployed_by=actor, deployed_at=now,
            based_on_id=current.id if current else None, decisions=decisions, tests=tests,
        )
        db.session.add(definition)
        db.session.flush()
        audit.record(None, actor, "definition_deployed",
                     data={"key": definition.key, "version": definition.version, "sha256": digest,
                           "filename": filename, "definition_id": definition.id,
                           "decisions": decision_digests(decisions), "tests": len(tests or [])})
        results.append((definition, True))
    return results


DEPLOY_LOCK = 0x5245_4344  # any constant shared by every deployment


def serialize_deployments() -> None:
    """One deployment at a time (PostgreSQL advisory lock until commit): two concurrent deploys of a
    process would otherwise both take version n+1, and the global audit chain would fork."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DEPLOY_LOCK})


def deploy_files(paths: list[Path], actor: str) -> list[tuple[ProcessDefinition, bool]]:
    """Deploy BPMN files in one transaction: all of them or none; each with the DMN files of its folder that
    its business rule tasks call."""
    results = []
    with transaction():
        for path in paths:
            xml = Path(path).read_text(encoding="utf-8")
            results.extend(deploy_xml(xml, actor, Path(path).name, decisions_next_to(xml, Path(path).parent) or None,
                                      tests_next_to(Path(path))))
    return results
