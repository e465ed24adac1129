"""The hash-chained, append-only audit log: written in the caller's transaction, verified on demand."""

import hashlib
import hmac
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from app import clock
from app.extensions import db
from app.models import AuditEvent, Case
from app.services.core import audit_keys, personal

GENESIS = "0" * 64


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _payload(event) -> dict:
    # An event row hashes its stored data (personal values sealed: app/models/privacy.py); a plain object (the
    # bulk generator's rows) carries that stored form as `data`.
    data = event.sealed if isinstance(event, AuditEvent) else event.data
    return {
        "case": event.case_reference, "seq": event.seq, "at": event.at.isoformat(), "actor": event.actor,
        "type": event.type, "task": event.task_id, "bpmn_id": event.bpmn_id,
        "definition": event.definition_id, "data": data, "prev": event.prev_hash,
    }


def compute_hash(event: AuditEvent) -> str:
    """The plain (unkeyed) SHA-256 of an event's content and the previous hash: events written before keying."""
    return hashlib.sha256(_canonical(_payload(event)).encode("utf-8")).hexdigest()


def keyed_hash(event, key: bytes) -> str:
    """The HMAC-SHA256 of an event's content, the previous hash and its key id, with an audit key."""
    payload = {**_payload(event), "key": event.key_id}
    return hmac.new(key, _canonical(payload).encode("utf-8"), hashlib.sha256).hexdigest()


def _key(key_id: str) -> bytes | None:
    key = audit_keys.ring().get(key_id)
    if key is None:  # rotated by another process since this one loaded the ring
        audit_keys.forget()
        key = audit_keys.ring().get(key_id)
    return key


def seal(event) -> str:
    """Key an event with the active audit key: set its key id and hash (any object with the event's fields)."""
    keys = audit_keys.ring()
    event.key_id = keys.active_id
    event.hash = keyed_hash(event, keys.active)
    return event.hash


def expected_hash(event) -> str | None:
    """What the event's hash must be (None: its key is not in the ring)."""
    if event.key_id is None:
        return compute_hash(event)
    key = _key(event.key_id)
    return keyed_hash(event, key) if key is not None else None


def _head_query(where):
    table = AuditEvent.__table__
    return select(table.c.seq, table.c.hash).where(where).order_by(table.c.seq.desc()).limit(1)


# Built once (the case id bound): the head is read before the first event of each case and transaction.
_HEAD = _head_query(AuditEvent.__table__.c.case_id == bindparam("case_id"))
_GLOBAL_HEAD = _head_query(AuditEvent.__table__.c.case_id.is_(None))


def _head_column(name: str):
    table = AuditEvent.__table__
    return (select(table.c[name]).where(table.c.case_id == bindparam("case_id"))
            .order_by(table.c.seq.desc()).limit(1).scalar_subquery())


# The head of a case's chain as two columns of another statement (the case id bound as "case_id"): read with the
# rows a completion reads right after its case's lock (case_lock.lock_task_case), then given to `note_head`.
HEAD_SEQ, HEAD_HASH = _head_column("seq"), _head_column("hash")


def note_head(case_id: int, seq: int | None, hash_: str | None) -> None:
    """The head of a case's chain as just read under the case's lock (no event: nothing noted), so that the
    step's first event need not query it; a head added by this transaction meanwhile is kept."""
    if seq is not None:
        _pending_heads().setdefault(case_id, Recorded(seq=seq, hash=hash_))


def _last(case_id: int | None):
    """The head of a chain: its last event's (seq, hash) row, or None."""
    with db.session.no_autoflush:  # the events added by this transaction are in its cache (_pending_heads)
        if case_id is None:
            return db.session.execute(_GLOBAL_HEAD).first()
        return db.session.execute(_HEAD, {"case_id": case_id}).first()


class Recorded:
    """An event as written by `record`: its columns (`data` is the stored, sealed form that was hashed)."""

    def __init__(self, **columns):
        self.__dict__.update(columns)


_INSERT = AuditEvent.__table__.insert()  # built once: each event is bound as parameters (one cached statement)


def record(case: Case | None, actor: str, type_: str, *, data: dict | None = None, task_id: str | None = None,
           bpmn_id: str | None = None) -> Recorded:
    """Append one event to the case's chain (or the global chain) in the current transaction.

    Written at once by a prebuilt INSERT on the session's connection (an event is never changed afterwards, so
    it needs no unit of work): a query later in the transaction finds it like any other row.
    """
    if case is not None and case.id is None:
        db.session.flush()
    # JSON round trip: the stored data is exactly what was hashed, whatever the backend gives back.
    clean = json.loads(_canonical(data or {}))
    if case is not None:
        clean = personal.seal(case, clean)  # personal values enter the chain sealed (crypto-shredding)
    cache = _pending_heads()
    key = case.id if case is not None else None
    held = db.session.info.get(_BATCH)
    last = cache.get(key) or _held_head(held, key) or _last(key)
    event = Recorded(
        case_id=key, case_reference=case.reference if case is not None else None,
        seq=(last.seq + 1) if last else 1, at=clock.now(), actor=actor, type=type_, task_id=task_id,
        bpmn_id=bpmn_id, definition_id=case.definition_id if case is not None else None, data=clean,
        prev_hash=last.hash if last else GENESIS, hash="",
    )
    seal(event)
    columns = dict(event.__dict__)
    columns["data"] = clean
    if held is not None:
        held.append(columns)
    else:
        with db.session.no_autoflush:
            db.session.execute(_INSERT, columns)
    cache[key] = event
    return event


_BATCH = "audit_batch"


def _held_head(held: list | None, key: int | None) -> Recorded | None:
    """The chain's last event held by an open `batched` block, not written yet: after a savepoint's rollback
    empties the cache of heads, the table does not hold these events yet."""
    for columns in reversed(held or ()):
        if columns["case_id"] == key:
            return Recorded(seq=columns["seq"], hash=columns["hash"])
    return None


@contextmanager
def batched() -> Iterator[None]:
    """Write the events recorded inside the block by one INSERT executed for all of them at its end (one round
    trip where there were several). Only for a block that reads nothing of the audit table meanwhile (each chain's
    head is read once and cached, as outside a block); nested blocks join the outer one; on an error nothing is
    written (the transaction is rolling back)."""
    info = db.session.info
    if info.get(_BATCH) is not None:
        yield
        return
    info[_BATCH] = []
    try:
        yield
    except BaseException:
        info.pop(_BATCH, None)
        raise
    rows = info.pop(_BATCH)
    if rows:
        with db.session.no_autoflush:
            db.session.execute(_INSERT, rows)


def write_held() -> None:
    """Write now the events held by the open `batched` block (it stays open for the events after): before work
    that may read the audit table, such as a linked case's creation."""
    rows = db.session.info.get(_BATCH)
    if rows:
        with db.session.no_autoflush:
            db.session.execute(_INSERT, list(rows))
        rows.clear()


def _pending_heads() -> dict:
    """Chain heads added in this transaction but maybe not flushed yet."""
    return db.session.info.setdefault("audit_heads", {})


def clear_pending(session, *args) -> None:
    """A rollback, a savepoint's included (events written inside it are gone): the cached heads are dropped."""
    session.info.pop("audit_heads", None)


def forget_heads(session, transaction) -> None:
    """The outermost transaction's end (commit, rollback, close) drops the cached heads; a savepoint's release
    does not (SQLAlchemy's after_commit fires for it too, so it is not the hook for this)."""
    if transaction.parent is None:
        session.info.pop("audit_heads", None)


REWRITTEN = "historique réécrit"


def rewritten_message(first: int, last: int) -> str:
    """What a chain that no longer passes through its checkpointed hash says: where the edit must lie."""
    where = f"l'événement {last}" if first >= last else f"un des événements {first} à {last}"
    return f"{REWRITTEN} : {where} n'est plus celui que le point de contrôle signé a scellé"


def hash_at(reference: str | None, seq: int) -> str | None:
    """The stored hash of one event of a chain (None when missing)."""
    chain = AuditEvent.case_reference.is_(None) if reference is None else AuditEvent.case_reference == reference
    return db.session.scalar(select(AuditEvent.hash).where(chain, AuditEvent.seq == seq))


@dataclass
class ChainProblem:
    reference: str | None
    seq: int
    message: str


def verify(reference: str | None = None, anchors: dict | None = None) -> list[ChainProblem]:
    """Check every chain (or one case's): each event's hash and its link to the previous one.

    `anchors` maps a chain (case reference, None for the global chain) to the (seq, hash) a signed checkpoint
    recorded: the chain must still pass through that hash (recomputing every hash, even with the key, cannot
    hide an edit made before the checkpoint), and an unkeyed event is accepted only where a checkpoint covers it.
    """
    query = select(AuditEvent).order_by(AuditEvent.case_id, AuditEvent.seq)
    if reference is not None:
        query = query.where(AuditEvent.case_reference == reference)
    problems, previous, keyed, last_seen = [], {}, set(), {}
    for event in db.session.scalars(query).yield_per(1000):
        key = event.case_id
        expected_prev, expected_seq = previous.get(key, (GENESIS, 1))
        anchor = (anchors or {}).get(event.case_reference)
        if event.seq != expected_seq:
            problems.append(ChainProblem(event.case_reference, event.seq, f"séquence attendue {expected_seq}"))
        elif event.prev_hash != expected_prev:
            problems.append(ChainProblem(event.case_reference, event.seq, "lien vers l'événement précédent rompu"))
        else:
            expected = expected_hash(event)
            if expected is None:
                problems.append(ChainProblem(event.case_reference, event.seq,
                                             f"clé d'audit « {event.key_id} » introuvable"))
            elif expected != event.hash:
                problems.append(ChainProblem(event.case_reference, event.seq, "contenu modifié (empreinte invalide)"))
            elif event.key_id is None and key in keyed:
                problems.append(ChainProblem(event.case_reference, event.seq,
                                             "empreinte sans clé après des événements à clé"))
            elif event.key_id is None and anchors is not None and (anchor is None or event.seq > anchor[0]):
                problems.append(ChainProblem(event.case_reference, event.seq,
                                             "empreinte sans clé non couverte par un point de contrôle signé"))
            elif anchor is not None and event.seq == anchor[0] and event.hash != anchor[1]:
                problems.append(ChainProblem(event.case_reference, event.seq, rewritten_message(1, event.seq)))
        if event.key_id is not None:
            keyed.add(key)
        previous[key] = (event.hash, event.seq + 1)
        last_seen[event.case_reference] = event.seq
    for chain, (seq, _hash) in (anchors or {}).items():
        if reference is not None and chain != reference:
            continue
        if last_seen.get(chain, 0) < seq:
            problems.append(ChainProblem(chain, last_seen.get(chain, 0) + 1,
                                         f"événements supprimés : le point de contrôle signé en compte {seq}"))
    return problems


def head(case_id: int) -> str:
    """The hash at the head of a case's chain (events added by the current transaction included)."""
    last = _pending_heads().get(case_id) or _last(case_id)
    return last.hash if last else GENESIS


def count_for(case_id: int) -> int:
    return db.session.scalar(select(func.count()).where(AuditEvent.case_id == case_id)) or 0


def history(case_id: int) -> list[AuditEvent]:
    """A case's events in order."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)))
