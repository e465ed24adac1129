"""Bulk demo data for volume tests: realistic cases, task rows and audit events inserted directly (not through
the engine): COPY on PostgreSQL, multi-row Core inserts on SQLite.

The cases have no serialized workflow: they fill lists, searches and indicators, but their ready tasks cannot be
completed. Audit events are properly hash-chained, so `flask audit verify` still passes.
"""

import random
import uuid
from datetime import datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB

from app import clock
from app.extensions import db
from app.models import Action, ActionCase, AuditEvent, Case, ProcessDefinition, SequenceCounter, TaskRow
from app.models.case import cause_key
from app.models.types import seconds_between
from app.services.core import definitions, rollup
from app.services.core.audit import GENESIS, seal

BATCH = 2000
SURVEY_DAYS = 30  # processes/reclamation.bpmn: the survey task's boundary timer (« Sans réponse après 30 jours »)
CHANNELS = (("web", 30), ("email", 30), ("phone", 20), ("letter", 12), ("registered_letter", 3), ("counter", 5))
ORIGINS = (("external_customer", 85), ("internal_customer", 10), ("supplier", 5))
KINDS = (("complaint", 78), ("request", 10), ("compliment", 6), ("suggestion", 6))
CATEGORIES = (("billing", 30), ("delivery", 25), ("product", 20), ("service", 12), ("staff", 8), ("other", 5))
DEPARTMENTS = {"billing": "billing", "delivery": "logistics", "product": "technical", "service": "customer_service",
               "staff": "customer_service", "other": "sales"}
CAUSES = {"billing": ["Double facturation", "Tarif non mis à jour", "Remise oubliée"],
          "delivery": ["Retard transporteur", "Colis endommagé", "Adresse erronée"],
          "product": ["Défaut de fabrication", "Notice incomplète", "Pièce manquante"],
          "service": ["Délai d'intervention", "Rappel non effectué"],
          "staff": ["Accueil", "Information erronée"], "other": ["Autre"]}
SEVERITIES = (("low", 30), ("medium", 50), ("high", 15), ("critical", 5))
NAMES = ["Martine Lefèvre", "Boulangerie Durand", "Acier Nord SA", "Jean Moreau", "Claire Petit", "Garage Martin",
         "Sophie Bernard", "Hôtel du Parc", "Luc Fontaine", "Pharmacie Centrale", "Nadia Haddad", "Transports Roux"]
# (bpmn id, lane, French name, median duration in days)
STEPS = {"ut_qualify": ("gestionnaire", "Qualifier la réclamation", 0.8),
         "ut_analyse": ("service", "Analyser la réclamation", 4.0),
         "ut_decide": ("gestionnaire", "Décider et répondre", 1.5),
         "ut_reaction": ("gestionnaire", "Enregistrer la réaction du client", 3.0),
         "ut_capa": ("qualite", "Définir les actions correctives et préventives", 5.0),
         "ut_survey": ("gestionnaire", "Enregistrer la réponse à l’enquête", 4.0),
         "ut_handle_feedback": ("gestionnaire", "Traiter le retour", 1.0)}
DISPUTE_STEPS = {"ut_analyse": ("commercial", "Analyser le litige", 6.0),
                 "ut_credit_note": ("finance", "Établir l’avoir", 3.0),
                 "ut_release": ("finance", "Enregistrer la levée du blocage", 8.0),
                 "ut_close": ("gestionnaire", "Clôturer le litige", 1.0)}


def _pick(rng: random.Random, weighted) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def _duration(rng: random.Random, median_days: float) -> timedelta:
    return timedelta(days=median_days * rng.lognormvariate(0, 0.6))


class _Chains:
    """Audit rows with their hash chain, per case."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, case: dict, seq: int, prev: str, at: datetime, type_: str, data: dict, bpmn_id=None, task_id=None):
        row = {"case_id": case["id"], "case_reference": case["reference"], "seq": seq, "at": at, "actor": "demo",
               "type": type_, "task_id": task_id, "bpmn_id": bpmn_id, "definition_id": case["definition_id"],
               "data": data, "prev_hash": prev, "hash": "", "key_id": None}
        sealed = SimpleNamespace(**row)  # a plain object: seal only reads and sets attributes
        seal(sealed)
        row["hash"], row["key_id"] = sealed.hash, sealed.key_id
        self.rows.append(row)
        return row["hash"]


def _plan(rng: random.Random, process: str, kind: str, received: datetime, now: datetime):
    """The task rows and letters of one case: [(bpmn id, created, completed or None)], [(template, at)], closed,
    and when the survey went unanswered for SURVEY_DAYS, the moment its timer cancelled it (the process's
    boundary timer), else None."""
    steps = DISPUTE_STEPS if process == "litige" else STEPS
    if process == "litige":
        sequence = ["ut_analyse", "ut_credit_note", "ut_release", "ut_close"]
    elif kind != "complaint":
        sequence = ["ut_handle_feedback"]
    else:
        sequence = ["ut_qualify", "ut_analyse", "ut_decide", "ut_reaction"]
        if rng.random() < 0.1:  # re-examination pass
            sequence += ["ut_analyse", "ut_decide", "ut_reaction"]
        if rng.random() < 0.06:
            sequence.append("ut_capa")
    tasks, letters, moment, closed = [], [], received + timedelta(minutes=rng.randint(5, 240)), None
    timeout = None
    letters.append(("acknowledgment", received))
    slow = 4.0 if rng.random() < 0.08 else 1.0  # a few cases get stuck: they make the overdue and at-risk lists
    for bpmn_id in sequence:
        done = moment + _duration(rng, steps[bpmn_id][2]) * slow
        if done > now:
            tasks.append((bpmn_id, moment, None))
            return tasks, letters, None, None
        tasks.append((bpmn_id, moment, done))
        if bpmn_id in ("ut_decide", "ut_handle_feedback"):
            letters.append(("response", done))
        moment = done
    closed = moment
    if process == "reclamation":
        letters += [("closure", closed), ("survey", closed)]
        answered = moment + _duration(rng, STEPS["ut_survey"][2])
        answered = answered if answered <= now and rng.random() < 0.55 else None
        tasks.append(("ut_survey", closed, answered))
        if answered is None and closed + timedelta(days=SURVEY_DAYS) <= now:
            timeout = closed + timedelta(days=SURVEY_DAYS)
    return tasks, letters, closed, timeout


def generate(count: int, seed: int = 7, days: int = 365, actions: int = 200, progress=None) -> int:
    """Insert `count` cases received over the last `days` days with their tasks and audit events; return count.
    `progress(done)`, when given, is called after each committed batch."""
    rng = random.Random(seed)
    now = clock.now()
    defs = {key: definitions.active(key) for key in ("reclamation", "litige")}
    versions = {key: list(db.session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == key,
                                                                               ProcessDefinition.status == "deployed")))
                for key in defs}
    next_id = (db.session.scalar(select(func.max(Case.id))) or 0) + 1
    counters: dict[str, int] = {}
    done = 0
    while done < count:
        size = min(BATCH, count - done)
        cases, tasks, chains = [], [], _Chains()
        for _ in range(size):
            process = "litige" if rng.random() < 0.08 else "reclamation"
            received = now - timedelta(days=days * rng.random() ** 1.3)
            year = received.year
            prefix = f"{'LIT' if process == 'litige' else 'REC'}-{year}"
            if prefix not in counters:
                counters[prefix] = _start(prefix)
            counters[prefix] += 1
            definition = rng.choice(versions[process]) if rng.random() < 0.3 else defs[process]
            kind = "complaint" if process == "litige" else _pick(rng, KINDS)
            category = _pick(rng, CATEGORIES) if process == "reclamation" and kind == "complaint" else None
            channel = _pick(rng, CHANNELS) if process == "reclamation" else None
            written = channel in ("web", "email", "letter", "registered_letter")
            plan, letters, closed, timeout = _plan(rng, process, kind, received, now)
            ended = bool(closed and (process == "litige" or plan[-1][2] or timeout))  # the workflow's end reached
            status = "closed" if closed else ("answered" if any(t == "response" for t, _ in letters) else
                                              "in_progress" if len(plan) > 1 else "open")
            blocked = round(rng.uniform(80, 25000), 2) if process == "litige" else None
            case = {
                "id": next_id, "reference": f"{prefix}-{counters[prefix]:06d}", "process_key": process,
                "definition_id": definition.id, "status": status, "stage": "" if closed else STEPS.get(
                    plan[-1][0], DISPUTE_STEPS.get(plan[-1][0], ("", "", 0)))[1], "completed": ended,
                "channel": channel, "origin": _pick(rng, ORIGINS) if process == "reclamation" else None,
                "kind": kind if process == "reclamation" else None, "category": category,
                "department": DEPARTMENTS.get(category or "", None), "severity": _pick(rng, SEVERITIES),
                "customer_name": rng.choice(NAMES), "root_cause": rng.choice(CAUSES[category]) if category and
                any(t[0] == "ut_analyse" and t[2] for t in plan) else None,
                "amount": round(rng.uniform(10, 3000), 2) if process == "reclamation" else None,
                "blocked_amount": blocked,
                "credited_amount": round(blocked * rng.choice((0, 0.5, 1)), 2) if blocked and closed else None,
                "satisfaction_score": rng.choices((1, 2, 3, 4, 5), (5, 10, 20, 35, 30))[0]
                if process == "reclamation" and closed and plan[-1][2] else None,
                "received_at": received, "closed_at": closed, "created_at": received, "updated_at": closed or received,
                "due_at": (received + timedelta(days=15 if written else 14)) if process == "reclamation" else None,
                "created_by": "demo", "tracking_token": uuid.uuid4().hex + uuid.uuid4().hex[:8], "data": {},
                "lock_version": 1,
                # The indicator facts the engine's steps would have kept (app/services/core/rollup.py).
                "answered_at": max((at for t, at in letters if t in rollup.ANSWER_TEMPLATES), default=None),
                "survey_sent_at": max((at for t, at in letters if t == rollup.SURVEY_TEMPLATE), default=None),
                "processing_seconds": seconds_between(received, closed),
            }
            case["root_cause_key"] = cause_key(case["root_cause"])
            cases.append(case)
            seq, prev = 1, chains.add(case, 1, GENESIS, received, "case_started",
                                      {"process": process, "version": definition.version, "bulk": True})
            events = [(at, "message_sent", {"template": t}, f"st_{t}", None) for t, at in letters]
            for bpmn_id, created, completed in plan:
                task_id = str(uuid.uuid4())
                lane, name, _ = (DISPUTE_STEPS if process == "litige" else STEPS)[bpmn_id]
                cancelled = timeout if bpmn_id == "ut_survey" and not completed else None
                state = "completed" if completed else "cancelled" if cancelled else "ready"
                tasks.append({"id": task_id, "case_id": next_id, "case_reference": case["reference"],
                              "process_key": process, "bpmn_id": bpmn_id, "name": name, "lane": lane,
                              "state": state, "assignee": "demo" if completed else None,
                              "due_at": case["due_at"], "priority": 0, "customer_name": case["customer_name"],
                              "channel": channel, "created_at": created, "completed_at": completed or cancelled,
                              "completed_by": "demo" if completed else None,
                              **{d: case[d] for d in rollup.TASK_DIMS if d != "channel"},
                              "duration_seconds": seconds_between(created, completed or cancelled)})
                if completed:
                    events.append((completed, "task_completed", {"path": []}, bpmn_id, task_id))
                elif cancelled:  # what the engine records when the survey's boundary timer fires
                    events.append((cancelled, "timer_fired", {"timers": ["bt_survey_timeout"]}, None, None))
            for at, type_, data, bpmn_id, task_id in sorted(events, key=lambda e: e[0]):
                seq += 1
                prev = chains.add(case, seq, prev, at, type_, data, bpmn_id, task_id)
            next_id += 1
        for table, rows in ((Case.__table__, cases), (TaskRow.__table__, tasks), (AuditEvent.__table__, chains.rows)):
            insert_rows(table, rows)
        db.session.commit()
        done += size
        if progress is not None:
            progress(done)
    if db.session.get_bind().dialect.name == "postgresql":  # ids were given explicitly: move the sequence past them
        db.session.execute(text("SELECT setval(pg_get_serial_sequence('case_record', 'id'), "
                                "(SELECT max(id) FROM case_record))"))
    _save_counters(counters)
    _actions(rng, actions, now)
    rollup.rebuild(facts=False)  # the rows were inserted past the ORM: compute their rollup once
    db.session.commit()
    return done


class _Context:
    """What a column's Python default reads (`context.get_current_parameters()`), for rows written by COPY."""

    def __init__(self, row: dict):
        self.row = row

    def get_current_parameters(self) -> dict:
        return self.row


def insert_rows(table, rows: list[dict]) -> None:
    """Insert rows into a table in the current transaction: COPY on PostgreSQL (about 5× faster than the
    driver's pipelined executemany), a Core executemany elsewhere. Columns a row leaves out get their Python
    default (task.due_key, case.data_key…) or, without one, the server's."""
    if not rows:
        return
    if db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(table.insert(), rows)
        return
    from psycopg.types.json import Jsonb

    given = set(rows[0])
    columns = [c for c in table.columns if c.name in given or (c.default is not None and not c.primary_key)]
    defaults = {c.name: c.default for c in columns if c.name not in given}
    json_columns = {c.name for c in columns if isinstance(c.type.dialect_impl(db.engine.dialect), JSONB)}
    names = [c.name for c in columns]
    cursor = db.session.connection().connection.driver_connection.cursor()
    quoted = ", ".join(f'"{n}"' for n in names)
    with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
        for row in rows:
            values = []
            for name in names:
                if name in defaults:
                    default = defaults[name]
                    value = default.arg(_Context(row)) if default.is_callable else default.arg
                else:
                    value = row[name]
                values.append(Jsonb(value) if name in json_columns and value is not None else value)
            copy.write_row(values)


def _start(prefix: str) -> int:
    return db.session.scalar(select(SequenceCounter.value).where(SequenceCounter.name == prefix)) or 0


def _save_counters(counters: dict[str, int]) -> None:
    """Move the reference counters past the generated references, so new cases do not collide."""
    for name, value in counters.items():
        if db.session.get(SequenceCounter, name) is None:
            db.session.add(SequenceCounter(name=name, value=value))
        else:
            db.session.execute(update(SequenceCounter).where(SequenceCounter.name == name).values(value=value))


def _actions(rng: random.Random, count: int, now: datetime) -> None:
    """CAPA actions on frequent causes, most of them done months ago, each linked to a few complaints."""
    for _ in range(count):
        category = _pick(rng, CATEGORIES)
        cause = rng.choice(CAUSES[category])
        status = rng.choices(("open", "in_progress", "done", "cancelled"), (20, 20, 55, 5))[0]
        created = now - timedelta(days=rng.uniform(60, 300) if status == "done" else rng.uniform(5, 120))
        action = Action(kind=rng.choice(("corrective", "preventive", "curative")),
                        title=f"Traiter la cause « {cause} »", description="", owner="qualite",
                        due_on=(created + timedelta(days=30)).date(), status=status, category=category,
                        root_cause=cause, created_at=created, updated_at=created, created_by="demo",
                        completed_at=created + timedelta(days=rng.uniform(5, 50)) if status == "done" else None)
        db.session.add(action)
        db.session.flush()
        sample = db.session.scalars(select(Case.id).where(Case.category == category, Case.received_at < created)
                                    .order_by(Case.received_at.desc()).limit(rng.randint(1, 4)))
        for case_id in sample:
            db.session.add(ActionCase(action_id=action.id, case_id=case_id, linked_at=created, linked_by="demo"))
