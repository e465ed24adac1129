"""Workflow state as JSON without the spec: the definition row holds the XML, the parsed spec is cached.

The task and workflow converters below produce and read exactly the library's format (same keys, same
values), only faster: parsing a task id (`UUID(text)`) and formatting it (`str`) cost more than the rest of a
task's (de)serialization, so the ids seen lately are kept both ways (bounded); a task's parent is looked up once.
"""

from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnSubWorkflowConverter,
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.task import Task, TaskState
from SpiffWorkflow.util.deep_merge import DeepMerge

# The task ids seen lately, by text and text by id: a worker loads the same cases' states again and again, and
# parsing an id (UUID(text)) and formatting it (str) cost more than the rest of a task's (de)serialization. The
# same text gives the same UUID object (immutable), which also lets the task dictionaries compare keys by
# identity. Bounded: both are emptied when full; a miss only costs the parsing or formatting.
ID_TEXTS: dict[UUID, str] = {}
IDS: dict[str, UUID] = {}
ID_TEXTS_MAX = 50_000


def _remember(value: UUID, text: str) -> None:
    if len(IDS) >= ID_TEXTS_MAX or len(ID_TEXTS) >= ID_TEXTS_MAX:
        IDS.clear()
        ID_TEXTS.clear()
    IDS[text] = value
    ID_TEXTS[value] = text


def task_id(text: str) -> UUID:
    """`UUID(text)`, cached for the canonical form (what str() gives); any other form is parsed each time."""
    value = IDS.get(text)
    if value is None:
        value = UUID(text)
        if str(value) == text:
            _remember(value, text)
    return value


def id_text(value) -> str:
    """`str(value)` for a task id (cached), or any other key."""
    text = ID_TEXTS.get(value) if type(value) is UUID else None
    if text is None:
        text = str(value)
        if type(value) is UUID:
            _remember(value, text)
    return text


def _ids_to_dict(converter, mapping) -> dict:
    convert = converter.registry.convert
    return {id_text(k): convert(v) for k, v in mapping.items()}


def _ids_mapping(converter, mapping, **kwargs) -> dict:
    restore = converter.registry.restore
    return {task_id(k): restore(v, **kwargs) for k, v in mapping.items()}


class FastTaskConverter(TaskConverter):
    """The library's TaskConverter, same dictionary, fewer lookups and faster id parsing."""

    def to_dict(self, task):
        parent = task.workflow.tasks.get(task._parent)
        if parent is None:
            data, delta = task.data, {}
        else:
            a, b = parent.data, task.data
            data = {}
            delta = {"updates": {k: v for k, v in b.items() if k not in a or v != a[k]},
                     "deletions": [k for k in a if k not in b]}
        return {
            "id": id_text(task.id),
            "parent": id_text(task._parent) if parent is not None else None,
            "children": [id_text(child) for child in task._children],
            "last_state_change": task.last_state_change,
            "state": task.state,
            "task_spec": task.task_spec.name,
            "triggered": task.triggered,
            "internal_data": self.registry.convert(task.internal_data),
            "data": data,
            "delta": delta,
        }

    def from_dict(self, dct, workflow):
        task_spec = workflow.spec.task_specs.get(dct["task_spec"])
        task = self.target_class(workflow, task_spec, state=dct["state"], id=task_id(dct["id"]))
        task._parent = task_id(dct["parent"]) if dct["parent"] is not None else None
        task._children = [task_id(child) for child in dct["children"]]
        task.last_state_change = dct["last_state_change"]
        task.triggered = dct["triggered"]
        task.internal_data = self.registry.restore(dct["internal_data"])
        if isinstance(task_spec, CatchingEvent) and task.has_state(TaskState.WAITING):
            task.workflow.top_workflow.event_manager.add_task(task)
        delta = dct.get("delta")
        parent = workflow.tasks.get(task._parent) if delta else None
        if delta and parent is not None:
            data = DeepMerge.merge({}, parent.data)
            data.update(self.registry.restore(delta.get("updates", {})))
            for key in delta.get("deletions", {}):
                if key in data:
                    del data[key]
        else:
            data = self.registry.restore(dct["data"])
        task.data = data
        return task


class FastSubWorkflowConverter(BpmnSubWorkflowConverter):
    def mapping_to_dict(self, mapping, **kwargs):
        return _ids_to_dict(self, mapping) if not kwargs else super().mapping_to_dict(mapping, **kwargs)

    def from_dict(self, dct, task, top_workflow):
        spec = top_workflow.subprocess_specs.get(task.task_spec.spec)
        subprocess = self.target_class(spec, task.id, top_workflow, deserializing=True)
        subprocess.tasks = _ids_mapping(self, dct["tasks"], workflow=subprocess)
        subprocess.task_tree = subprocess.tasks.get(task_id(dct["root"]))
        self.set_default_attributes(subprocess, dct)
        return subprocess


# --- serialization without the spec -----------------------------------------------------------------

class SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Store the task tree only: the definition row holds the XML, and the parsed spec is cached per process."""

    def mapping_to_dict(self, mapping, **kwargs):
        return _ids_to_dict(self, mapping) if not kwargs else super().mapping_to_dict(mapping, **kwargs)

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = _ids_mapping(self, dct["tasks"], workflow=workflow)
        workflow.task_tree = workflow.tasks.get(task_id(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
FastTaskConverter(Task, _registry)
FastSubWorkflowConverter(BpmnSubWorkflow, _registry)
SpeclessWorkflowConverter(BpmnWorkflow, _registry)
SERIALIZER = BpmnWorkflowSerializer(_registry)
SERIALIZER_VERSION = f"{SERIALIZER.VERSION}-specless"
