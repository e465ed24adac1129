"""Compare two versions of a process (a draft and the active version, usually), with the impact on running cases.

Works on the XML (no SpiffWorkflow): elements are matched by BPMN id, as the engine's migration does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from sqlalchemy import func, select

from app.engine import DefinitionError, bpmn_xml, dmn, parse_xml
from app.engine.bpmn_xml import TYPE_LABELS, Element
from app.extensions import db
from app.models import Case, ProcessDefinition, TaskRow


@dataclass
class Change:
    """One difference: kind is added, removed, renamed, moved, type, form, condition, timer, topic, properties."""

    element: str
    label: str
    type: str
    kind: str
    message: str
    waiting: int = 0  # running cases of the base version whose ready task sits on this element

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class Comparison:
    base: ProcessDefinition
    other: ProcessDefinition
    changes: list[Change] = field(default_factory=list)

    @property
    def impacted(self) -> int:
        # several changes on one step count its cases once
        steps = {c.element: c.waiting for c in self.changes
                 if c.kind in ("removed", "renamed", "moved", "type", "form")}
        return sum(steps.values())

    def markers(self) -> dict[str, str]:
        """Element id -> marker kind for the diagram overlays (added, removed, changed)."""
        out: dict[str, str] = {}
        for c in self.changes:
            out[c.element] = c.kind if c.kind in ("added", "removed") else "changed"
        return out


def _type_label(el: Element) -> str:
    return TYPE_LABELS.get(el.type, el.type)


def diff_xml(old_xml: str, new_xml: str, key: str) -> list[Change]:
    """Differences between two documents of one process, element by element."""
    old = bpmn_xml.elements(parse_xml(old_xml), key)
    new = bpmn_xml.elements(parse_xml(new_xml), key)
    changes: list[Change] = []

    def add(el: Element, kind: str, message: str) -> None:
        changes.append(Change(el.id, el.label, el.type, kind, message))

    for el_id, el in new.items():
        if el_id not in old:
            where = f" (couloir « {el.lane} »)" if el.lane else ""
            add(el, "added", f"Ajout : {_type_label(el)} « {el.label} »{where}.")
    for el_id, before in old.items():
        after = new.get(el_id)
        if after is None:
            add(before, "removed", f"Suppression : {_type_label(before)} « {before.label} ».")
            continue
        if before.type != after.type:
            add(after, "type", f"Type changé : {_type_label(before)} → {_type_label(after)}.")
        if before.name != after.name:
            add(after, "renamed", f"Renommé : « {before.label} » → « {after.label} ».")
        if before.lane != after.lane and after.type != "sequenceFlow":
            add(after, "moved",
                f"Changement de couloir : « {before.lane or 'aucun'} » → « {after.lane or 'aucun'} ».")
        changes.extend(_form_changes(before, after))
        if before.condition != after.condition:
            add(after, "condition",
                f"Condition : « {before.condition or 'aucune'} » → « {after.condition or 'aucune'} ».")
        if before.default != after.default:
            add(after, "condition",
                f"Flux par défaut : « {before.default or 'aucun'} » → « {after.default or 'aucun'} ».")
        if (before.source, before.target) != (after.source, after.target):
            add(after, "condition", f"Flux reconnecté : {before.source} → {before.target} devient "
                                    f"{after.source} → {after.target}.")
        if before.timer != after.timer:
            add(after, "timer", f"Minuteur : « {_timer(before)} » → « {_timer(after)} ».")
        if before.topic != after.topic:
            add(after, "topic", f"Gestionnaire : « {before.topic or 'aucun'} » → « {after.topic or 'aucun'} ».")
        if before.properties != after.properties:
            add(after, "properties", "Propriétés : " + _dict_diff(before.properties, after.properties) + ".")
        if before.script != after.script:
            add(after, "condition", "Script modifié.")
    return changes


def _timer(el: Element) -> str:
    return el.timer[1] if el.timer else "aucun"


def _dict_diff(old: dict, new: dict) -> str:
    parts = []
    for k in sorted(set(old) | set(new), key=str):
        if old.get(k) != new.get(k):
            parts.append(f"{k} : {old.get(k, '—')} → {new.get(k, '—')}")
    return ", ".join(parts)


def _form_changes(before: Element, after: Element) -> list[Change]:
    old = {f.id: f for f in before.form}
    new = {f.id: f for f in after.form}
    changes = []
    for fid, f in new.items():
        if fid not in old:
            changes.append(Change(after.id, after.label, after.type, "form",
                                  f"Champ ajouté : « {f.label or fid} » ({fid}, {f.type or 'string'})."))
    for fid, f in old.items():
        if fid not in new:
            changes.append(Change(after.id, after.label, after.type, "form",
                                  f"Champ supprimé : « {f.label or fid} » ({fid})."))
        else:
            a, b = f.summary(), new[fid].summary()
            diffs = [k for k in a if a[k] != b[k]]
            if diffs:
                names = {"label": "libellé", "type": "type", "default": "valeur par défaut",
                         "constraints": "contraintes", "options": "choix", "properties": "propriétés"}
                detail = ", ".join(names[k] for k in diffs)
                changes.append(Change(after.id, after.label, after.type, "form",
                                      f"Champ modifié : « {new[fid].label or fid} » ({fid}) : {detail}."))
    return changes


def waiting_counts(definition_ids: list[int]) -> dict[str, int]:
    """Running cases of these versions per BPMN element where they have a ready task."""
    rows = db.session.execute(
        select(TaskRow.bpmn_id, func.count(func.distinct(TaskRow.case_id)))
        .join(Case, Case.id == TaskRow.case_id)
        .where(TaskRow.state == "ready", Case.definition_id.in_(definition_ids or [0]), Case.completed.is_(False))
        .group_by(TaskRow.bpmn_id)).all()
    return dict(rows)


def diff_decisions(old: dict[str, str] | None, new: dict[str, str] | None) -> list[Change]:
    """Differences between the decision tables of two versions, rule by rule (kind decision)."""
    def tables(documents):
        found = {}
        for text in (documents or {}).values():
            try:
                for decision in dmn.read(dmn.parse_dmn(text)):
                    found[decision.id] = decision
            except DefinitionError:
                continue
        return found

    before, after = tables(old), tables(new)
    changes = []
    for did in sorted(before.keys() | after.keys()):
        a, b = before.get(did), after.get(did)
        name = (b or a).name
        if a is None or b is None:
            changes.append(Change(did, name, "decision", "added" if a is None else "removed",
                                  f"Table de décision {'ajoutée' if a is None else 'supprimée'}."))
            continue
        if a.hit_policy != b.hit_policy:
            changes.append(Change(did, name, "decision", "decision",
                                  f"Politique de résultat : {a.hit_policy} → {b.hit_policy}."))
        if a.inputs != b.inputs or a.outputs != b.outputs:
            changes.append(Change(did, name, "decision", "decision", "Entrées ou sorties de la table modifiées."))
        old_rules = {r["id"]: r for r in a.rules}
        new_rules = {r["id"]: r for r in b.rules}
        for number, rule in enumerate(b.rules, start=1):
            if rule["id"] not in old_rules:
                changes.append(Change(did, name, "decision", "decision", f"Règle {number} ajoutée : "
                                      f"{' | '.join(rule['inputs'])} → {' | '.join(rule['outputs'])}."))
            elif old_rules[rule["id"]] != rule:
                changes.append(Change(did, name, "decision", "decision", f"Règle {number} modifiée : "
                                      f"{' | '.join(rule['inputs'])} → {' | '.join(rule['outputs'])}."))
        removed = [r for r in a.rules if r["id"] not in new_rules]
        if removed:
            changes.append(Change(did, name, "decision", "decision", f"{len(removed)} règle(s) supprimée(s)."))
    return changes


def compare(base: ProcessDefinition, other: ProcessDefinition) -> Comparison:
    """Compare other (a draft, or any version) with base, counting base's running cases on each changed step."""
    changes = diff_xml(base.xml, other.xml, base.key) + diff_decisions(base.decisions, other.decisions)
    counts = waiting_counts([base.id])
    for c in changes:
        c.waiting = counts.get(c.element, 0)
    order = {"removed": 0, "moved": 1, "renamed": 2, "type": 3, "form": 4, "condition": 5, "timer": 6}
    changes.sort(key=lambda c: (-c.waiting, order.get(c.kind, 9)))
    return Comparison(base=base, other=other, changes=changes)
