"""The public half of the audit's tamper evidence: canonical JSON, the Merkle tree over chain heads, Ed25519.

Pure functions (standard library and `cryptography` only): what a checkpoint's root and an inclusion proof are,
and how a signature is checked with the public key. scripts/verify_export.py restates the verifying half for
auditors who have only an export and the public key (tests/test_audit_tamper.py runs both on the same files).
"""

from __future__ import annotations

import base64
import hashlib
import json

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def canonical(value) -> bytes:
    """The one byte form that is hashed and signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(leaf: list) -> bytes:
    """A leaf is [chain (case reference, null for the global chain), last seq, last hash]."""
    return hashlib.sha256(b"\x00" + canonical(leaf)).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def sort_leaves(leaves: list[list]) -> list[list]:
    return sorted(leaves, key=lambda leaf: (leaf[0] is not None, leaf[0] or ""))


def merkle_levels(leaves: list[list]) -> list[list[bytes]]:
    """Every level of the tree, leaves first (an odd node is carried up unchanged)."""
    level = [leaf_hash(leaf) for leaf in leaves] or [hashlib.sha256(b"").digest()]
    levels = [level]
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) if i + 1 < len(level) else level[i] for i in range(0, len(level), 2)]
        levels.append(level)
    return levels


def merkle_root(leaves: list[list]) -> str:
    return merkle_levels(leaves)[-1][0].hex()


def inclusion_proof(levels: list[list[bytes]], index: int) -> list[list[str]]:
    """The sibling hashes from a leaf to the root: [["L" or "R", hex], ...] (L: the sibling is on the left)."""
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(["L" if sibling < index else "R", level[sibling].hex()])
        index //= 2
    return path


def root_from_proof(leaf: list, path: list[list[str]]) -> str:
    """The root a leaf and its inclusion proof lead to."""
    node = leaf_hash(leaf)
    for side, sibling in path:
        node = _node(bytes.fromhex(sibling), node) if side == "L" else _node(node, bytes.fromhex(sibling))
    return node.hex()


def plain_hash(item: dict) -> str:
    """The plain SHA-256 of an exported event (events written before keying, key id null)."""
    payload = {"case": item["case"], "seq": item["seq"], "at": item["at"], "actor": item["actor"],
               "type": item["type"], "task": item["task"], "bpmn_id": item["bpmn_id"],
               "definition": item["definition_id"], "data": item["data"], "prev": item["prev_hash"]}
    return hashlib.sha256(canonical(payload)).hexdigest()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("clé publique Ed25519 attendue")
    return key


def public_key_id(pem: bytes) -> str:
    """A short fingerprint of a public key (SHA-256 of its PEM, 16 hex digits)."""
    return hashlib.sha256(pem.strip()).hexdigest()[:16]


def signature_ok(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
