#!/usr/bin/env python3
"""Check an exported audit trail (JSON or CSV) with the installation's public key alone.

    python3 verify_export.py audit-REC-2026-000001.json --public-key audit-public-key.pem

Needs only Python 3.11 and `cryptography` (pip install cryptography): no database, no application, no secret.
Checks the Ed25519 signature of the export (one changed byte fails), the signature of the checkpoint it
carries, the inclusion proof of the case's chain head in the checkpoint's Merkle root, the chain links, and the
plain hashes of events written before keying (keyed hashes need the HMAC key, which stays on the server: the
signature and the checkpoint stand for them). Exit status 0 when intact, 1 otherwise, with one line per problem.
The application's own check (`flask --app app audit verify-export`, app/services/audit/exports.py) is the same.
"""

import argparse
import base64
import csv
import hashlib
import io
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

FORMAT = "reclamations-audit-trail/2"
GENESIS = "0" * 64
CSV_COLUMNS = ("seq", "at", "actor", "type", "bpmn_id", "task", "definition_id", "data", "prev_hash", "hash",
               "key_id", "date_paris", "evenement", "etape", "details")


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def signature_ok(key: Ed25519PublicKey, signature: str, message: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def root_from_proof(leaf: list, path: list) -> str:
    node = hashlib.sha256(b"\x00" + canonical(leaf)).digest()
    for side, sibling in path:
        pair = bytes.fromhex(sibling) + node if side == "L" else node + bytes.fromhex(sibling)
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node.hex()


def plain_hash(item: dict) -> str:
    payload = {"case": item["case"], "seq": item["seq"], "at": item["at"], "actor": item["actor"],
               "type": item["type"], "task": item["task"], "bpmn_id": item["bpmn_id"],
               "definition": item["definition_id"], "data": item["data"], "prev": item["prev_hash"]}
    return hashlib.sha256(canonical(payload)).hexdigest()


def check_trail(doc: dict, key: Ed25519PublicKey) -> list[str]:
    problems, previous = [], GENESIS
    events = doc.get("events") or []
    for index, item in enumerate(events, start=1):
        if item["seq"] != index:
            problems.append(f"événement {item['seq']} : séquence attendue {index}")
        if item["prev_hash"] != previous:
            problems.append(f"événement {item['seq']} : lien vers l'événement précédent rompu")
        if item.get("key_id") is None and plain_hash(item) != item["hash"]:
            problems.append(f"événement {item['seq']} : contenu modifié (empreinte invalide)")
        previous = item["hash"]
    if doc.get("head") != previous:
        problems.append("la tête de chaîne annoncée ne correspond pas au dernier événement")
    if doc.get("count") != len(events):
        problems.append("le nombre d'événements annoncé ne correspond pas")
    checkpoint, inclusion = doc.get("checkpoint"), doc.get("proof") or {}
    if checkpoint:
        header = checkpoint.get("header") or {}
        if not signature_ok(key, checkpoint.get("signature", ""), canonical(header)):
            problems.append("signature du point de contrôle invalide")
        leaf = inclusion.get("leaf") or [None, 0, ""]
        if root_from_proof(leaf, inclusion.get("path") or []) != header.get("root"):
            problems.append("preuve d'inclusion ne menant pas à la racine signée")
        if leaf[0] != doc.get("reference"):
            problems.append("la preuve d'inclusion concerne un autre dossier")
        at_checkpoint = next((e for e in events if e["seq"] == leaf[1]), None)
        if at_checkpoint is None or at_checkpoint["hash"] != leaf[2]:
            problems.append(f"événement {leaf[1]} : historique différent de celui du point de contrôle signé")
    return problems


def verify_json(data: bytes, key: Ed25519PublicKey) -> list[str]:
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return ["format inconnu"]
    unsigned = {k: v for k, v in doc.items() if k != "signature"}
    problems = [] if signature_ok(key, doc.get("signature", ""), canonical(unsigned)) \
        else ["signature de l'export invalide"]
    return problems + check_trail(doc, key)


def verify_csv(data: bytes, key: Ed25519PublicKey) -> list[str]:
    at = data.rfind(b"#signature,")
    if at < 0:
        return ["signature absente"]
    body, signature = data[:at], data[at + len(b"#signature,"):].strip().decode("ascii", "replace")
    problems = [] if signature_ok(key, signature, body) else ["signature de l'export invalide"]
    # cells starting with a formula character (or a quote) carry a leading quote: the exact text is without it
    rows = [[c[1:] if c.startswith("'") else c for c in r] for r in csv.reader(io.StringIO(body.decode("utf-8-sig")))]
    meta = json.loads(next(r for r in rows if r and r[0] == "#document")[1])
    events = []
    for row in rows[1:]:
        if not row or row[0].startswith("#"):
            continue
        item = dict(zip(CSV_COLUMNS, row, strict=True))
        events.append({"case": meta["reference"], "seq": int(item["seq"]), "at": item["at"], "actor": item["actor"],
                       "type": item["type"], "task": item["task"] or None, "bpmn_id": item["bpmn_id"] or None,
                       "definition_id": int(item["definition_id"]) if item["definition_id"] else None,
                       "data": json.loads(item["data"]), "prev_hash": item["prev_hash"], "hash": item["hash"],
                       "key_id": item["key_id"] or None})
    return problems + check_trail({**meta, "events": events}, key)


def verify(data: bytes, pem: bytes) -> list[str]:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        return ["clé publique Ed25519 attendue"]
    try:
        return verify_json(data, key) if data.lstrip().startswith(b"{") else verify_csv(data, key)
    except (KeyError, TypeError, ValueError, IndexError, StopIteration, UnicodeDecodeError, csv.Error):
        return ["contenu de l'export illisible ou incomplet"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="export JSON or CSV")
    parser.add_argument("--public-key", required=True, help="PEM file from `flask --app app audit public-key`")
    args = parser.parse_args(argv)
    with open(args.file, "rb") as handle:
        data = handle.read()
    with open(args.public_key, "rb") as handle:
        pem = handle.read()
    problems = verify(data, pem)
    for problem in problems:
        print(f"ÉCHEC : {problem}")
    if not problems:
        print("Export intègre : signature, point de contrôle et chaîne vérifiés avec la clé publique.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
