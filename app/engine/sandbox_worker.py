"""The script worker: a separate, standard-library-only Python process that runs BPMN conditions and scripts.

Started by app.engine.sandbox as `python -I -S sandbox_worker.py` (isolated: no site-packages, no environment,
no application import), it reads length-prefixed pickled requests on stdin and answers on stdout:

    request  {"mode": "eval"|"exec", "source", "context", "external", "cpu": seconds}
    answer   {"ok": True, "value" (eval) | "context" (exec), "cpu": seconds used}
             {"ok": False, "error": type name, "message", "line", "cpu"}

Budgets, enforced by the kernel so that no Python or C loop can escape them:
- CPU time: ITIMER_PROF is armed with the step's remaining CPU seconds before each call; its signal,
  SIGPROF, keeps its default action (terminate), so a `while True` or a long C-level computation ends
  the process at the budget. The parent sees the signal as the exit status.
- Memory: RLIMIT_AS caps the address space at the size after start-up plus the budget, so an oversized
  allocation ('a' * 10**10, a huge list) fails with MemoryError instead of growing the server. After a
  MemoryError the worker answers, then exits: the parent starts a fresh one for the next call.
"""

import os
import pickle
import resource
import signal
import struct
import sys
import time
import traceback

HEADER = struct.Struct("!Q")
FILENAME = "<script>"


def _read(fd: int, size: int) -> bytes:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write(fd: int, payload: bytes) -> None:
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _clean(context: dict, globals_: dict, external: dict) -> dict:
    """What SpiffWorkflow's TaskDataEnvironment keeps after a script: no builtins, no callables, no globals."""
    return {k: v for k, v in context.items()
            if k != "__builtins__" and not callable(v) and k not in globals_ and k not in external}


def _line(exc: BaseException) -> int | None:
    if isinstance(exc, SyntaxError):
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == FILENAME:
            line = frame.lineno
    return line


def main() -> None:
    stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
    hello = pickle.loads(_read(stdin, HEADER.unpack(_read(stdin, HEADER.size))[0]))
    import builtins

    safe = {name: getattr(builtins, name) for name in hello["builtins"]}
    sys.setrecursionlimit(int(hello.get("recursion", 200)))
    limit = _vm_size() + int(hello["memory"])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    compiled: dict[tuple[str, str], object] = {}
    _write(stdout, pickle.dumps({"ok": True, "pid": os.getpid()}))
    while True:
        try:
            size = HEADER.unpack(_read(stdin, HEADER.size))[0]
            request = pickle.loads(_read(stdin, size))
        except EOFError:
            return
        mode, source = request["mode"], request["source"]
        context, external = request["context"], request.get("external") or {}
        started = time.process_time()
        signal.setitimer(signal.ITIMER_PROF, max(float(request["cpu"]), 0.001))
        fatal = False
        try:
            code = compiled.get((mode, source))
            if code is None:
                code = compile(source, FILENAME, mode)
                if len(compiled) > 512:
                    compiled.clear()
                compiled[(mode, source)] = code
            globals_ = {"__builtins__": safe}
            if mode == "eval":
                scope = dict(globals_)
                scope.update(external)
                scope.update(context)
                answer = {"ok": True, "value": eval(code, scope)}  # noqa: S307 - checked code, restricted builtins
            else:
                scope = dict(context)
                scope.update(globals_)
                scope.update(external)
                try:
                    exec(code, scope)  # noqa: S102 - checked code, restricted builtins
                finally:
                    scope = _clean(scope, globals_, external)
                answer = {"ok": True, "context": scope}
            payload = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # noqa: BLE001 - every failure of the user's code is reported
            fatal = isinstance(exc, MemoryError)
            try:
                payload = pickle.dumps({"ok": False, "error": type(exc).__name__, "message": str(exc)[:500],
                                        "line": _line(exc)})
            except BaseException:  # noqa: BLE001 - even the message could not be built: exit, the parent reports
                os._exit(3)
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        used = time.process_time() - started
        _write(stdout, payload + pickle.dumps(used))
        if fatal:
            return


if __name__ == "__main__":
    main()
