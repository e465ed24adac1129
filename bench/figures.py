"""The headline figures of issue 21: what each bench part measured, beside its value before the work, its floor or
ceiling and its goal, in one table (the first table of `make bench`, copied into the README).

A part records a figure with `record(key, value, floor=…)`; the records go, one JSON object per line, to the
file named by the environment variable BENCH_FIGURES (bench/run.py sets it for every part it runs, in this process
and in the scripts it starts). Without that variable `record` does nothing, so each script still runs alone.
`headline(path)` reads them back and prints the table; a figure measured twice (two runs of a part) shows its range.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

ENV = "BENCH_FIGURES"


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str  # "×", "ms", "req/s"
    goal: str
    better: str  # "low" or "high": which way the goal is
    target: float | None  # the goal as a number (None: "unchanged", judged by eye)
    before: str  # the figure before issue 21's work, with where it comes from


# "Before": main at ba4e299 (3 December 2026, before this step changes), measured by the same scripts on
# the same VM, except where said; the issue's own opening figures (2 December) are in its text.
_BACKENDS = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
# (key, label, unit, goal, better, target, {backend: before}): one figure per backend (goal and target may differ)
_PER_BACKEND = [
    ("step.loop.pass5", "one step / its floor, loop process, pass 5", "×", "≤ 2×", "low", 2.0,
     {"sqlite": "3.62×", "postgresql": "4.08×"}),
    ("step.loop.pass1000", "one step / its floor, loop process, pass 1000", "×", "≤ 2×", "low", 2.0,
     {"sqlite": "3.40×", "postgresql": "4.38×"}),
    ("step.complaint.worst", "one step / its floor, complaint process, worst step", "×", "≤ 2×", "low", 2.0,
     {"sqlite": "4.34× (decide)", "postgresql": "5.74× (reaction)"}),
    ("step.complaint.all", "one step / its floor, complaint process, all 5 steps", "×", "≤ 2×", "low", 2.0,
     {"sqlite": "4.7× (issue, 2 Dec)", "postgresql": "5.1× (issue, 2 Dec)"}),
    ("step.flat", "loop step, pass 1000 / pass 5", "×", "flat (≈ 1)", "low", None,
     {"sqlite": "0.94×", "postgresql": "1.02×"}),
    ("rate.complete", "`POST /api/tasks/<id>/complete`, 1 gunicorn worker", "req/s",
     {"sqlite": "≥ 150", "postgresql": "≥ 100"}, "high", {"sqlite": 150, "postgresql": 100},
     {"sqlite": "63 (86 in the issue, 2 Dec)", "postgresql": "38 (44 in the issue, 2 Dec)"}),
    ("rate.task_list", "task list page (team tab, 600 rows, 50 shown), 1 worker", "req/s", "≥ 300", "high", 300,
     {"sqlite": "70–80", "postgresql": "48–61"}),
]


def _figure(entry: tuple, backend: str) -> Figure:
    key, label, unit, goal, better, target, before = entry
    goal, target = (v[backend] if isinstance(v, dict) else v for v in (goal, target))
    return Figure(f"{key}.{backend}", f"{label}, {_BACKENDS[backend]}", unit, goal, better, target, before[backend])


_STEPS, _OTHERS = _PER_BACKEND[:4], _PER_BACKEND[4:]
FIGURES = ([_figure(e, b) for b in _BACKENDS for e in _STEPS]  # the step figures by backend
           + [_figure(e, b) for e in _OTHERS for b in _BACKENDS])  # the others side by side
for _size, _before in ((10_000, ("—", "—", "—")), (100_000, ("—", "—", "—")),
                       (1_000_000, ("729 ms", "5,622 ms", "—"))):
    _n = f"{_size:,}"
    FIGURES += [
        Figure(f"scale.{_size}.task_list_p95", f"task list page p95, worst view, {_n} cases, PostgreSQL", "ms",
               "< 100 ms", "low", 100, _before[0]),
        Figure(f"scale.{_size}.dashboard_365", f"dashboard page median, 365 days, {_n} cases, PostgreSQL", "ms",
               "< 1,000 ms", "low", 1000, _before[1]),
        Figure(f"scale.{_size}.step_ms", f"one complaint step through the service (mean of 6), {_n} cases, "
               "PostgreSQL", "ms", "unchanged with size", "low", None, _before[2]),
    ]
BY_KEY = {f.key: f for f in FIGURES}


def record(key: str, value: float, floor: str | None = None, note: str | None = None) -> None:
    """Note one measured figure for the headline table (no-op unless BENCH_FIGURES names a file): its floor or
    ceiling measured in the same run, and a note printed beside the value (which step, which view)."""
    path = os.environ.get(ENV)
    if not path:
        return
    with open(path, "a", encoding="utf-8") as out:
        out.write(json.dumps({"key": key, "value": float(value), "floor": floor, "note": note}) + "\n")


def backend_of(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _number(value: float, unit: str) -> str:
    if unit == "×":
        return f"{value:.2f}×"
    text = f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"
    return f"{text} {unit}".replace(",", " ") if unit == "ms" else text.replace(",", " ")


def _met(figure: Figure, values: list[float]) -> str:
    if figure.target is None:
        return "see table"
    worst = max(values) if figure.better == "low" else min(values)
    good = worst <= figure.target if figure.better == "low" else worst >= figure.target
    return "yes" if good else "no"


def headline(path: str | Path) -> str:
    """The table of every recorded figure, in the order of FIGURES; figures not measured in this run are left out
    (the million-case rows need BENCH_MILLION_URL: see bench/run.py)."""
    records: dict[str, list[dict]] = {}
    p = Path(path)
    if p.exists():
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                records.setdefault(r["key"], []).append(r)
    lines = ["| figure | before | now | floor / ceiling | goal | met |", "|---|---:|---:|---:|---:|---|"]
    for figure in FIGURES:
        found = records.get(figure.key)
        if not found:
            continue
        values = [r["value"] for r in found]
        low, high = min(values), max(values)
        now = _number(low, figure.unit) if low == high else \
            f"{_number(low, figure.unit)} – {_number(high, figure.unit)}"
        notes = ", ".join(dict.fromkeys(r.get("note") for r in found if r.get("note")))
        now += f" ({notes})" if notes else ""
        floors = " / ".join(dict.fromkeys(r["floor"] for r in found if r["floor"])) or "—"
        met = _met(figure, values)
        lines.append(f"| {figure.label} | {figure.before} | {now} | {floors} | {figure.goal} | {met} |")
    unknown = sorted(set(records) - set(BY_KEY))
    if unknown:
        raise KeyError(f"figures recorded but not declared in bench/figures.py: {unknown}")
    return "\n".join(lines)
