"""Part of the engine (imported by runtime.py only): move a case's token to any flow node of its process version.

An administrator's repair. The token held at one element is cancelled (with the boundary events attached to
it, or the whole subprocess it runs in when the target lies outside that subprocess) and the target's task
subtree is built from the spec, not looked up in the live tree: compaction drops passed branches, so an
element passed long ago has no task left to reset. The new task hangs under the parent of the cancelled token
(the nearest task compaction kept), carries the case's current data, and every subprocess between that
workflow and the target is opened on the way (its boundary events armed again, its start skipped).

What can be a target (`refusal` says why not, in French):
- tasks of every kind, gateways, intermediate events, end events, subprocesses and call activities, in the
  process the token is in, in a subprocess running around it, or inside an embedded subprocess or a called
  process reached from there (the subprocess is opened again);
- never a start event (the step after it is the target), a boundary event (it fires on its own), an element
  no flow reaches (an event subprocess, which the parser may read as a subprocess without incoming flow, and
  what it holds), an element inside a multi-instance or loop subprocess (their instances cannot be rebuilt
  one by one), nor an element inside a parallel branch the token is not already in (the join would wait
  forever for the other branches). Leaving a parallel block (back before its split, on past its join)
  cancels the other branches' tokens too.
"""

from __future__ import annotations

from copy import deepcopy

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import EventSubprocess, SubWorkflowTask

from app.engine.errors import MoveRefused

HELD = TaskState.ERROR | TaskState.READY | TaskState.WAITING
MAX_NESTING = 20  # subprocess levels searched below a workflow (a process calling itself would never end)


def held_tasks(top, bpmn_id: str | None = None) -> list:
    """Tasks holding a token an administrator may move (failed, ready or waiting flow nodes)."""
    found = []
    for task in top.get_tasks(state=HELD):
        spec = task.task_spec
        if spec.bpmn_id is None or isinstance(spec, BoundaryEvent | StartEvent):
            continue  # boundary events and event-subprocess starts move with their activity, never alone
        if bpmn_id is None or spec.bpmn_id == bpmn_id:
            found.append(task)
    return found


def _label(spec) -> str:
    return f"« {spec.bpmn_name or spec.bpmn_id} »"


def _chain(task) -> list[tuple[object, object]]:
    """(workflow, the task of that workflow holding the token or the subprocess around it), innermost first."""
    chain = [(task.workflow, task)]
    wf = task.workflow
    while getattr(wf, "parent_task_id", None) is not None:
        caller = wf.top_workflow.get_task_from_id(wf.parent_task_id)
        chain.append((caller.workflow, caller))
        wf = caller.workflow
    return chain


def _opens_subprocess(spec) -> bool:
    """A subprocess the flow enters: not an event subprocess (the parser may read one as a subprocess without
    incoming flow), not the body of a multi-instance or loop activity."""
    return (isinstance(spec, SubWorkflowTask) and not isinstance(spec, EventSubprocess) and bool(spec.inputs)
            and not any(isinstance(i, LoopTask) for i in spec.inputs))


def _find(top, process_spec, bpmn_id: str, depth: int = 0, seen: frozenset = frozenset()) -> list | None:
    """The specs from a process down to the target: [subprocess task spec, ..., target spec], or None."""
    specs = process_spec.task_specs
    if bpmn_id in specs and specs[bpmn_id].bpmn_id == bpmn_id:
        return [specs[bpmn_id]]
    if depth >= MAX_NESTING:
        return None
    for spec in specs.values():
        if _opens_subprocess(spec) and spec.spec not in seen and spec.spec in top.subprocess_specs:
            below = _find(top, top.subprocess_specs[spec.spec], bpmn_id, depth + 1, seen | {spec.spec})
            if below is not None:
                return [spec, *below]
    return None


def _inside_unreachable(top, bpmn_id: str) -> str | None:
    """Why an element that exists in the version cannot be reached (event subprocess, multi-instance)."""
    for name, process_spec in [(top.spec.name, top.spec), *top.subprocess_specs.items()]:
        if bpmn_id not in process_spec.task_specs:
            continue
        for outer in [top.spec, *top.subprocess_specs.values()]:
            for spec in outer.task_specs.values():
                if isinstance(spec, SubWorkflowTask) and spec.spec == name and spec.bpmn_id:
                    if isinstance(spec, EventSubprocess) or not spec.inputs:
                        return (f"il est dans {_label(spec)}, un sous-processus qu'aucun flux n'atteint "
                                "(sous-processus d'événement, déclenché par son événement)")
                    if not _opens_subprocess(spec):
                        return f"il est dans le sous-processus à instances multiples {_label(spec)}"
    return None


def _branch(spec, limit: int = 500) -> tuple[set, set]:
    """(converging parallel or inclusive gateways reached from a spec without crossing a diverging one, the
    names of the elements met on the way): the parallel branch the element is in, if any."""
    joins, seen, todo = set(), set(), [spec]
    if isinstance(spec, ParallelGateway | InclusiveGateway) and len(spec.outputs) > 1:
        return joins, seen  # it opens a block: its branches are not a branch the element is in
    while todo and len(seen) < limit:
        current = todo.pop()
        for nxt in current.outputs:
            if nxt.name in seen:
                continue
            seen.add(nxt.name)
            if isinstance(nxt, ParallelGateway | InclusiveGateway):
                if len(nxt.outputs) > 1:
                    continue  # a parallel block opens here: its join is not this branch's
                if len(nxt.inputs) > 1:
                    joins.add(nxt.name)
                    continue
            todo.append(nxt)
    return joins, seen


def plan(top, held, to_bpmn_id: str) -> tuple[object, object, list]:
    """Where a move goes: (workflow, the task to cancel there, [specs to enter, down to the target]).
    MoveRefused, in French, when the target cannot be one."""
    for wf, anchor in _chain(held):  # noqa: B007 - the pair found is used after the loop
        path = _find(top, wf.spec, to_bpmn_id)
        if path is not None:
            break
    else:
        why = _inside_unreachable(top, to_bpmn_id)
        if why:
            raise MoveRefused(f"« {to_bpmn_id} » ne peut pas recevoir le jeton : {why}.")
        raise MoveRefused(f"« {to_bpmn_id} » n'est pas un élément de cette version du processus.")
    target = path[-1]
    if target.bpmn_id == held.task_spec.bpmn_id and len(path) == 1:
        raise MoveRefused(f"Le jeton est déjà à {_label(target)}.")
    if isinstance(target, StartEvent):
        raise MoveRefused(f"{_label(target)} est un événement de début : choisissez l'étape qui le suit.")
    if isinstance(target, BoundaryEvent):
        raise MoveRefused(f"{_label(target)} est un événement attaché à une activité : il se déclenche seul ; "
                          "choisissez l'activité ou l'étape qui suit l'événement.")
    if isinstance(target, EventSubprocess) or not target.inputs:
        raise MoveRefused(f"{_label(target)} n'est atteint par aucun flux (sous-processus d'événement ou élément "
                          "isolé) : il ne peut pas recevoir le jeton.")
    entered, here = path[0], anchor.task_spec
    joins, reached = _branch(entered)
    if joins and here.name not in reached and entered.name not in _branch(here)[1]:
        raise MoveRefused(f"{_label(target)} est dans une branche parallèle où le dossier n'est pas : la "
                          "jonction attendrait les autres branches indéfiniment ; choisissez la passerelle qui "
                          "ouvre les branches ou une étape après la jonction.")
    return wf, anchor, path


def targets(top, held) -> dict[str, str]:
    """Every element this token may be moved to: {bpmn id: label}, subprocess elements named with it."""
    found: dict[str, str] = {}
    for wf, _anchor in _chain(held):
        _collect(top, wf.spec, "", found, 0, frozenset())
    result = {}
    for bpmn_id, label in found.items():
        try:
            plan(top, held, bpmn_id)
        except MoveRefused:
            continue
        result[bpmn_id] = label
    return result


def _collect(top, process_spec, prefix: str, found: dict, depth: int, seen: frozenset) -> None:
    for spec in process_spec.task_specs.values():
        if spec.bpmn_id is None or spec.name != spec.bpmn_id or spec.bpmn_id in found:
            continue
        if not spec.bpmn_name and "Gateway" in type(spec).__name__:
            continue  # an unnamed merge gateway: the element after it is the same move, and it has a name
        found[spec.bpmn_id] = prefix + (spec.bpmn_name or spec.bpmn_id)
        if _opens_subprocess(spec) and depth < MAX_NESTING and spec.spec not in seen \
                and spec.spec in top.subprocess_specs:
            _collect(top, top.subprocess_specs[spec.spec], f"{prefix}{spec.bpmn_name or spec.bpmn_id} › ",
                     found, depth + 1, seen | {spec.spec})


# --- doing it ----------------------------------------------------------------------------------------------

def move(top, held, to_bpmn_id: str, data: dict) -> None:
    """Cancel the token and build the target's subtree, carrying `data`; the caller runs the engine."""
    _wf, anchor, path = plan(top, held, to_bpmn_id)
    parent = anchor.parent
    if parent is not None and isinstance(parent.task_spec, BoundaryEventSplit):
        for sibling in parent.children:  # the activity and its boundary events: one token
            _cancel(sibling)
        parent = parent.parent
    else:
        _cancel(anchor)
    if parent is None:
        parent = anchor.workflow.task_tree
    _cancel_block(anchor, path[0])
    for spec in path[:-1]:
        parent = _open(top, parent, spec, data)
    _enter(parent, path[-1], data)


def _cancel_block(anchor, entered) -> None:
    """Leaving a parallel block (back before its split, on past its join): the other branches' tokens, and the
    join's waiting arrivals, are cancelled with the moved one, or the block would run twice."""
    joins = _branch(anchor.task_spec)[0]
    if not joins or joins & _branch(entered)[0]:
        return
    for task in list(anchor.workflow.get_tasks(state=TaskState.NOT_FINISHED_MASK | TaskState.ERROR)):
        if task is anchor or task.state & TaskState.PREDICTED_MASK:
            continue
        if task.task_spec.name in joins or _branch(task.task_spec)[0] & joins:
            _cancel(task)


def _cancel(task) -> None:
    if task.has_state(TaskState.COMPLETED | TaskState.CANCELLED):
        return
    if task.state == TaskState.ERROR:  # Task.cancel leaves a failed task failed
        task._set_state(TaskState.STARTED)
    task.cancel()


def _boundary_split(spec):
    return next((i for i in spec.inputs if isinstance(i, BoundaryEventSplit)), None)


def _update_keeping_data(task) -> None:
    """Let the spec react as if its predecessor had just completed, without inheriting the parent's older data
    (its successors predicted first, as Task.reset_branch does)."""
    task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
    task._inherit_data = lambda: None
    try:
        task.task_spec._update(task)
    finally:
        del task._inherit_data


def _enter(parent, spec, data: dict) -> None:
    """The target itself: created as a predecessor would create it (its boundary split first, if any)."""
    split = _boundary_split(spec)
    task = parent._add_child(split or spec, TaskState.FUTURE)
    task.data = deepcopy(data)
    _update_keeping_data(task)  # ready (tasks, gateways, the split), waiting (events) or started (subprocesses)


def _open(top, parent, spec, data: dict):
    """A subprocess on the way to the target: its task (with its boundary events armed) started, its
    workflow created with the data, its start skipped; returns the task to hang the next element under."""
    split = _boundary_split(spec)
    holder = parent
    if split is not None:
        holder = parent._add_child(split, TaskState.FUTURE)
        holder.data = deepcopy(data)
        holder._set_state(TaskState.COMPLETED)
    task = None
    for out in (split.outputs if split is not None else [spec]):
        child = holder._add_child(out, TaskState.FUTURE)
        child.data = deepcopy(data)
        if out is spec:
            task = child
            spec._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)
        else:
            _update_keeping_data(child)  # a boundary event: waiting again, its timer computed from the data
    subworkflow = top.create_subprocess(task, spec.spec)
    subworkflow.completed_event.connect(spec._on_subworkflow_completed, task)
    start = subworkflow.get_next_task(spec_name="Start")
    start.data = deepcopy(data)
    start._drop_children(force=True)
    start._set_state(TaskState.COMPLETED)
    task._set_state(TaskState.STARTED)
    return start
