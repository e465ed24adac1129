"""Cost of the process owners' checks: validation, comparison, migration check and migration of one case, a
Camunda Modeler 7 diagram's checks (JUEL translation, Camunda rules) and the shipped owner tests.

Run: PYTHONPATH=. python bench/bench_processes.py [runs]. Prints a table (median and p90 in ms) with the machine.
Pure engine-layer calls on processes/reclamation.bpmn, no database: what a deploy or a migration listing
pays per document or per case on top of the database round trips.
"""

import os
import platform
import statistics
import sys
import time
from pathlib import Path

from app import clock
from app.engine import CaseWorkflow, StepContext, parse_definition
from app.engine import migration as engine_migration
from app.services.core import owner_tests
from app.services.core.handlers import HANDLERS
from app.services.processes import compare as process_compare
from app.services.processes import validation as process_validation

ROOT = Path(__file__).resolve().parent.parent
XML = (ROOT / "processes" / "reclamation.bpmn").read_text(encoding="utf-8")
NEW = XML.replace('name="Qualifier la réclamation"', 'name="Qualifier et classer la réclamation"')
DECISIONS = {p.name: p.read_text(encoding="utf-8") for p in (ROOT / "processes").glob("*.dmn")}
CAMUNDA7 = (ROOT / "tests" / "bpmn" / "camunda7_activiti.bpmn").read_text(encoding="utf-8")
TESTS = owner_tests.parse_tests((ROOT / "processes" / "reclamation.tests.json").read_text(encoding="utf-8"))


class Context(StepContext):
    """Runs the real deadline and status handlers; messages are dropped."""

    def call_handler(self, topic, properties, data, bpmn_id):
        return HANDLERS[topic](self, properties, data) if topic in ("set_deadline", "set_status") else {}

    def now(self):
        return clock.now()

    def send_message(self, *args):
        pass


def timed(fn, runs):
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * 1000)
    values.sort()
    return statistics.median(values), values[int(len(values) * 0.9) - 1]


def main(runs: int = 50) -> None:
    old, new = parse_definition(XML, decisions=DECISIONS), parse_definition(NEW, decisions=DECISIONS)
    data = {"channel": "letter", "origin": "external_customer", "kind": "complaint", "customer_name": "M",
            "description": "d", "written": "yes"}
    state = CaseWorkflow.start(old, data, Context())[0].dump()
    rows = [
        ("validate (lxml rules + parse_definition)",
         timed(lambda: process_validation.validate(NEW, None, DECISIONS), runs)),
        ("validate a Camunda 7 diagram (old ns, JUEL)", timed(lambda: process_validation.validate(CAMUNDA7), runs)),
        (f"owner tests: {len(TESTS)} reclamation cases, in memory",
         timed(lambda: owner_tests.run_uncached(NEW, "reclamation", TESTS, DECISIONS), max(5, runs // 5))),
        ("compare two documents (XML diff)", timed(lambda: process_compare.diff_xml(XML, NEW, "reclamation"), runs)),
        ("migration check, one case", timed(lambda: engine_migration.check(old, new, state), runs)),
        ("migrate one case (load, diff, migrate, steps)",
         timed(lambda: engine_migration.migrate(old, new, state, Context(), data=dict(data)), runs)),
    ]
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPU, "
          f"Python {platform.python_version()}; runs: {runs}; document: reclamation.bpmn ({len(XML)} bytes)")
    print(f"{'method':<48} {'median ms':>10} {'p90 ms':>10}")
    for name, (median, p90) in rows:
        print(f"{name:<48} {median:>10.2f} {p90:>10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50)
