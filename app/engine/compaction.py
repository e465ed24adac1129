"""Part of the engine (imported by engine.py only): keep a long-lived case's live task tree small.

SpiffWorkflow 3.2 keeps every finished task in the live tree, so a loop adds a few levels per pass: every
step walks, copies and serializes the whole history, and at depth 1000 the library's task iterators stop
descending, so active tasks vanish from `get_tasks` and the case stalls silently. The audit log already
holds the history (each step's path of elements and submitted data), so at each wait state we drop the
finished tasks that nothing active needs, and `depth_problem` turns any remaining risk into an incident.

What is kept, per workflow (the top one and every subprocess), and why:
- every active task (predicted, future, waiting, ready, started; error too), and its parent: a task
  inherits its parent's data when it becomes ready, and joins look at their instances' parents;
- finished children of an active task (multi-instance children hang under their started task);
- the root, `last_task` (a subprocess hands `last_task.data` to its caller when it ends) and the most
  recently changed task of the case (the case's current data is read from it);
- for a join with an open round (an unfinished instance): the instances not completed since its last
  firing (waiting or cancelled arrivals still count, and their parents' data is merged when it fires),
  and for each of its inputs the nearest ancestor of that input's element (a parallel join reached
  by a loop counts an input met among its ancestors as passed, and finds it by walking up);
- for a structured join (boundary-event and start-event joins): its split ancestor and the split's
  children (the join inspects the attached activity and its boundary events);
- the ancestors of all of these, with linear runs of finished ancestors spliced out: a kept task is
  re-attached to its nearest kept ancestor, so ancestor order is unchanged, only shorter.
Subprocess workflows whose task is dropped are dropped with it. The process end join's finished arrivals
(a branch that ended while the case went on) only matter for the data it merges when the case ends: they
are kept outside the tree and folded into one (_fold_arrivals). A dropped join arrival from an earlier
round of a loop is no longer counted again (SpiffWorkflow would count it as a stale token).
"""

from __future__ import annotations

import inspect
from copy import deepcopy

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn.specs.control import _EndJoin
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskIterator

ACTIVE = TaskState.NOT_FINISHED_MASK | TaskState.ERROR
CURRENT = TaskState.WAITING | TaskState.READY | TaskState.STARTED | TaskState.ERROR
LATEST = TaskState.READY | TaskState.WAITING | TaskState.COMPLETED | TaskState.ERROR


def workflows(top) -> list:
    """The top workflow and its subprocess workflows, parents before children."""
    return [top, *sorted(top.subprocesses.values(), key=lambda sp: sp.depth)]


def latest_task(top):
    """The most recently changed ready, waiting, completed or failed task, in any workflow of the case."""
    latest = None
    for wf in workflows(top):
        for task in wf.tasks.values():
            if task.state & LATEST and (latest is None or task.last_state_change > latest.last_state_change):
                latest = task
    return latest


def at_wait_state(top) -> bool:
    """True when no engine task is ready: only people, timers or messages can move the case now."""
    return not any(t.state == TaskState.READY and not t.task_spec.manual
                   for wf in workflows(top) for t in wf.tasks.values())


def compact(top) -> int:
    """Drop the finished tasks that nothing active needs, in every workflow of a case; return how many."""
    if not at_wait_state(top):
        return 0
    latest = latest_task(top)
    removed = 0
    for wf in workflows(top):
        if wf is not top and wf.parent_task_id not in top.subprocesses:
            continue  # its calling task was dropped with an ancestor workflow
        removed += _compact_one(top, wf, latest)
    return removed


def _pinned(wf, latest) -> tuple[set, set]:
    """The tasks to keep in the tree, and the end-join arrivals to keep outside it (see _compact_one)."""
    tasks = wf.tasks
    pinned, loose = {wf.task_tree.id}, set()
    if wf.last_task is not None and wf.last_task.id in tasks:
        pinned.add(wf.last_task.id)
    if latest is not None and latest.id in tasks:
        pinned.add(latest.id)
    joins: dict[object, list] = {}
    for task in tasks.values():
        parent = tasks.get(task._parent) if task._parent is not None else None
        if task.state & ACTIVE:
            pinned.add(task.id)
            if parent is not None:
                pinned.add(parent.id)
        elif parent is not None and parent.state & ACTIVE:
            pinned.add(task.id)
        if isinstance(task.task_spec, Join):
            joins.setdefault(task.task_spec, []).append(task)
    for spec, instances in joins.items():
        open_ones = [t for t in instances if t.state & TaskState.NOT_FINISHED_MASK]
        if not open_ones:
            continue
        fired = [t.last_state_change for t in instances if t.state == TaskState.COMPLETED]
        since = max(fired) if fired else None
        for task in instances:
            if task.state != TaskState.COMPLETED and (since is None or task.last_state_change >= since):
                # The process end join only merges finished arrivals' data (found through wf.tasks): no
                # need to keep them in the tree, so an end reached once per pass adds no depth.
                target = loose if isinstance(spec, _EndJoin) and not task.state & ACTIVE else pinned
                target.add(task.id)
                if task._parent is not None:
                    target.add(task._parent)
        for task in open_ones:
            pinned.update(_nearest_input_ancestors(tasks, task, spec))
        if spec.split_task:
            for task in open_ones:
                split = task.find_ancestor(spec.split_task)
                if split is not None:
                    pinned.add(split.id)
                    pinned.update(split._children)
    return pinned, loose - pinned


def _nearest_input_ancestors(tasks, task, spec) -> list:
    """For each input of a join, its nearest ancestor instance: a parallel join treats an input found among
    its ancestors as already passed (the first pass of a loop), and looks for it by walking up."""
    wanted = {ts.name for ts in spec.inputs}
    found = []
    current = tasks.get(task._parent) if task._parent is not None else None
    while current is not None and wanted:
        if current.task_spec.name in wanted:
            wanted.discard(current.task_spec.name)
            found.append(current.id)
        current = tasks.get(current._parent) if current._parent is not None else None
    return found


def _compact_one(top, wf, latest) -> int:
    tasks = wf.tasks
    pinned, loose = _pinned(wf, latest)
    # Each pinned task keeps its chain to the root; a finished, unpinned link of that chain with a single
    # kept child is spliced out, so kept tasks hang under their nearest kept ancestor.
    keep, kept_children = set(), {}
    for task_id in pinned:
        child = None
        current = tasks.get(task_id)
        while current is not None:
            if child is not None:
                kept_children.setdefault(current.id, set()).add(child)
            if current.id in keep:
                break
            keep.add(current.id)
            child = current.id
            current = tasks.get(current._parent) if current._parent is not None else None
    spliced = {tid for tid in keep if tid not in pinned and tid != wf.task_tree.id
               and len(kept_children.get(tid, ())) == 1 and not tasks[tid].state & ACTIVE}
    keep -= spliced
    # A loose end-join arrival stays under its parent when that parent is kept anyway; otherwise the pair
    # is kept in wf.tasks, detached from the tree (the parent becomes a root of its own).
    for task_id in [t for t in loose if tasks[t]._parent in keep and isinstance(tasks[t].task_spec, _EndJoin)]:
        keep.add(task_id)
        loose.discard(task_id)
    _fold_arrivals(tasks, loose)
    dropped = [t for t in tasks.values() if t.id not in keep and t.id not in loose]
    if not dropped:
        return 0
    for task_id in loose:
        task = tasks[task_id]
        if task._parent not in loose:
            task._parent = None
        task._children = [c for c in task._children if c in loose]
    for task in tasks.values():
        if task.id not in keep:
            continue
        ancestor_id = task._parent
        while ancestor_id is not None and ancestor_id in spliced:
            ancestor_id = tasks[ancestor_id]._parent
        task._parent = ancestor_id
        task._children = _kept_children(tasks, task, keep, spliced)
    _record_passed(top, wf, dropped)
    for task in dropped:
        del tasks[task.id]
        top.event_manager.remove_task(task)
        if task.id in top.subprocesses:
            _drop_subprocess(top, task.id)
    return len(dropped)


PASSED = "passed_elements"


def _record_passed(top, wf, dropped) -> None:
    """Remember which elements the dropped tasks had passed (per process): a migration refuses to change an
    element a case has already passed, and can no longer see it in the tree."""
    names = {t.task_spec.name for t in dropped if t.state & (TaskState.COMPLETED | TaskState.STARTED)}
    if not names:
        return
    passed = top.data.setdefault(PASSED, {})
    known = set(passed.get(wf.spec.name, []))
    if not names <= known:
        passed[wf.spec.name] = sorted(known | names)


def passed_elements(top) -> dict[str, list[str]]:
    """Task spec names, by process (top or subprocess spec name), of passed tasks compaction dropped."""
    return dict(top.data.get(PASSED) or {})


def _fold_arrivals(tasks, loose: set) -> None:
    """Fold the detached end-join arrivals into the latest one, so a branch ending on every pass of a loop
    keeps two tasks, not two per pass. The end join merges its arrivals' parent data in arrival order with
    DeepMerge; the fold applies the same merges in the same order ahead of time (exact for scalar and dict
    values; a list changed by several ended branches follows DeepMerge's list rule, which is not associative)."""
    arrivals = sorted((tasks[t] for t in loose if isinstance(tasks[t].task_spec, _EndJoin)),
                      key=lambda t: t.last_state_change)
    if len(arrivals) < 2 or any(t._parent not in loose for t in arrivals):
        return
    folded = {}
    for arrival in arrivals:
        DeepMerge.merge(folded, deepcopy(tasks[arrival._parent].data))
    tasks[arrivals[-1]._parent].data = folded
    for arrival in arrivals[:-1]:
        loose.discard(arrival.id)
        loose.discard(arrival._parent)


def _kept_children(tasks, task, keep, spliced) -> list:
    """The task's children after compaction, in their original order (a spliced child gives its own)."""
    result = []
    for child_id in task._children:
        if child_id in spliced:
            result.extend(_kept_children(tasks, tasks[child_id], keep, spliced))
        elif child_id in keep:
            result.append(child_id)
    return result


def _drop_subprocess(top, task_id) -> None:
    subprocess = top.subprocesses.pop(task_id, None)
    if subprocess is None:
        return
    for task in subprocess.tasks.values():
        top.event_manager.remove_task(task)
        if task.id in top.subprocesses:
            _drop_subprocess(top, task.id)


# --- the stall guard ---------------------------------------------------------------------------------

def _max_depth_index(cls) -> int:
    """Where `max_depth` sits in the defaults of the iterator's __init__ (found once per class)."""
    names = [name for name, p in inspect.signature(cls.__init__).parameters.items()
             if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    defaults = cls.__init__.__defaults__ or ()
    return names.index("max_depth") - (len(names) - len(defaults))


_DEPTH_INDEX = {cls: _max_depth_index(cls) for cls in (TaskIterator, BpmnTaskIterator)}


def iterator_depth_limit() -> int:
    """The depth at which SpiffWorkflow's task iterators stop descending (read now, so tests can lower it; the
    default read from `__defaults__`, as `inspect.signature` would give it, at a fraction of its cost)."""
    return min(cls.__init__.__defaults__[index] for cls, index in _DEPTH_INDEX.items())


def deepest_active(top) -> tuple[int, object]:
    """The depth, as the library's iterators count it, of the deepest waiting, ready, started or failed task."""
    depths: dict = {}

    def depth_of(wf, task) -> int:
        chain = []
        while task.id not in depths:
            parent = wf.tasks.get(task._parent) if task._parent is not None else None
            if parent is None:
                base = 0
                if wf is not top:  # a subprocess's root hangs one level under its calling task
                    caller = top.get_task_from_id(wf.parent_task_id)
                    base = depth_of(caller.workflow, caller) + 1
                depths[task.id] = base
                break
            chain.append(task)
            task = parent
        value = depths[task.id]
        for item in reversed(chain):
            value += 1
            depths[item.id] = value
        return value

    deepest, which = 0, None
    for wf in workflows(top):
        for task in wf.tasks.values():
            if task.state & CURRENT:
                value = depth_of(wf, task)
                if value > deepest:
                    deepest, which = value, task
    return deepest, which


def depth_problem(top) -> tuple[str, str | None] | None:
    """A message and element id when an active task is close to, or past, the iterators' depth limit."""
    limit = iterator_depth_limit()
    deepest, task = deepest_active(top)
    if deepest < limit - max(limit // 10, 3):
        return None
    return (f"Arbre de tâches trop profond ({deepest} niveaux, limite du moteur {limit}) : le moteur ne "
            "verrait bientôt plus les tâches actives de ce dossier ; il est arrêté pour éviter un blocage "
            "silencieux.", getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)
