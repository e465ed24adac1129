"""Tests written by process owners, run at deploy against the new version, in memory.

A process may ship test cases (`processes/<name>.tests.json` next to the BPMN, or sent with a draft):

    {"tests": [{"name": "Réclamation acceptée",
                "start": {"channel": "letter", ...},                 # the start form's values
                "steps": [{"task": "ut_qualify", "data": {...}},     # what each user task submits, in order
                          {"message": "litige_clos", "payload": {...}}],
                "expect": {"path": ["ut_qualify", "br_department", ...],   # elements passed, in this order
                           "data": {"department": "logistics"},            # final values (a subset)
                           "ready": ["ut_survey"],                         # tasks waiting at the end
                           "completed": true}}]}

Each test runs the engine on the parsed version with a dry-run step context: handlers compute their updates
(deadlines, statuses) but no message, clock, notification, action or child case is written anywhere, and
nothing touches the database. A failure says where the path diverged: the expected element, the last
element reached, the elements the case went through.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from app import clock
from app.engine import CaseWorkflow, DefinitionError, StepContext, parse_definition
from app.forms.fields import validate_submission
from app.services.core.handlers import HANDLERS

MAX_TESTS = 50
MAX_STEPS = 200


class DryRunContext(StepContext):
    """What handlers may ask for, recorded and dropped: a test case never leaves the memory."""

    reference = "TEST-0000-000000"
    has_parent = False

    def __init__(self):
        self.effects: list[tuple] = []

    def now(self):
        return clock.now()

    def call_handler(self, topic, properties, data, bpmn_id):
        fn = HANDLERS.get(topic)
        if fn is None:
            raise LookupError(f"Aucun gestionnaire enregistré pour la tâche de service « {topic} »")
        return fn(self, properties, data)

    def send_message(self, template, data):
        self.effects.append(("message", template))

    def start_child_case(self, process, data):
        self.effects.append(("child", process))
        return "TEST-LINKED-000001"

    def message_parent(self, name, payload):
        self.effects.append(("parent_message", name))

    def record_actions(self, specs):
        self.effects.append(("actions", len(specs)))

    def clock(self, action, **values):
        self.effects.append(("clock", action))

    def notify(self, props):
        self.effects.append(("notify", props.get("text")))


@dataclass
class TestFailure:
    """Why one owner test failed: the element where it diverged (for the diagram) and a French sentence."""

    test: str
    element: str | None
    message: str
    path: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"test": self.test, "element": self.element, "message": self.message, "path": self.path}


def parse_tests(text: str | dict | list | None) -> list[dict]:
    """The test cases of a tests document (JSON text or already decoded); ValueError in French if malformed."""
    if text in (None, "", []):
        return []
    try:
        doc = json.loads(text) if isinstance(text, str) else text
    except json.JSONDecodeError as exc:
        raise ValueError(f"Fichier de tests : JSON invalide (ligne {exc.lineno}, colonne {exc.colno}).") from None
    tests = doc.get("tests") if isinstance(doc, dict) else doc
    if not isinstance(tests, list) or len(tests) > MAX_TESTS:
        raise ValueError(f"Fichier de tests : une liste « tests » d'au plus {MAX_TESTS} cas est attendue.")
    for number, test in enumerate(tests, start=1):
        if not isinstance(test, dict) or not isinstance(test.get("steps", []), list) \
                or not isinstance(test.get("start", {}), dict) or not isinstance(test.get("expect", {}), dict):
            raise ValueError(f"Fichier de tests : le cas {number} doit avoir start (objet), steps (liste) et "
                             "expect (objet).")
        if len(test.get("steps", [])) > MAX_STEPS:
            raise ValueError(f"Fichier de tests : le cas {number} a plus de {MAX_STEPS} étapes.")
    return tests


_PASSED: set[str] = set()  # fingerprints of (version, tests) that passed in this process: not run again


def _fingerprint(xml: str, key: str, tests: list[dict], decisions: dict[str, str] | None) -> str:
    digest = hashlib.sha256(key.encode("utf-8") + b"\0" + xml.encode("utf-8"))
    for name, document in sorted((decisions or {}).items()):
        digest.update(b"\0" + name.encode("utf-8") + b"\0" + document.encode("utf-8"))
    digest.update(b"\0" + json.dumps(tests, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()


def run(xml: str, key: str, tests: list[dict], decisions: dict[str, str] | None = None) -> list[TestFailure]:
    """Run the owner tests against a version; return the failures (none: the version passes). A version and
    tests that already passed in this process are not run again (deploying the shipped files at each start)."""
    fingerprint = _fingerprint(xml, key, tests, decisions)
    if fingerprint in _PASSED:
        return []
    failures = run_uncached(xml, key, tests, decisions)
    if not failures and len(_PASSED) < 1000:
        _PASSED.add(fingerprint)
    return failures


def run_uncached(xml: str, key: str, tests: list[dict], decisions: dict[str, str] | None) -> list[TestFailure]:
    """Run the owner tests, whatever ran before (what run() does on a new version; the benchmark)."""
    try:
        pspec = parse_definition(xml, key, decisions=decisions)
    except DefinitionError as exc:
        return [TestFailure("", e, m) for e, m in exc.problems]
    failures = []
    for number, test in enumerate(tests, start=1):
        name = str(test.get("name") or f"cas {number}")
        failure = _run_one(pspec, name, test)
        if failure is not None:
            failures.append(failure)
    return failures


def _run_one(pspec, name: str, test: dict) -> TestFailure | None:
    start, errors = validate_submission(pspec.start_form, test.get("start") or {})
    if errors:
        return TestFailure(name, None, f"Données de départ refusées par le formulaire : {_errors(errors)}.")
    data = {k: v for k, v in start.items() if v not in (None, "")}
    data.setdefault("received_at", clock.now().isoformat())
    context = DryRunContext()
    workflow, result = CaseWorkflow.start(pspec, data, context)
    path = [p["bpmn_id"] for p in result.path]
    for number, step in enumerate(test.get("steps") or [], start=1):
        if result.error is not None:
            break
        if not isinstance(step, dict):
            return TestFailure(name, None, f"Étape {number} : objet attendu.", path)
        if "message" in step:
            if not workflow.waits_for_message(str(step["message"])):
                return TestFailure(name, path[-1] if path else None, f"Étape {number} : le dossier n'attend pas le "
                                   f"message « {step['message']} » (dernier élément : {_last(path)}).", path)
            result = workflow.deliver_message(str(step["message"]), dict(step.get("payload") or {}))
            path += [p["bpmn_id"] for p in result.path]
            continue
        task_id = str(step.get("task") or "")
        ready = [t for t in result.ready if t.bpmn_id == task_id]
        if not ready:
            waiting = ", ".join(t.bpmn_id for t in result.ready) or "aucune"
            return TestFailure(name, path[-1] if path else None, f"Étape {number} : la tâche « {task_id} » n'est pas "
                               f"à faire ; tâches à faire : {waiting} (chemin suivi : {_last(path)}).", path)
        task = ready[0]
        clean, errors = validate_submission(task.form, step.get("data") or {})
        if errors:
            return TestFailure(name, task_id, f"Étape {number} (« {task.name} ») : saisie refusée par le formulaire : "
                               f"{_errors(errors)}.", path)
        for spec in task.form:  # an optional boolean left out is an unticked box (as complete_row does)
            if spec.type == "boolean" and not spec.required and not spec.readonly and spec.name not in clean:
                clean[spec.name] = spec.default == "true"
        result = workflow.complete(task.id, clean)
        path += [p["bpmn_id"] for p in result.path]
    if result.error is not None:
        return TestFailure(name, result.error.bpmn_id, f"Le dossier tombe en incident sur « {result.error.bpmn_id} » : "
                           f"{result.error}", path)
    return _check_expectations(name, test.get("expect") or {}, result, path)


def _check_expectations(name: str, expect: dict, result, path: list[str]) -> TestFailure | None:
    position = 0
    for wanted in expect.get("path") or []:
        try:
            position = path.index(wanted, position) + 1
        except ValueError:
            reached = path[position - 1] if position else None
            after = path[position:position + 6]
            since = reached or "le début"
            return TestFailure(name, reached, f"Chemin divergent : « {wanted} » attendu après « {since} », le "
                               f"dossier est passé par : {', '.join(after) or 'rien de plus'}.", path)
    for variable, value in (expect.get("data") or {}).items():
        if result.data.get(variable) != value:
            return TestFailure(name, path[-1] if path else None, f"Donnée « {variable} » : {value!r} attendu, "
                               f"{result.data.get(variable)!r} obtenu.", path)
    if "ready" in expect:
        ready = sorted(t.bpmn_id for t in result.ready)
        if ready != sorted(expect["ready"]):
            wanted = ", ".join(sorted(expect["ready"])) or "aucune"
            return TestFailure(name, path[-1] if path else None, f"Tâches à faire à la fin : "
                               f"{', '.join(ready) or 'aucune'} ; attendu : {wanted}.", path)
    if "completed" in expect and bool(expect["completed"]) != result.completed:
        state = "terminé" if result.completed else "encore en cours"
        return TestFailure(name, path[-1] if path else None, f"Le dossier est {state} à la fin du test.", path)
    return None


def _errors(errors: dict) -> str:
    return "; ".join(f"{k} : {v}" for k, v in errors.items())


def _last(path: list[str]) -> str:
    return " → ".join(path[-5:]) if path else "aucun élément"
