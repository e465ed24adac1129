"""Business words for the audit trail: form labels for field ids, option names for enum ids, « Oui »/« Non »,
French amounts and dates in Europe/Paris, French event names, element labels next to element ids.

One `Words` per case: the labels of every version the case ran on (its events name their definition), so an
event is read with the forms it was recorded under. Read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from app.engine import bpmn_xml, parse_xml
from app.extensions import db
from app.formatting import format_amount, format_date_fr, format_datetime_paris, sort_key
from app.labels import (
    CALENDAR_LABELS,
    CAPA_KIND_LABELS,
    CAPA_STATUS_LABELS,
    CHANNEL_LABELS,
    CLOCK_LABELS,
    CLOCK_STATE_LABELS,
    DATA_KEY_LABELS,
    MESSAGE_LABELS,
    MESSAGE_TEMPLATE_LABELS,
    PAYLOAD_KEY_LABELS,
    STATUS_LABELS,
    SYSTEM_LABELS,
    WAITING_LABELS,
    event_label,
)
from app.models import Case, ProcessDefinition
from app.services.core import definitions

__all__ = ["Words", "element_labels", "sort_key"]
_ISO_MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ELEMENTS: dict[str, tuple[dict[str, str], set[str]]] = {}
# Keys whose values name something from a vocabulary of the application.
_VALUE_LABELS = {"clock": CLOCK_LABELS, "outcome": CLOCK_STATE_LABELS, "template": MESSAGE_TEMPLATE_LABELS,
                 "kind": CAPA_KIND_LABELS, "calendar": CALENDAR_LABELS}
# Internal row ids and hashes: the readable version numbers and names are shown instead.
_HIDDEN_KEYS = {"definition_sha256", "sha256", "stored_name", "outbox_id", "comment_id", "definition_id",
                "from_definition_id", "to_definition_id"}


@dataclass
class Field:
    label: str
    type: str
    options: dict


def element_labels(definition: ProcessDefinition) -> tuple[dict[str, str], set[str]]:
    """bpmn id -> element name for one deployed version (an unnamed element: its kind, « Passerelle
    exclusive »), "source>target" -> the name of the flow between them, and the ids of the unnamed elements;
    cached by the version's hash."""
    if definition.sha256 not in _ELEMENTS:
        root = parse_xml(definition.xml)
        found, unnamed = {}, set()
        for node in root.iter():
            node_id = node.get("id") if isinstance(node.tag, str) else None
            if not node_id:
                continue
            kind = bpmn_xml.local(node.tag)
            name = " ".join((node.get("name") or "").split())
            if kind == "sequenceFlow":
                if name:
                    found[f"{node.get('sourceRef')}>{node.get('targetRef')}"] = name
                continue
            found[node_id] = name or bpmn_xml.TYPE_LABELS.get(kind, "élément sans nom").capitalize()
            if not name:
                unnamed.add(node_id)
        _ELEMENTS[definition.sha256] = (found, unnamed)
    return _ELEMENTS[definition.sha256]


def _duration(seconds) -> str:
    seconds = int(seconds or 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    parts = [f"{days} j" if days else "", f"{hours} h" if hours else "", f"{rest // 60} min" if rest >= 60 else ""]
    return " ".join(p for p in parts if p) or "aucune"


class Words:
    """How one case's audit data reads in French."""

    def __init__(self, case: Case, definition_ids: set[int] | None = None):
        ids = set(definition_ids or ()) | {case.definition_id}
        found = [db.session.get(ProcessDefinition, i) for i in sorted(i for i in ids if i)]
        self.definitions = [d for d in found if d is not None]
        self.fields: dict[str, Field] = {}
        self.elements: dict[str, str] = {}
        # The case's own versions first (newest wins), then the other processes' forms: a message from a
        # dispute carries the dispute's fields.
        others = [d for d in definitions.all_active() if d.id not in ids]
        self.process_names = {d.key: d.name for d in others + self.definitions if d.name}
        self.unnamed: set[str] = set()
        for definition in list(reversed(self.definitions)) + others:
            pspec = definitions.spec_for(definition)
            for form in [pspec.start_form] + [t["form"] for t in pspec.user_tasks.values()]:
                for spec in form:
                    self.fields.setdefault(spec.name, Field(spec.label, spec.type, dict(spec.options)))
            if definition in self.definitions:
                labels, unnamed = element_labels(definition)
                for bpmn_id, name in labels.items():
                    self.elements.setdefault(bpmn_id, name)
                self.unnamed |= unnamed

    # --- names ---

    def event(self, type_: str) -> str:
        return event_label(type_)

    def field(self, name: str, event_key: bool = False) -> str:
        """A data key's label: the form's, else the process's own keys, else the keys the application writes
        into events (first when `event_key`: a clock's « due_at » is that clock's due date)."""
        if event_key and name in DATA_KEY_LABELS:
            return DATA_KEY_LABELS[name]
        if name in self.fields:
            return self.fields[name].label
        return SYSTEM_LABELS.get(name) or DATA_KEY_LABELS.get(name) or name.replace("_", " ").capitalize()

    def element(self, bpmn_id: str | None) -> str:
        """The element's name (the id itself only when the diagram has no name for it)."""
        if not bpmn_id:
            return ""
        return self.elements.get(bpmn_id, bpmn_id)

    def visits(self, visits: dict[str, int]) -> list[tuple[str, int]]:
        """Elements passed and how many times, named ones only (an unnamed join says nothing to a reader)."""
        return sorted(((self.element(i), n) for i, n in visits.items() if i not in self.unnamed),
                      key=lambda item: sort_key(item[0]))

    def waiting(self, type_: str | None) -> str:
        return WAITING_LABELS.get(type_ or "", "Attente")

    # --- values ---

    def value(self, name: str, value, *, context: str = "") -> str:
        """A stored value as French text, read with what its key means."""
        if value is None or value == "":
            return "—"
        if isinstance(value, bool):
            return "Oui" if value else "Non"
        spec = self.fields.get(name)
        if spec is not None and spec.options and str(value) in spec.options:
            return spec.options[str(value)]
        if name in ("from", "to", "status") and isinstance(value, str):
            labels = CAPA_STATUS_LABELS if context.startswith("capa") else STATUS_LABELS
            return labels.get(value, value)
        if name == "channel" and isinstance(value, str):
            return CHANNEL_LABELS.get(value, value)
        if name == "process" and isinstance(value, str):
            return self.process_names.get(value, value)
        if name == "message" and isinstance(value, str):
            return MESSAGE_LABELS.get(value, value.replace("_", " ").capitalize())
        if name == "last_message" and isinstance(value, str):
            return MESSAGE_TEMPLATE_LABELS.get(value, value)
        if name in _VALUE_LABELS and isinstance(value, str) and value in _VALUE_LABELS[name]:
            return _VALUE_LABELS[name][value]
        if name == "paused_seconds":
            return _duration(value)
        if name in ("fields", "variables") and isinstance(value, list):
            return ", ".join(self.field(str(v)) for v in value) or "—"
        if name == "actions" and isinstance(value, list):
            return " ; ".join(self.action(a) for a in value) or "—"
        if isinstance(value, (int, float)) and spec is not None and spec.type == "decimal":
            return format_amount(value) if "€" in spec.label or "amount" in name else str(value).replace(".", ",")
        if isinstance(value, float):
            return format_amount(value) if "amount" in name or "cost" in name else f"{value:.2f}".replace(".", ",")
        if isinstance(value, datetime):
            return format_datetime_paris(value)
        if isinstance(value, str) and _ISO_MOMENT.match(value):
            return format_datetime_paris(value) or value
        if isinstance(value, str) and _ISO_DAY.match(value):
            return format_date_fr(value) or value
        if isinstance(value, dict):
            return " ; ".join(f"{PAYLOAD_KEY_LABELS.get(k) or self.field(k)} : {self.value(k, v, context='payload')}"
                              for k, v in sorted(value.items())) or "—"
        if isinstance(value, str) and context == "payload":
            return self.option_anywhere(value)
        if isinstance(value, list):
            return ", ".join(self.value(name, v) for v in value) or "—"
        return str(value)

    def option_anywhere(self, value: str) -> str:
        """An option id met outside its form (a message's payload): the name one form gives it."""
        for spec in self.fields.values():
            if value in spec.options:
                return spec.options[value]
        return value

    def action(self, spec) -> str:
        """A CAPA action as a sentence: « Corrective : Revoir la facturation (échéance 20/12/2026, qualite) »."""
        if not isinstance(spec, dict):
            return str(spec)
        kind = CAPA_KIND_LABELS.get(spec.get("kind"), spec.get("kind") or "Action")
        extra = [f"échéance {format_date_fr(spec['due_on'])}" if spec.get("due_on") else "",
                 f"responsable {spec['owner']}" if spec.get("owner") else ""]
        extra = ", ".join(e for e in extra if e)
        return f"{kind} : {spec.get('title') or '—'}" + (f" ({extra})" if extra else "")

    # --- one event ---

    def details(self, event) -> list[tuple[str, str]]:
        """The event's other data (not submitted, changes, path, start data) as (label, text) pairs."""
        data = event.data or {}
        pairs = []
        for key, value in sorted(data.items()):
            if key in ("submitted", "changes", "path", "data") or key in _HIDDEN_KEYS:
                continue
            pairs.append((self.field(key, event_key=True), self.value(key, value, context=event.type)))
        return pairs

    def pairs(self, values: dict | None) -> list[tuple[str, str]]:
        """Form data as (label, text), in the form's order where known."""
        values = values or {}
        order = [n for n in self.fields if n in values] + sorted(n for n in values if n not in self.fields)
        return [(self.field(n), self.value(n, values[n])) for n in order]

    def changes(self, changes: dict | None) -> list[tuple[str, str, str]]:
        return [(self.field(k), self.value(k, pair[0]), self.value(k, pair[1]))
                for k, pair in sorted((changes or {}).items())]

    def taken(self, gateway: str, target: str) -> str:
        """A branch taken out of a gateway: the flow's name (« Oui ») and where it leads."""
        flow = self.elements.get(f"{gateway}>{target}")
        if flow and target in self.unnamed:
            return flow
        return f"{flow} ({self.element(target)})" if flow else self.element(target)

    def path(self, path: list | None) -> list[dict]:
        """Each element passed: its label, its id, and the branches taken. Unnamed gateways that only join
        branches are left out: they say nothing to a reader."""
        shown = []
        for p in path or []:
            bpmn_id, taken = p.get("bpmn_id"), p.get("taken") or []
            if "Gateway" in (p.get("type") or "") and not p.get("name") and not taken:
                continue
            shown.append({"label": self.element(bpmn_id) or p.get("name"), "id": bpmn_id,
                          "taken": [self.taken(bpmn_id, t) for t in taken]})
        return shown

    def step(self, event) -> str:
        return self.element(event.bpmn_id)

    def caption(self, event) -> str:
        """One line for the slider and the state picker."""
        return f"{event_label(event.type)} par {event.actor} le {format_datetime_paris(event.at, seconds=True)}"

    # --- verification differences ---

    _NAMES = {"status": "statut", "completed": "processus terminé", "incident": "incident",
              "next_timer_at": "prochaine minuterie", "definition_id": "version", "bpmn_id": "élément",
              "lane": "groupe", "holder": "détenteur"}

    def difference(self, diff: dict) -> tuple[str, str, str]:
        """A replay difference ({field, expected, found}) as (what, expected, found) in French."""
        name = str(diff.get("field", ""))
        expected, found = diff.get("expected"), diff.get("found")
        match = re.fullmatch(r"audit\[(\d+)\]", name)
        if match:
            return f"Événement n° {match.group(1)} de la chaîne d'audit", str(expected), str(found)
        match = re.fullmatch(r"(case\.data|workflow\.task\[([^\]]+)\]\.data)\.(.+)", name)
        if match:
            key = match.group(3)
            where = f"État du moteur, tâche « {self.element(match.group(2))} »" if match.group(2) else "Donnée"
            return f"{where} « {self.field(key)} »", self.value(key, expected), self.value(key, found)
        match = re.fullmatch(r"(task|workflow\.ready)\[([^\]]+)\](?:\.(\w+))?", name)
        if match:
            where = "Tâche" if match.group(1) == "task" else "État du moteur, tâche prête"
            suffix = f" ({self._NAMES.get(match.group(3), match.group(3))})" if match.group(3) else ""
            return f"{where} « {self.element(match.group(2))} »{suffix}", str(expected), str(found)
        match = re.fullmatch(r"(case|workflow)\.(\w+)", name)
        if match:
            key = match.group(2)
            where = "Dossier" if match.group(1) == "case" else "État du moteur"
            return f"{where} : {self._NAMES.get(key) or self.field(key)}", self.value(key, expected), \
                self.value(key, found)
        return {"workflow": "État du moteur", "replay": "Rejeu"}.get(name, name), str(expected), str(found)
