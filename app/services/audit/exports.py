"""Signed exports of a case's trail (JSON, CSV) and their verification with the public key alone.

An export carries every field the hashes cover, the latest signed checkpoint, the inclusion proof of the
case's chain head (as it was then) in the checkpoint's Merkle root, and an Ed25519 signature over the whole
document: one changed byte fails the check. Inside the application the key ring also recomputes the keyed
hashes; outside (scripts/verify_export.py) the public key is all an auditor needs.
"""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

from app import clock
from app.extensions import db
from app.formatting import format_datetime_paris
from app.models import AuditEvent, ProcessDefinition
from app.services.audit import checkpoints, proof
from app.services.audit.replay import case_by_reference
from app.services.audit.wording import Words
from app.services.core import audit
from app.services.core.csv_export import BOM, exact_cell, uncell

EXPORT_FORMAT = "reclamations-audit-trail/2"
CSV_COLUMNS = ("seq", "at", "actor", "type", "bpmn_id", "task", "definition_id", "data", "prev_hash", "hash",
               "key_id")
# What a person reads (covered by the export's signature, not by the event hashes).
READABLE_COLUMNS = ("date_paris", "evenement", "etape", "details")
SIGNATURE_ROW = b"#signature,"


def _iso(value):
    return value.isoformat() if value is not None else None


def event_dict(event: AuditEvent) -> dict:
    """Every field of an event, including those its hash covers."""
    return {"case": event.case_reference, "seq": event.seq, "at": _iso(event.at), "actor": event.actor,
            "type": event.type, "task": event.task_id, "bpmn_id": event.bpmn_id,
            "definition_id": event.definition_id, "data": event.sealed, "prev_hash": event.prev_hash,
            "hash": event.hash, "key_id": event.key_id}


def _unsigned(reference: str) -> dict:
    case = case_by_reference(reference)
    events = audit.history(case.id)
    definition = db.session.get(ProcessDefinition, events[0].definition_id) if events else case.definition
    anchor = checkpoints.inclusion(case.reference) or {"checkpoint": None, "proof": None}
    words = Words(case, {e.definition_id for e in events if e.definition_id})
    return {
        "format": EXPORT_FORMAT, "reference": case.reference, "process": case.process_key,
        "version": definition.version, "definition_sha256": definition.sha256,
        "head": events[-1].hash if events else audit.GENESIS, "count": len(events),
        "exported_at": clock.now().isoformat(), "public_key": proof.public_key_id(checkpoints.public_key_pem()),
        "checkpoint": anchor["checkpoint"], "proof": anchor["proof"],
        "events": [{**event_dict(e), "readable": readable(words, e)} for e in events],
    }


def readable(words: Words, event: AuditEvent) -> dict:
    """The event in business words: Paris time, French event and step names, details as (label, text)."""
    data = event.data or {}
    details = [[label, text] for label, text in words.pairs(data.get("submitted"))]
    details += [[label, f"{before} → {after}"] for label, before, after in words.changes(data.get("changes"))]
    if event.type == "case_started":
        details += [[label, text] for label, text in words.pairs(data.get("data"))]
    if data.get("path"):
        details.append(["Parcours", " › ".join(p["label"] + (f" → {', '.join(p['taken'])}" if p["taken"] else "")
                                              for p in words.path(data.get("path")))])
    details += [[label, text] for label, text in words.details(event)]
    return {"date": format_datetime_paris(event.at, seconds=True), "event": words.event(event.type),
            "step": words.element(event.bpmn_id), "details": details}


def export_trail(reference: str) -> dict:
    """A case's full trail as a signed JSON document that can be verified without the database."""
    document = _unsigned(reference)
    document["signature"] = checkpoints.sign(proof.canonical(document))
    return document


def export_json(reference: str) -> bytes:
    """The signed JSON export as written to a file (canonical bytes)."""
    return proof.canonical(export_trail(reference))


def export_csv(reference: str) -> bytes:
    """A case's full trail as CSV (data as JSON in one column), then the checkpoint, proof and signature rows."""
    document = _unsigned(reference)
    out = io.StringIO()
    out.write(BOM)  # spreadsheet programs read it as UTF-8; signed with the rest
    writer = csv.writer(out)

    def row(cells):  # no cell a spreadsheet would run as a formula, each one given back exactly by uncell
        writer.writerow([exact_cell(c) for c in cells])

    row(CSV_COLUMNS + READABLE_COLUMNS)
    for item in document["events"]:
        words = item["readable"]
        row([json.dumps(item["data"], ensure_ascii=False, sort_keys=True) if c == "data"
             else ("" if item[c] is None else item[c]) for c in CSV_COLUMNS]
            + [words["date"], words["event"], words["step"],
               " ; ".join(f"{label} : {text}" for label, text in words["details"])])
    meta = {k: v for k, v in document.items() if k != "events"}
    row(["#document", json.dumps(meta, ensure_ascii=False, sort_keys=True)])
    body = out.getvalue().encode("utf-8")
    return body + SIGNATURE_ROW + checkpoints.sign(body).encode("ascii") + b"\r\n"


# --- verification ----------------------------------------------------------------------------------------

def _keyed(item: dict) -> str | None:
    from datetime import datetime

    event = SimpleNamespace(case_reference=item["case"], seq=item["seq"], at=datetime.fromisoformat(item["at"]),
                            actor=item["actor"], type=item["type"], task_id=item["task"], bpmn_id=item["bpmn_id"],
                            definition_id=item["definition_id"], data=item["data"], prev_hash=item["prev_hash"],
                            key_id=item.get("key_id"))
    return audit.expected_hash(event)


def check_trail(document: dict, public_key, recompute_keyed=None) -> list[str]:
    """Checkpoint signature, inclusion proof, chain links, hashes (plain ones always, keyed ones with the ring)."""
    problems, previous = [], audit.GENESIS
    events = document.get("events") or []
    for index, item in enumerate(events, start=1):
        if item["seq"] != index:
            problems.append(f"événement {item['seq']} : séquence attendue {index}")
        if item["prev_hash"] != previous:
            problems.append(f"événement {item['seq']} : lien vers l'événement précédent rompu")
        if item.get("key_id") is None:
            expected = proof.plain_hash(item)
        else:
            expected = recompute_keyed(item) if recompute_keyed else item["hash"]
        if expected != item["hash"]:
            problems.append(f"événement {item['seq']} : contenu modifié (empreinte invalide)")
        previous = item["hash"]
    if document.get("head") != previous:
        problems.append("la tête de chaîne annoncée ne correspond pas au dernier événement")
    if document.get("count") != len(events):
        problems.append("le nombre d'événements annoncé ne correspond pas")
    checkpoint, inclusion = document.get("checkpoint"), document.get("proof")
    if checkpoint:
        header = checkpoint.get("header") or {}
        if not proof.signature_ok(public_key, checkpoint.get("signature", ""), proof.canonical(header)):
            problems.append("signature du point de contrôle invalide")
        leaf = (inclusion or {}).get("leaf") or [None, 0, ""]
        if proof.root_from_proof(leaf, (inclusion or {}).get("path") or []) != header.get("root"):
            problems.append("preuve d'inclusion ne menant pas à la racine signée")
        if leaf[0] != document.get("reference"):
            problems.append("la preuve d'inclusion concerne un autre dossier")
        at_checkpoint = next((e for e in events if e["seq"] == leaf[1]), None)
        if at_checkpoint is None or at_checkpoint["hash"] != leaf[2]:
            problems.append(f"événement {leaf[1]} : historique différent de celui du point de contrôle signé")
    return problems


def verify_document(document: dict | str | bytes, public_pem: bytes, recompute_keyed=None) -> list[str]:
    """Every problem of a JSON export (empty when intact)."""
    try:
        doc = json.loads(document) if isinstance(document, (str, bytes)) else document
    except ValueError:
        return ["fichier illisible (JSON invalide)"]
    if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
        return ["format inconnu"]
    public_key = proof.load_public_key(public_pem)
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    problems = [] if proof.signature_ok(public_key, doc.get("signature", ""), proof.canonical(unsigned)) \
        else ["signature de l'export invalide"]
    try:
        return problems + check_trail(doc, public_key, recompute_keyed)
    except (KeyError, TypeError, ValueError, IndexError):
        return problems + ["contenu de l'export incomplet"]


def verify_csv(data: bytes, public_pem: bytes, recompute_keyed=None) -> list[str]:
    """Every problem of a CSV export (empty when intact)."""
    at = data.rfind(SIGNATURE_ROW)
    if at < 0:
        return ["signature absente"]
    body, signature = data[:at], data[at + len(SIGNATURE_ROW):].strip().decode("ascii", "replace")
    public_key = proof.load_public_key(public_pem)
    problems = [] if proof.signature_ok(public_key, signature, body) else ["signature de l'export invalide"]
    try:
        rows = [[uncell(c) for c in r] for r in csv.reader(io.StringIO(body.decode("utf-8-sig")))]
        meta = json.loads(next(r for r in rows if r and r[0] == "#document")[1])
        events = []
        for row in rows[1:]:
            if not row or row[0].startswith("#"):
                continue
            item = dict(zip(CSV_COLUMNS + READABLE_COLUMNS, row, strict=True))
            events.append({"case": meta["reference"], "seq": int(item["seq"]), "at": item["at"],
                           "actor": item["actor"], "type": item["type"], "task": item["task"] or None,
                           "bpmn_id": item["bpmn_id"] or None,
                           "definition_id": int(item["definition_id"]) if item["definition_id"] else None,
                           "data": json.loads(item["data"]), "prev_hash": item["prev_hash"], "hash": item["hash"],
                           "key_id": item["key_id"] or None})
        return problems + check_trail({**meta, "events": events}, public_key, recompute_keyed)
    except (KeyError, TypeError, ValueError, StopIteration, IndexError, UnicodeDecodeError, csv.Error):
        return problems + ["contenu de l'export incomplet"]


def verify_file(data: bytes, public_pem: bytes) -> list[str]:
    """Check an export file (JSON or CSV) inside the application: keyed hashes recomputed with the key ring."""
    if data.lstrip().startswith(b"{"):
        return verify_document(data, public_pem, _keyed)
    return verify_csv(data, public_pem, _keyed)


def verify_export(document: dict | str | bytes) -> list[str]:
    """Check a JSON export with this installation's public key and key ring."""
    return verify_document(document, checkpoints.public_key_pem(), _keyed)
