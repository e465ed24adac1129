"""Read a BPMN document's elements with lxml (no SpiffWorkflow): what validation and comparison look at.

Everything here works on any well-formed BPMN, including diagrams the engine cannot parse, so that
problems can be named element by element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA = "http://camunda.org/schema/1.0/bpmn"
NS = {"bpmn": BPMN, "camunda": CAMUNDA}

# BPMN element types shown in comparisons (flow nodes, flows, lanes); the rest is diagram detail.
FLOW_NODE_TYPES = frozenset({
    "task", "userTask", "manualTask", "serviceTask", "sendTask", "receiveTask", "scriptTask", "businessRuleTask",
    "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent", "endEvent",
    "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", "exclusiveGateway", "parallelGateway",
    "inclusiveGateway", "eventBasedGateway", "complexGateway", "dataStoreReference", "dataObjectReference",
})
TYPE_LABELS = {
    "userTask": "tâche utilisateur", "serviceTask": "tâche de service", "scriptTask": "tâche de script",
    "businessRuleTask": "tâche de règle métier", "task": "tâche", "manualTask": "tâche manuelle",
    "sendTask": "tâche d'envoi", "receiveTask": "tâche de réception", "callActivity": "activité d'appel",
    "subProcess": "sous-processus", "startEvent": "événement de début", "endEvent": "événement de fin",
    "intermediateCatchEvent": "événement intermédiaire", "intermediateThrowEvent": "événement intermédiaire",
    "boundaryEvent": "événement attaché", "exclusiveGateway": "passerelle exclusive",
    "parallelGateway": "passerelle parallèle", "inclusiveGateway": "passerelle inclusive",
    "eventBasedGateway": "passerelle événementielle", "complexGateway": "passerelle complexe",
    "sequenceFlow": "flux", "dataStoreReference": "magasin de données", "dataObjectReference": "objet de données",
}


# Compiled once: compiling an XPath per element made a 60 KB document cost tens of milliseconds.
_FORM_FIELDS = etree.XPath("bpmn:extensionElements/camunda:formData/camunda:formField", namespaces=NS)
_CONSTRAINTS = etree.XPath("camunda:validation/camunda:constraint", namespaces=NS)
_VALUES = etree.XPath("camunda:value", namespaces=NS)
_FIELD_PROPERTIES = etree.XPath("camunda:properties/camunda:property", namespaces=NS)
_PROPERTIES = etree.XPath("bpmn:extensionElements/camunda:properties/camunda:property", namespaces=NS)


def local(tag) -> str:
    """The local name of an lxml tag ('{ns}userTask' -> 'userTask')."""
    return etree.QName(tag).localname if isinstance(tag, str) else ""


@dataclass
class FormFieldXml:
    id: str
    label: str | None
    type: str | None
    default_value: str | None
    validation: list = field(default_factory=list)  # objects with .name and .config
    options: list = field(default_factory=list)  # objects with .id and .name
    properties: list = field(default_factory=list)  # objects with .id and .value

    def summary(self) -> dict:
        """Comparable description of the field (for diffs)."""
        return {"label": self.label, "type": self.type, "default": self.default_value,
                "constraints": sorted((v.name or "", v.config or "") for v in self.validation),
                "options": [(o.id, o.name) for o in self.options],
                "properties": sorted((p.id or "", p.value or "") for p in self.properties)}


@dataclass
class _Pair:
    name: str | None = None
    config: str | None = None
    id: str | None = None
    value: str | None = None


@dataclass
class Element:
    """One flow node or sequence flow of a process, with what the app cares about."""

    id: str
    type: str
    name: str
    lane: str | None = None
    parent: str | None = None  # enclosing subprocess id
    form: list[FormFieldXml] = field(default_factory=list)
    condition: str | None = None
    source: str | None = None
    target: str | None = None
    default: str | None = None  # gateway default flow
    timer: tuple[str, str] | None = None  # (timeDate|timeDuration|timeCycle, expression)
    script: str | None = None
    topic: str | None = None
    properties: dict = field(default_factory=dict)
    attached_to: str | None = None
    candidate_groups: list[str] = field(default_factory=list)
    candidate_users: list[str] = field(default_factory=list)
    assignee: str | None = None
    result_variable: str | None = None  # camunda:resultVariable (message catch, decision)
    decision_ref: str | None = None  # camunda:decisionRef of a business rule task
    decision_outputs: list[str] = field(default_factory=list)  # filled by validation from the DMN documents
    decision_reads: set[str] = field(default_factory=set)
    outgoing: list[str] = field(default_factory=list)
    node: object = None

    @property
    def label(self) -> str:
        return self.name or self.id


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _text(node) -> str | None:
    if node is None:
        return None
    return (node.text or "").strip() or None


def form_fields(node) -> list[FormFieldXml]:
    """The camunda:formField children of an element's extensionElements."""
    fields = []
    for f in _FORM_FIELDS(node):
        fields.append(FormFieldXml(
            id=f.get("id"), label=f.get("label"), type=f.get("type"), default_value=f.get("defaultValue"),
            validation=[_Pair(name=c.get("name"), config=c.get("config"))
                        for c in _CONSTRAINTS(f)],
            options=[_Pair(id=v.get("id"), name=v.get("name")) for v in _VALUES(f)],
            properties=[_Pair(id=p.get("id"), value=p.get("value"))
                        for p in _FIELD_PROPERTIES(f)],
        ))
    return fields


def _properties(node) -> dict:
    return {p.get("name"): p.get("value") for p in _PROPERTIES(node)}


def processes(root) -> list:
    """The bpmn:process elements of a document."""
    return list(root.iter(f"{{{BPMN}}}process"))


def process_names(root) -> dict[str, str]:
    """Process id -> display name (the process name, else its participant's name)."""
    names = {}
    for p in processes(root):
        names[p.get("id")] = " ".join((p.get("name") or "").split())
    for part in root.iter(f"{{{BPMN}}}participant"):
        ref = part.get("processRef")
        if ref in names and not names[ref]:
            names[ref] = " ".join((part.get("name") or "").split())
    return {k: v or k for k, v in names.items()}


def elements(root, process_id: str) -> dict[str, Element]:
    """Every flow node and sequence flow of one process (subprocesses included), by id."""
    found = [p for p in processes(root) if p.get("id") == process_id]
    if not found:
        return {}
    process = found[0]
    lanes = {}
    for ref in process.iter(f"{{{BPMN}}}flowNodeRef"):
        if ref.text:
            lanes[ref.text.strip()] = ref.getparent().get("name")
    result: dict[str, Element] = {}
    _collect(process, None, None, lanes, result)
    for el in result.values():
        if el.type == "sequenceFlow" and el.source in result:
            result[el.source].outgoing.append(el.id)
    return result


def _collect(container, parent_id, parent_lane, lanes, result) -> None:
    for node in container:
        kind = local(node.tag)
        node_id = node.get("id")
        if not node_id or (kind not in FLOW_NODE_TYPES and kind != "sequenceFlow"):
            continue
        lane = lanes.get(node_id, parent_lane) if kind != "sequenceFlow" else None
        el = Element(id=node_id, type=kind, name=" ".join((node.get("name") or "").split()), lane=lane,
                     parent=parent_id, node=node)
        if kind == "sequenceFlow":
            el.source, el.target = node.get("sourceRef"), node.get("targetRef")
            el.condition = _text(node.find(f"{{{BPMN}}}conditionExpression"))
        else:
            el.form = form_fields(node)
            el.properties = _properties(node)
            el.default = node.get("default")
            el.attached_to = node.get("attachedToRef")
            el.script = _text(node.find(f"{{{BPMN}}}script"))
            el.topic = node.get(f"{{{CAMUNDA}}}topic") or node.get(f"{{{CAMUNDA}}}expression")
            el.candidate_groups = _split(node.get(f"{{{CAMUNDA}}}candidateGroups"))
            el.candidate_users = _split(node.get(f"{{{CAMUNDA}}}candidateUsers"))
            el.assignee = (node.get(f"{{{CAMUNDA}}}assignee") or "").strip() or None
            el.decision_ref = node.get(f"{{{CAMUNDA}}}decisionRef")
            el.result_variable = node.get(f"{{{CAMUNDA}}}resultVariable") or next(
                (d.get(f"{{{CAMUNDA}}}resultVariable") for d in node.iter(f"{{{BPMN}}}messageEventDefinition")
                 if d.get(f"{{{CAMUNDA}}}resultVariable")), None)
            timer = node.find(f"{{{BPMN}}}timerEventDefinition")
            if timer is not None:
                for child in timer:
                    if local(child.tag) in ("timeDate", "timeDuration", "timeCycle"):
                        el.timer = (local(child.tag), _text(child) or "")
                if el.timer is None:
                    el.timer = ("", "")
        result[node_id] = el
        if kind in ("subProcess", "transaction", "adHocSubProcess"):
            _collect(node, node_id, lane, lanes, result)


def decision_refs(root) -> set[str]:
    """The camunda:decisionRef of every business rule task of the document."""
    return {n.get(f"{{{CAMUNDA}}}decisionRef") for n in root.iter(f"{{{BPMN}}}businessRuleTask")
            if n.get(f"{{{CAMUNDA}}}decisionRef")}


def labels(root) -> dict[str, str]:
    """Every element id in the document -> its name (or id)."""
    return {n.get("id"): (" ".join((n.get("name") or "").split()) or n.get("id"))
            for n in root.iter() if isinstance(n.tag, str) and n.get("id")}
