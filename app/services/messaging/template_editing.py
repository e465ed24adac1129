"""Editing the message templates (process owners): save an edit, create a template, roll back; each a new
version and a `template_saved` event of the global audit chain. The store and the sandbox: templates.py."""

from __future__ import annotations

import re

from app import clock
from app.extensions import db
from app.models import MessageTemplate, User
from app.services.core import audit
from app.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from app.services.core.transaction import use_case
from app.services.messaging.templates import EDITORS, active, check, version

KEY = re.compile(r"[a-z][a-z0-9_]{2,59}")


def _editor(user: User) -> None:
    if not user.in_any(*EDITORS):
        raise Forbidden("Réservé aux propriétaires de processus.")


def _add_version(user: User, base: MessageTemplate, subject: str, body: str, note: str) -> MessageTemplate:
    row = MessageTemplate(key=base.key, version=base.version + 1, kind=base.kind, label=base.label,
                          subject=subject, body=body, note=note[:300], created_at=clock.now(),
                          created_by=user.username)
    db.session.add(row)
    db.session.flush()  # a concurrent save of the same version fails here (unique key, version): Conflict
    audit.record(None, user.username, "template_saved", data={
        "key": row.key, "version": row.version, "template_version_id": row.id, "note": row.note})
    return row


@use_case
def save(user: User, key: str, subject: str, body: str, *, base_version: int, note: str = "") -> MessageTemplate:
    """Save an edited template as a new version (refused if someone saved another version meanwhile)."""
    _editor(user)
    subject, body = (subject or "").strip(), (body or "").replace("\r\n", "\n")
    if not body.strip():
        raise Invalid({"body": "Le texte du modèle est vide."})
    current = active(key)
    if current.kind != "partial" and not subject:
        raise Invalid({"subject": "L'objet est obligatoire."})
    check(subject, body)
    if current.version != base_version:
        raise Conflict(f"Ce modèle a été modifié entre-temps (version {current.version}) : rechargez la page.")
    if (current.subject, current.body) == (subject, body):
        raise Invalid({"body": "Aucune modification par rapport à la version active."})
    return _add_version(user, current, subject, body, note.strip() or "Modification")


@use_case
def create(user: User, key: str, label: str, kind: str, subject: str, body: str) -> MessageTemplate:
    """A new template (for the composer, or for a `send_message` step naming its key): its version 1."""
    _editor(user)
    key, label = (key or "").strip(), " ".join((label or "").split())
    subject, body = " ".join((subject or "").split()), (body or "").replace("\r\n", "\n")
    errors = {}
    if not KEY.fullmatch(key):
        errors["key"] = "Identifiant : 3 à 60 lettres minuscules, chiffres ou « _ », commençant par une lettre."
    elif active(key, missing_ok=True) is not None:
        errors["key"] = f"Un modèle « {key} » existe déjà."
    if not label or len(label) > 200:
        errors["label"] = "Le nom est obligatoire (200 caractères au plus)."
    if kind not in ("letter", "email"):
        errors["kind"] = "Choisissez : courrier ou e-mail."
    if not subject:
        errors["subject"] = "L'objet est obligatoire."
    if not body.strip():
        errors["body"] = "Le texte du modèle est vide."
    if errors:
        raise Invalid(errors, "Le modèle n'a pas été créé : corrigez les champs signalés.")
    check(subject, body)
    row = MessageTemplate(key=key, version=1, kind=kind, label=label, subject=subject, body=body,
                          note="Création", created_at=clock.now(), created_by=user.username)
    db.session.add(row)
    db.session.flush()  # the same key created at the same moment fails here (unique key, version): Conflict
    audit.record(None, user.username, "template_saved", data={
        "key": key, "version": 1, "template_version_id": row.id, "note": "Création"})
    return row


@use_case
def roll_back(user: User, key: str, version_id: int) -> MessageTemplate:
    """Make an old version active again, as a new version equal to it (history is never rewritten)."""
    _editor(user)
    old = version(version_id)
    current = active(key)
    if old.key != key:
        raise NotFound("Version de modèle inconnue.")
    if old.id == current.id:
        raise Invalid({"version": "Cette version est déjà la version active."})
    return _add_version(user, current, old.subject, old.body, f"Retour à la version {old.version}")
