"""Cost of the script sandbox and of the document limits: what a step pays for running user code out of process.

Run: PYTHONPATH=. python bench/script_budgets.py [runs]. Prints a table (median and p90 in ms) with the machine.
- one condition / one script through the worker (pipe round trip, pickles), with small and 20 KB task data;
- a fresh worker after a budget overrun (the next call pays the start);
- a runaway script stopped at the 200 ms CPU budget (wall time, kill included);
- validation of 2,000 chained elements (1,998 script tasks and timers, start, end) and the refusal of 5,000.
"""

import statistics
import sys
import time

from app.engine import sandbox
from app.services.processes import validation
from bench.common import machine
from tests.support.processes import process, script, timer


def timed(fn, runs):
    values = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        values.append((time.perf_counter() - start) * 1000)
    values.sort()
    return statistics.median(values), values[max(int(len(values) * 0.9) - 1, 0)]


def chained(count: int) -> str:
    steps = [script(f"Étape {i}", f"d{i} = 'P1D'") if i % 2 == 0 else timer(f"Attente {i}", f"d{i - 1}")
             for i in range(count)]
    return process("chaine", steps, end_task=False)


def main(runs: int = 200) -> None:
    small = {"amount": 120.5, "severity": "high", "customer_name": "Martine Lefèvre"}
    big = {**small, **{f"field_{i}": "x" * 200 for i in range(100)}}
    sandbox.run("eval", "1", {}, None, sandbox.StepBudget())  # start the worker

    def runaway():
        try:
            sandbox.run("exec", "while go:\n    pass", {"go": True}, None, sandbox.StepBudget())
        except sandbox.TimeBudgetExceeded:
            pass

    def after_kill():
        runaway()
        start = time.perf_counter()
        sandbox.run("eval", "1", {}, None, sandbox.StepBudget())
        return (time.perf_counter() - start) * 1000

    restarts = sorted(after_kill() for _ in range(max(runs // 20, 3)))
    rows = [
        ("condition, 3 variables", timed(lambda: sandbox.run("eval", "amount > 100", small, None,
                                                             sandbox.StepBudget()), runs)),
        ("script, 3 variables", timed(lambda: sandbox.run("exec", "total = amount * 2", small, None,
                                                          sandbox.StepBudget()), runs)),
        ("script, 20 KB of task data", timed(lambda: sandbox.run("exec", "total = amount * 2", big, None,
                                                                 sandbox.StepBudget()), runs)),
        ("first call after a budget kill (worker start)", (statistics.median(restarts), restarts[-1])),
        ("runaway script stopped (200 ms CPU budget)", timed(runaway, max(runs // 20, 3))),
        ("validate 2,000 chained elements", timed(lambda: validation.validate(chained(1998)), 3)),
        ("refuse 5,000 chained elements", timed(lambda: validation.validate(chained(4998)), 3)),
    ]
    info = machine()
    print(f"machine: {info}; runs: {runs}")
    print(f"{'what':<48} {'median ms':>10} {'p90 ms':>10}")
    for name, (median, p90) in rows:
        print(f"{name:<48} {median:>10.2f} {p90:>10.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
