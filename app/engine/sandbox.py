"""Run BPMN conditions, scripts and timer expressions in a separate worker process under CPU and memory budgets.

Why a process: the AST check (script_safety) keeps scripts away from the interpreter's internals, but it
cannot see `n ** n ** n`, `'a' * n` or `while go:` when n or go come from the case data, and no in-process
hook can interrupt a long C-level operation (a huge power or repetition runs inside one bytecode). The
worker (sandbox_worker.py, standard library only, started with `python -I -S`) is bounded by the kernel:
ITIMER_PROF ends it after the step's CPU budget, RLIMIT_AS refuses allocations past the memory budget. The
server process itself never runs user code, so neither budget can slow or grow it.

Why it is safe:
- the worker gets the code and a pickled copy of the task data, and gives back a pickled value or data;
  answers are read with an Unpickler that only builds plain values (ALLOWED below), so even a worker taken
  over by hostile code cannot make the server run anything;
- the server waits on the pipe with a wall-clock limit too (WALL_FACTOR times the CPU budget, at least
  WALL_MINIMUM), in case the worker is stopped rather than busy; past it the worker is killed;
- a worker that overran a budget is dead; the next call starts a fresh one (about 20 ms, once);
- budgets are per step: a StepBudget is started by the runtime at each engine step and every call of
  that step draws on the same CPU allowance.

Cost per call: one pipe round trip and two pickles of the task data (about 0.1 ms for a few KB), the same
at the first step of a case and at the thousandth: the step cost stays flat.
"""

from __future__ import annotations

import atexit
import io
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from app.engine.script_safety import SAFE_BUILTINS

WORKER = Path(__file__).with_name("sandbox_worker.py")
HEADER_SIZE = 8
WALL_FACTOR = 20
WALL_MINIMUM = 5.0
RECURSION_LIMIT = 200  # deep recursion (a lambda calling itself) ends at once with RecursionError


@dataclass
class Budget:
    """Per-step budgets of user code (configured from SCRIPT_TIME_BUDGET_MS and SCRIPT_MEMORY_BUDGET_MB)."""

    time_ms: int = 200
    memory_mb: int = 64


BUDGET = Budget()


def configure(time_ms: int | None = None, memory_mb: int | None = None) -> None:
    """Set the budgets (called by the application factory from its configuration)."""
    if time_ms is not None:
        BUDGET.time_ms = max(int(time_ms), 1)
    if memory_mb is not None:
        if int(memory_mb) != BUDGET.memory_mb:
            POOL.reset()  # the memory limit is set when a worker starts
        BUDGET.memory_mb = max(int(memory_mb), 8)


class SandboxError(Exception):
    """User code did not give an answer."""


class TimeBudgetExceeded(SandboxError):
    pass


class MemoryBudgetExceeded(SandboxError):
    pass


class ScriptFailed(SandboxError):
    """The code raised: `error` is the exception's type name, `line` its line in the code."""

    def __init__(self, error: str, message: str, line: int | None):
        self.error, self.message, self.line = error, message, line
        super().__init__(f"{error}: {message}" if message else error)


class WorkerLost(SandboxError):
    """The worker died without answering for another reason than a budget."""


class StepBudget:
    """The CPU seconds left to one engine step's user code."""

    def __init__(self, time_ms: int | None = None):
        self.total = (time_ms if time_ms is not None else BUDGET.time_ms) / 1000
        self.used = 0.0

    @property
    def left(self) -> float:
        return self.total - self.used


# --- reading answers: plain values only ----------------------------------------------------------------

ALLOWED = {
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"), ("builtins", "range"),
    ("builtins", "complex"), ("builtins", "slice"), ("datetime", "datetime"), ("datetime", "date"),
    ("datetime", "time"), ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"),
}


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"type {module}.{name} refusé")


def loads_answer(payload: bytes) -> list:
    """The values of a worker answer (one or more pickles), plain types only."""
    stream, found = io.BytesIO(payload), []
    while stream.tell() < len(payload):
        found.append(_PlainUnpickler(stream).load())
    return found


# --- workers ----------------------------------------------------------------------------------------------

class _Worker:
    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, close_fds=True, cwd="/", env={})
        self.pid = os.getpid()  # the server process that owns it (a fork must not share it)
        self.memory_mb = BUDGET.memory_mb
        self._send({"builtins": sorted(SAFE_BUILTINS), "memory": BUDGET.memory_mb * 1024 * 1024,
                    "recursion": RECURSION_LIMIT})
        hello = self._receive(WALL_MINIMUM * 2)
        if not hello or not hello[0].get("ok"):
            raise WorkerLost("le processus des scripts n'a pas démarré")

    def _send(self, message) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.write(len(payload).to_bytes(HEADER_SIZE, "big") + payload)
        self.proc.stdin.flush()

    def _read_exact(self, size: int, deadline: float) -> bytes:
        fd, chunks, left = self.proc.stdout.fileno(), [], size
        while left:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise TimeoutError
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _receive(self, wall: float) -> list:
        deadline = time.monotonic() + wall
        size = int.from_bytes(self._read_exact(HEADER_SIZE, deadline), "big")
        return loads_answer(self._read_exact(size, deadline))

    def call(self, request: dict, cpu: float):
        try:
            self._send(request)
            answer = self._receive(max(cpu * WALL_FACTOR, WALL_MINIMUM))
        except TimeoutError:
            self.kill()
            raise TimeBudgetExceeded from None
        except (EOFError, BrokenPipeError, OSError):
            code = self.kill()
            if code == -signal.SIGPROF:
                raise TimeBudgetExceeded from None
            raise MemoryBudgetExceeded if code in (3, -signal.SIGKILL, -signal.SIGSEGV) else WorkerLost from None
        except pickle.UnpicklingError as exc:
            self.kill()
            raise ScriptFailed("UnpicklingError", str(exc), None) from None
        if answer and answer[0].get("error") == "MemoryError":  # it answers, then exits: never reuse it
            self.kill()
        return answer

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        return code


class _Pool:
    """Idle workers of this server process; a thread takes one (or starts one) for each call."""

    def __init__(self):
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def _take(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.pid == os.getpid() and worker.alive() and worker.memory_mb == BUDGET.memory_mb:
                    return worker
        return _Worker()

    def _give_back(self, worker: _Worker) -> None:
        if worker.alive():
            with self._lock:
                self._idle.append(worker)

    def call(self, request: dict, cpu: float):
        worker = self._take()
        try:
            return worker.call(request, cpu)
        finally:
            self._give_back(worker)

    def reset(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            if worker.pid == os.getpid():
                worker.kill()


POOL = _Pool()
atexit.register(POOL.reset)


def run(mode: str, source: str, context: dict, external: dict | None, budget: StepBudget):
    """Evaluate ("eval": the value) or execute ("exec": the new data) checked code under the step's budget."""
    if budget.left <= 0:
        raise TimeBudgetExceeded
    request = {"mode": mode, "source": source, "context": context, "external": external or {}, "cpu": budget.left}
    try:
        answer = POOL.call(request, budget.left)
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # data the worker cannot be sent
        raise ScriptFailed(type(exc).__name__, str(exc), None) from None
    except TimeBudgetExceeded:
        budget.used = budget.total
        raise
    result, used = answer[0], answer[-1]
    budget.used += float(used)
    if not result.get("ok"):
        if result.get("error") == "MemoryError":
            raise MemoryBudgetExceeded
        raise ScriptFailed(result.get("error") or "Error", result.get("message") or "", result.get("line"))
    return result["value"] if mode == "eval" else result["context"]
