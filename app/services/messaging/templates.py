"""Message templates as data: versioned rows seeded from app/templates/messages/, rendered in a Jinja sandbox.

The files in app/templates/messages/ are the seed: a key missing from the table is created from its file at
`flask init-db`, `flask deploy`, or the first time a message needs it. Process owners then edit the rows in the
browser (app/letters): every save adds a version, a roll back adds a version equal to an old one, and the
highest version is the active one. A message records the version it was written from (outbox and audit).

Templates run in `jinja2.sandbox.SandboxedEnvironment` over plain values only (FIELDS, `data`, `case`), never
ORM objects; the text part without escaping, the HTML part with autoescape. `{% include "_signature" %}`
includes the active version of another template.
"""

from __future__ import annotations

import contextvars
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from jinja2 import BaseLoader, TemplateNotFound, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError

from app import clock, formatting
from app.extensions import db
from app.models import MessageTemplate
from app.services.core.errors import Invalid, NotFound
from app.services.core.transaction import transaction
from app.services.messaging.rendering import text_to_html

EDITORS = ("proprietaire",)  # and admin (User.in_any lets admin in): see template_editing.py
KINDS = {"letter": "Courrier", "email": "E-mail", "partial": "Bloc commun"}
# key -> (kind, French label) of the seed files; a file not listed here is seeded as a letter.
SEED_INFO = {
    "acknowledgment": ("email", "Accusé de réception"),
    "response": ("letter", "Réponse à la réclamation"),
    "holding_letter": ("letter", "Lettre d'attente"),
    "rejection": ("letter", "Réponse de non-recevabilité"),
    "closure": ("letter", "Courrier de clôture"),
    "dispute_opened": ("letter", "Ouverture d'un litige"),
    "dispute_closed": ("letter", "Clôture du litige (avoir)"),
    "intake_merged": ("email", "Nouveau contact rattaché"),
    "tracking_link": ("email", "Nouvel envoi du lien de suivi"),
    "survey": ("email", "Enquête de satisfaction"),
    "information_request": ("letter", "Demande d'informations complémentaires"),
    "_signature": ("partial", "Signature commune"),
    "_mediator": ("partial", "Recours : le médiateur"),
}
# The documented fields a template may use (and the composer inserts): name -> French description.
FIELDS = {
    "reference": "Référence du dossier (REC-2026-000123)",
    "customer_name": "Nom du réclamant",
    "customer_email": "Adresse e-mail du réclamant",
    "customer_address": "Adresse postale du réclamant",
    "kind_label": "Nature du dossier (réclamation, demande…)",
    "received": "Date de réception (3 décembre 2026)",
    "due": "Échéance de réponse (3 décembre 2026)",
    "expected": "Date de réponse annoncée par une lettre d'attente",
    "today": "Date du jour (3 décembre 2026)",
    "place_date": "Lieu et date (« Paris, le 3 décembre 2026 »)",
    "amount": "Montant en jeu (1 250,40 €)",
    "compensation": "Geste commercial accordé (1 250,40 €)",
    "credited_amount": "Montant de l'avoir (1 250,40 €)",
    "credit_note_number": "Numéro de l'avoir",
    "invoice_refs": "Factures concernées",
    "decision": "Décision (accepted, partly, rejected)",
    "decision_label": "Décision en clair (fondée, partiellement fondée, non fondée)",
    "response_text": "Texte de la réponse saisi à l'étape « Décider et répondre »",
    "tracking_url": "Lien de suivi du dossier",
    "survey_url": "Lien de l'enquête de satisfaction",
    "mediator": "Recours : coordonnées du médiateur (configuration MEDIATOR_TEXT)",
    "sender_name": "Nom de l'expéditeur (configuration LETTER_SENDER_NAME)",
    "signature": "Signataire (configuration LETTER_SIGNATURE)",
    "postal": "Vrai pour un courrier postal (la signature y est imprimée à part)",
}
CONTEXT_NAMES = set(FIELDS) | {"data", "case", "range", "loop", "dict", "lipsum", "cycler", "joiner", "namespace"}
MAX_BODY = 20000
# Budgets of a template run (process owners write them; a step renders them inside its transaction).
MAX_RANGE, MAX_LOOP_DEPTH, MAX_POWER, MAX_OUTPUT = 1000, 2, 64, 200_000
_BLANKS = re.compile(r"\n[ \t]*(\n[ \t]*)+\n")


@dataclass
class Rendered:
    subject: str
    text: str
    html: str


# The active shared blocks of the render in progress ({key: body}), read in one query per render.
_BLOCKS: contextvars.ContextVar[dict | None] = contextvars.ContextVar("message_template_blocks", default=None)


class _ActiveLoader(BaseLoader):
    """`{% include "_signature" %}` (or the old "messages/_signature.txt"): the active version of that key.

    Jinja keeps the compiled block while `uptodate` holds: the same text is compiled once, an edit recompiles.
    """

    def get_source(self, environment, template):
        key = normalize_key(template)
        blocks = _BLOCKS.get()
        if blocks is not None and key in blocks:
            body = blocks[key]
        else:
            row = active(key, seed=True, missing_ok=True)
            if row is None:
                raise TemplateNotFound(template)
            body = row.body

        def uptodate() -> bool:
            current = _BLOCKS.get()
            return current is not None and current.get(key) == body

        return body, None, uptodate


def _blocks_query():
    latest = (select(MessageTemplate.key, func.max(MessageTemplate.version).label("v"))
              .where(MessageTemplate.kind == "partial").group_by(MessageTemplate.key).subquery())
    return select(MessageTemplate.key, MessageTemplate.body).join(
        latest, (MessageTemplate.key == latest.c.key) & (MessageTemplate.version == latest.c.v))


_BLOCKS_QUERY = _blocks_query()  # built once (read by every letter)


def active_blocks() -> dict[str, str]:
    """The active text of every shared block (kind partial), in one query; seeded first when none exists."""
    rows = db.session.execute(_BLOCKS_QUERY).all()
    return _seeded_blocks({key: body for key, body in rows})


def _seeded_blocks(found: dict[str, str]) -> dict[str, str]:
    """`found` (the active shared blocks read) with any seed block missing from the table created first."""
    for key in seed_keys():
        if key.startswith("_") and key not in found:
            row = active(key, missing_ok=True)
            if row is not None:
                found[key] = row.body
    return found


@dataclass(frozen=True)
class ActiveVersion:
    """The columns of a template version a message is written from (rows never change: a plain copy)."""

    id: int
    key: str
    version: int
    kind: str
    subject: str
    body: str


def _for_message_query():
    table = MessageTemplate.__table__
    latest = (select(table.c.key, func.max(table.c.version).label("v"))
              .where(or_(table.c.key.in_(bindparam("keys", expanding=True)), table.c.kind == "partial"))
              .group_by(table.c.key).subquery())
    return select(table.c.id, table.c.key, table.c.version, table.c.kind, table.c.subject, table.c.body).join(
        latest, (table.c.key == latest.c.key) & (table.c.version == latest.c.v))


_FOR_MESSAGE = _for_message_query()  # built once: the keys bound


def for_message(key: str) -> tuple[ActiveVersion, dict[str, str]]:
    """The active version of a template and the active shared blocks, read together by one statement (a letter
    of a step: where `active` and `active_blocks` took two, the first loading an ORM object). The text is read
    on every call, never kept across transactions: a version saved by any worker is the next letter's."""
    return for_messages([key])[key]


def for_messages(keys) -> dict[str, tuple[ActiveVersion, dict[str, str]]]:
    """`for_message` of several keys by the same one statement (the letters of one step)."""
    keys = list(dict.fromkeys(keys))
    found = {row.key: row for row in db.session.execute(_FOR_MESSAGE, {"keys": keys})}
    blocks = _seeded_blocks({k: r.body for k, r in found.items() if r.kind == "partial"})
    out = {}
    for key in keys:
        row = found.get(key)
        if row is None:  # first use: created from its seed file (or NotFound), as by `active`
            row = active(key)
        out[key] = (ActiveVersion(row.id, row.key, row.version, row.kind, row.subject, row.body), dict(blocks))
    return out


def normalize_key(name: str) -> str:
    return name.removeprefix("messages/").removesuffix(".txt").strip()


class _Sandbox(SandboxedEnvironment):
    """The sandbox with budgets: no huge repetition or power, a short `range`, nesting checked at save."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, operator, left, right):
        numbers = [v for v in (left, right) if isinstance(v, int) and not isinstance(v, bool)]
        sized = [v for v in (left, right) if isinstance(v, (str, list, tuple))]
        if operator == "**" and numbers and abs(right if isinstance(right, int) else 0) > MAX_POWER:
            raise SecurityError("power too large")
        if operator == "*" and sized and numbers and len(sized[0]) * abs(numbers[0]) > MAX_OUTPUT:
            raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


def _short_range(*args):
    values = range(*args)
    if len(values) > MAX_RANGE:
        raise SecurityError("range too large")
    return values


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _Sandbox(loader=_ActiveLoader(), autoescape=autoescape, keep_trailing_newline=True,
                   trim_blocks=False, lstrip_blocks=False)
    env.globals["range"] = _short_range
    formatting.install(env)
    return env


TEXT_ENV = _environment(autoescape=False)
HTML_ENV = _environment(autoescape=True)


# --- the seed ----------------------------------------------------------------------------------------------

def seed_dir() -> Path:
    return Path(current_app.root_path) / "templates" / "messages"


def seed_keys() -> list[str]:
    return list(_seed_keys(current_app.root_path))


@functools.lru_cache(maxsize=8)
def _seed_keys(root: str) -> tuple[str, ...]:
    """The seed files of an application (read once per process: they ship with the code)."""
    return tuple(sorted(p.stem for p in (Path(root) / "templates" / "messages").glob("*.txt")))


def read_seed(key: str) -> tuple[str, str] | None:
    """(subject, body) of a seed file: the first line is the subject (none for a shared block)."""
    path = seed_dir() / f"{key}.txt"
    if not path.is_file() or "/" in key or key.startswith("."):
        return None
    text = path.read_text(encoding="utf-8")
    if key.startswith("_"):
        return "", text
    subject, _, body = text.partition("\n")
    return subject.strip(), body


def _create_from_seed(key: str, actor: str) -> MessageTemplate | None:
    seed = read_seed(key)
    if seed is None:
        return None
    kind, label = SEED_INFO.get(key, ("letter", key))
    row = MessageTemplate(key=key, version=1, kind=kind, label=label, subject=seed[0], body=seed[1],
                          note="Version initiale (fichier app/templates/messages)", created_at=clock.now(),
                          created_by=actor)
    try:
        with db.session.begin_nested():  # a concurrent first use may create it at the same moment
            db.session.add(row)
    except IntegrityError:
        return _latest(key)
    return row


def seed_missing(actor: str = "system") -> list[str]:
    """Create the templates missing from the table from their seed files; return the keys created."""
    created = []
    with transaction():
        for key in seed_keys():
            if _latest(key) is None and _create_from_seed(key, actor) is not None:
                created.append(key)
    return created


# --- reading -------------------------------------------------------------------------------------------

_LATEST = (select(MessageTemplate).where(MessageTemplate.key == bindparam("key"))
           .order_by(MessageTemplate.version.desc()).limit(1))  # built once: the key bound


def _latest(key: str) -> MessageTemplate | None:
    return db.session.scalars(_LATEST, {"key": key}).first()


def active(key: str, *, seed: bool = True, missing_ok: bool = False) -> MessageTemplate | None:
    """The active (latest) version of a template, created from its seed file at first use."""
    row = _latest(key)
    if row is None and seed:
        row = _create_from_seed(key, "system")
    if row is None and not missing_ok:
        raise NotFound(f"Modèle de message inconnu : « {key} ».")
    return row


def catalogue() -> list[MessageTemplate]:
    """The active version of every template, seeding any missing one first."""
    seed_missing()
    latest = (select(MessageTemplate.key, func.max(MessageTemplate.version).label("v"))
              .group_by(MessageTemplate.key).subquery())
    rows = db.session.scalars(select(MessageTemplate).join(
        latest, (MessageTemplate.key == latest.c.key) & (MessageTemplate.version == latest.c.v)))
    return sorted(rows, key=lambda r: (r.kind == "partial", r.label.lower()))


def versions(key: str) -> list[MessageTemplate]:
    """Every version of a template, newest first."""
    rows = list(db.session.scalars(select(MessageTemplate).where(MessageTemplate.key == key)
                                   .order_by(MessageTemplate.version.desc())))
    if not rows:
        raise NotFound(f"Modèle de message inconnu : « {key} ».")
    return rows


def version(version_id: int) -> MessageTemplate:
    row = db.session.get(MessageTemplate, version_id)
    if row is None:
        raise NotFound("Version de modèle inconnue.")
    return row


# --- checking and rendering ------------------------------------------------------------------------------

def _loop_depth(node, depth: int = 0) -> int:
    here = depth + 1 if isinstance(node, nodes.For) else depth
    return max([here] + [_loop_depth(child, here) for child in node.iter_child_nodes()])


def check(subject: str, body: str) -> None:
    """Refuse a template that does not compile or names unknown fields or templates, with a French message."""
    errors = {}
    for name, source in (("subject", subject), ("body", body)):
        try:
            ast = TEXT_ENV.parse(source)
        except TemplateSyntaxError as exc:
            errors[name] = f"Erreur de syntaxe ligne {exc.lineno} : {exc.message}."
            continue
        try:
            unknown = sorted(meta.find_undeclared_variables(ast) - CONTEXT_NAMES)
        except TemplateError as exc:  # an unknown filter or test shows when the template is compiled
            errors[name] = f"Modèle invalide : {exc.message or exc}."
            continue
        if unknown:
            errors[name] = "Champ inconnu : " + ", ".join(f"« {u} »" for u in unknown) + \
                           ". Champs disponibles : voir la liste à droite."
            continue
        if _loop_depth(ast) > MAX_LOOP_DEPTH:
            errors[name] = f"Trop de boucles imbriquées : {MAX_LOOP_DEPTH} niveaux au plus."
            continue
        for included in meta.find_referenced_templates(ast):
            if included is None or active(normalize_key(included), missing_ok=True) is None:
                errors[name] = f"Modèle inclus inconnu : « {included} »."
    if len(body) > MAX_BODY:
        errors["body"] = f"{MAX_BODY} caractères au maximum."
    if "\n" in subject:
        errors["subject"] = "L'objet tient sur une ligne."
    if errors:
        raise Invalid(errors, "Le modèle contient des erreurs : il n'a pas été enregistré.")


@functools.lru_cache(maxsize=256)
def _compiled(autoescape: bool, source: str):
    """A template compiled once per text (the rows never change; an edit is a new text)."""
    return (HTML_ENV if autoescape else TEXT_ENV).from_string(source)


def render_source(subject: str, body: str, context: dict, blocks: dict[str, str] | None = None) -> Rendered:
    """Render a subject and body in the sandbox: the text part, and the HTML part with autoescape; `blocks`: the
    active shared blocks when the caller read them (`for_message`), else read here."""
    token = _BLOCKS.set(active_blocks() if blocks is None else blocks)
    try:
        text = _compiled(False, body).render(context)
        html = _compiled(True, body).render(context)
        subject_text = _compiled(False, subject).render(context)
        if len(text) > MAX_OUTPUT:
            raise SecurityError("output too large")
    except SecurityError:
        problem = ("Le modèle ne peut pas être rendu : opération interdite par le bac à sable des modèles "
                   "(accès interne, ou calcul, boucle ou texte trop grand).")
        raise Invalid({"body": problem}, problem) from None
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, AttributeError) as exc:
        problem = f"Le modèle ne peut pas être rendu : {getattr(exc, 'message', None) or exc}."
        raise Invalid({"body": problem}, problem) from None
    finally:
        _BLOCKS.reset(token)
    return Rendered(subject=" ".join(subject_text.split())[:300], text=_BLANKS.sub("\n\n", text).strip() + "\n",
                    html=text_to_html(_BLANKS.sub("\n\n", html).strip(), escaped=True))


def render(row: MessageTemplate | ActiveVersion, context: dict, blocks: dict[str, str] | None = None) -> Rendered:
    return render_source(row.subject, row.body, context, blocks)
