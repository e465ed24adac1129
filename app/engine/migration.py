"""Part of the engine layer (with engine.py, the only other module allowed to import SpiffWorkflow):
moving a running case's workflow to another version of its process.

Built on SpiffWorkflow.bpmn.util.diff. The rule (spiff-arena's): a case can move when no COMPLETED or
STARTED task has a spec that changed or disappeared, and the steps it waits on exist in the new version.
Migration resets READY and WAITING tasks and predicts again: a boundary timer restarts from the migration.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, migrate_workflow
from SpiffWorkflow.camunda.serializer import DEFAULT_CONFIG as CAMUNDA_CONFIG
from SpiffWorkflow.dmn.serializer.task_spec import BaseBusinessRuleTaskConverter

from app.engine import compaction as engine_compaction
from app.engine.decision_tasks import DecisionTask
from app.engine.parser import HandlerTask, ProcessSpec
from app.engine.runtime import CaseWorkflow, StepContext, StepResult

FROZEN = TaskState.COMPLETED | TaskState.STARTED
WAITING = TaskState.READY | TaskState.WAITING
# Serialized attributes that do not change how a finished task ran: a label or a lane move on a completed
# step is history, not behaviour.
_COSMETIC = frozenset({"bpmn_name", "lane", "documentation", "form", "extensions"})


@dataclass
class MigrationCheck:
    """Whether a workflow can move to the new spec, and why not."""

    ok: bool
    reasons: list[str] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)  # where the case waits: {bpmn_id, before, after}


class _HandlerTaskConverter(BpmnTaskSpecConverter):
    """Lets the diff compare our named-handler service tasks (topic included)."""

    def to_dict(self, spec):
        return {**self.get_default_attributes(spec), "topic": spec.topic}

    def from_dict(self, dct):  # never used: specs are compared, not restored
        raise NotImplementedError


class _DecisionTaskConverter(BaseBusinessRuleTaskConverter):
    """Lets the diff compare business rule tasks: their table and Camunda result mapping."""

    def to_dict(self, spec):
        return {**super().to_dict(spec), "result_variable": spec.result_variable, "map_result": spec.map_result}

    def from_dict(self, dct):  # never used: specs are compared, not restored
        raise NotImplementedError


# A registry of its own, so that comparing specs never changes how cases are serialized.
_registry = BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG)
_HandlerTaskConverter(HandlerTask, _registry)
_DecisionTaskConverter(DecisionTask, _registry)


def _label(task) -> str:
    ts = task.task_spec
    return f"« {ts.bpmn_name or ts.name} » ({ts.name})" if ts.bpmn_id else ts.name


_SPEC_DIFFS: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def _spec_diff(old_spec, new_spec) -> SpecDiff:
    """SpecDiff of two parsed specs, computed once per pair: checking many cases pays it once."""
    key = (id(old_spec), id(new_spec))
    with _LOCK:
        hit = _SPEC_DIFFS.get(key)
        if hit is not None and hit[0] is old_spec and hit[1] is new_spec:
            return hit[2]
    diff = SpecDiff(_registry, old_spec, new_spec)
    with _LOCK:
        _SPEC_DIFFS[key] = (old_spec, new_spec, diff)
        while len(_SPEC_DIFFS) > 32:
            _SPEC_DIFFS.popitem(last=False)
    return diff


def _diffs(wf, new: ProcessSpec):
    """What SpiffWorkflow's diff_workflow returns, with the spec diffs cached."""
    top = WorkflowDiff(wf, _spec_diff(wf.spec, new.spec))
    subs = {}
    for sp_id, sp in wf.subprocesses.items():
        new_spec = new.subprocess_specs.get(sp.spec.name)
        subs[sp_id] = WorkflowDiff(sp, _spec_diff(sp.spec, new_spec)) if new_spec is not None else None
    return top, subs


def _problems(wf, diff, changed_specs) -> list[str]:
    reasons = []
    for task in diff.removed:
        if task.has_state(FROZEN):
            reasons.append(f"Étape {_label(task)} déjà {'commencée' if task.has_state(TaskState.STARTED) else 'passée'}"
                           " : supprimée dans la nouvelle version.")
        elif task.has_state(WAITING) and task.task_spec.bpmn_id:
            reasons.append(f"Le dossier attend à l'étape {_label(task)}, absente de la nouvelle version.")
    for task in diff.changed:
        if task.has_state(FROZEN):
            attrs = [a for a in changed_specs.get(task.task_spec, []) if a not in _COSMETIC]
            if attrs:
                reasons.append(f"Étape {_label(task)} déjà passée : modifiée dans la nouvelle version "
                               f"({', '.join(attrs)}).")
    return reasons


def _passed_problems(wf, new: ProcessSpec) -> list[str]:
    """The same rule for elements passed long ago, whose tasks the engine's compaction dropped."""
    reasons = []
    for process, names in engine_compaction.passed_elements(wf).items():
        old_spec = wf.spec if process == wf.spec.name else wf.subprocess_specs.get(process)
        new_spec = new.spec if process == new.spec.name else new.subprocess_specs.get(process)
        if old_spec is None:
            continue
        if new_spec is None:
            reasons.append(f"Le sous-processus « {process} », déjà passé, n'existe plus dans la nouvelle version.")
            continue
        diff = _spec_diff(old_spec, new_spec)
        removed, changed = set(diff.removed), diff.changed
        for name in names:
            ts = old_spec.task_specs.get(name)
            if ts is None or not ts.bpmn_id:
                continue
            label = f"« {ts.bpmn_name or ts.name} » ({ts.name})"
            attrs = [a for a in changed.get(ts, []) if a not in _COSMETIC]
            if ts in removed:
                reasons.append(f"Étape {label} déjà passée : supprimée dans la nouvelle version.")
            elif attrs:
                reasons.append(f"Étape {label} déjà passée : modifiée dans la nouvelle version ({', '.join(attrs)}).")
    return reasons


def check(old: ProcessSpec, new: ProcessSpec, state: str) -> MigrationCheck:
    """Tell whether a serialized workflow of `old` can move to `new`, with the reasons when it cannot."""
    wf = CaseWorkflow.load(old, state, StepContext()).wf
    return _check(wf, old, new)


def _check(wf, old: ProcessSpec, new: ProcessSpec) -> MigrationCheck:
    top, subs = _diffs(wf, new)
    reasons = _problems(wf, top, _spec_diff(wf.spec, new.spec).changed)
    reasons.extend(_passed_problems(wf, new))
    for sp_id, sp_diff in subs.items():
        sp = wf.subprocesses[sp_id]
        if sp_diff is None:
            if any(t.has_state(FROZEN | WAITING) for t in sp.get_tasks()):
                reasons.append(f"Le sous-processus « {sp.spec.name} » n'existe plus dans la nouvelle version.")
            continue
        reasons.extend(_problems(sp, sp_diff, _spec_diff(sp.spec, new.subprocess_specs[sp.spec.name]).changed))
    steps = []
    for task in wf.get_tasks(state=TaskState.READY, manual=True):
        ts = task.task_spec
        after = new.user_tasks.get(ts.name, {}).get("name")
        steps.append({"bpmn_id": ts.name, "before": ts.bpmn_name or ts.name, "after": after})
    return MigrationCheck(ok=not reasons, reasons=list(dict.fromkeys(reasons)), steps=steps)


def migrate(old: ProcessSpec, new: ProcessSpec, state: str, context: StepContext,
            data: dict | None = None) -> tuple[CaseWorkflow, StepResult]:
    """Move a serialized workflow to `new` and run the engine; raise ValueError with reasons when it cannot."""
    wf = CaseWorkflow.load(old, state, context, data=data).wf
    verdict = _check(wf, old, new)
    if not verdict.ok:
        raise ValueError(" ".join(verdict.reasons))
    top, subs = _diffs(wf, new)
    for sp_id, sp_diff in subs.items():
        sp = wf.subprocesses.get(sp_id)
        if sp is not None and sp_diff is not None:
            migrate_workflow(sp_diff, sp, new.subprocess_specs[sp.spec.name])
    migrate_workflow(top, wf, new.spec)
    wf.subprocess_specs = new.subprocess_specs
    moved = CaseWorkflow(new, wf, data)
    return moved, moved._steps()
