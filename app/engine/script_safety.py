"""Static checks that keep BPMN conditions, scripts and timer expressions inside a small, safe Python subset.

The checks are an allow-list of shapes, not a complete sandbox: the engine must also run the code with
SAFE_BUILTINS as its only builtins, and task data must never carry keys starting with "_".

Decisions:
- Refused statements: import, global/nonlocal, def/class (scripts share task data, where functions
  cannot be stored), with, try/raise (nothing to catch or raise without exception classes, and handlers
  hand out exception and traceback objects), match (class patterns read attributes by name),
  async/await/yield. Allowed: assignments, if/for/while, del, assert, lambda, comprehensions, f-strings.
- Any name, attribute, keyword argument or lambda parameter starting with "_" is refused (a lone "_"
  is allowed as a throwaway variable). Attributes that lead to frames and code objects (gi_*, f_*,
  co_*, tb_*, cr_*, ag_*, mro) and str.format/format_map (which reach dunders from a string) are refused.
- Builtins outside SAFE_BUILTINS are refused, print included: it would only write to the server log.
  The dangerous ones (exec, getattr, type, ...) are refused even when the script assigns them; the
  harmless ones (print, id, map, ...) may be used as ordinary variables if the script assigns them first.
  Task data variables should therefore not be named like Python builtins (type, id, input, ...).
- Resource exhaustion that the code itself states is refused: constant powers, repetitions and shifts whose
  result would be huge (10**10**10, 'a' * 10**10, 1 << 10**9), range() over a huge constant, and
  `while True:` (any constant true test) with no break. What depends on the data cannot be seen here:
  the engine runs every script under a CPU and memory budget (app.engine.sandbox).
"""

from __future__ import annotations

import ast
import builtins
import functools
import math

SAFE_BUILTINS: dict = {name: getattr(builtins, name) for name in (
    "len", "min", "max", "abs", "round", "sum", "any", "all", "sorted", "str", "int", "float", "bool",
    "list", "dict", "set", "tuple", "range", "enumerate", "zip", "isinstance",
)}

FORBIDDEN_NAMES = frozenset({
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "globals", "locals", "vars",
    "__import__", "breakpoint", "input", "help", "memoryview", "type", "object", "super", "classmethod",
    "staticmethod", "property", "dir", "hasattr", "exit", "quit",
})
FORBIDDEN_ATTRIBUTES = frozenset({"format", "format_map", "mro"})
FORBIDDEN_ATTRIBUTE_PREFIXES = ("_", "gi_", "f_", "co_", "tb_", "cr_", "ag_")
BUILTIN_NAMES = frozenset(dir(builtins)) - set(SAFE_BUILTINS)
MAX_SOURCE_LENGTH = 20_000
MAX_DEPTH = 100  # deeper trees are never hand-written and would overflow recursive visitors

_REFUSED_NODES: dict[type, str] = {
    ast.Import: "import interdit",
    ast.ImportFrom: "import interdit",
    ast.Global: "global interdit",
    ast.Nonlocal: "nonlocal interdit",
    ast.FunctionDef: "définition de fonction interdite (utiliser lambda)",
    ast.AsyncFunctionDef: "async interdit",
    ast.ClassDef: "définition de classe interdite",
    ast.With: "with interdit",
    ast.AsyncWith: "async interdit",
    ast.AsyncFor: "async interdit",
    ast.Try: "try interdit",
    ast.TryStar: "try interdit",
    ast.Raise: "raise interdit",
    ast.Match: "match interdit",
    ast.Await: "await interdit",
    ast.Yield: "yield interdit",
    ast.YieldFrom: "yield interdit",
}


MAX_CONSTANT_BITS = 1_000_000  # about 300,000 digits: a constant number the code may build
MAX_CONSTANT_ITEMS = 10_000_000  # characters or items of a constant repetition, or of a range()
_HUGE = ("calcul démesuré (puissance, répétition ou décalage de constantes) : le résultat ne tiendrait pas "
         "dans le budget du moteur")


def _size(node: ast.AST) -> tuple[str, float] | None:
    """("num", log2 of the value) or ("seq", length) of a constant expression; None when unknown."""
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool) or value is None:
            return "num", 1.0
        if isinstance(value, int | float):
            return "num", math.log2(abs(value) + 1) if math.isfinite(value) else math.inf
        if isinstance(value, str | bytes):
            return "seq", float(len(value))
        return None
    if isinstance(node, ast.List | ast.Tuple):
        return "seq", float(len(node.elts))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        return _size(node.operand)
    if not isinstance(node, ast.BinOp):
        return None
    left, right = _size(node.left), _size(node.right)
    if left is None or right is None:
        return None
    (lkind, lsize), (rkind, rsize) = left, right

    def times(log2_count: float) -> float:
        return math.inf if log2_count > 1000 else 2 ** log2_count

    if isinstance(node.op, ast.Pow) and lkind == rkind == "num":
        return "num", lsize * times(rsize) if lsize > 1 else 1.0
    if isinstance(node.op, ast.LShift) and lkind == rkind == "num":
        return "num", lsize + times(rsize)
    if isinstance(node.op, ast.Mult):
        if lkind == rkind == "num":
            return "num", lsize + rsize
        if lkind == "seq" and rkind == "num":
            return "seq", lsize * times(rsize)
        if lkind == "num" and rkind == "seq":
            return "seq", rsize * times(lsize)
    if isinstance(node.op, ast.Add):
        return (lkind, max(lsize, rsize) + 1) if lkind == rkind == "num" else (lkind, lsize + rsize)
    return None


def _huge(node: ast.AST) -> str | None:
    """Why a constant computation is too big for any budget, or None."""
    if isinstance(node, ast.BinOp):
        size = _size(node)
        if size is not None and size[1] > (MAX_CONSTANT_BITS if size[0] == "num" else MAX_CONSTANT_ITEMS):
            return _HUGE
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range" and node.args:
        sizes = [_size(arg) for arg in node.args[:2]]
        if any(size is not None and size[0] == "num" and size[1] > math.log2(MAX_CONSTANT_ITEMS) for size in sizes):
            return f"range() démesuré (plus de {MAX_CONSTANT_ITEMS:,} éléments)".replace(",", " ")
    return None


def _breaks_out(loop: ast.While) -> bool:
    """True if a break in the loop's body (not in a nested loop) can end it."""
    stack = list(loop.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, ast.For | ast.While | ast.AsyncFor | ast.Lambda):
            stack.extend(getattr(node, "orelse", []))  # a break in a nested loop's else ends ours
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


def _endless(node: ast.AST) -> bool:
    return (isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and bool(node.test.value)
            and not _breaks_out(node))


def _private(name: str) -> bool:
    return name.startswith("_") and name != "_"


def _parse(source: str, mode: str) -> ast.AST:
    if mode not in ("eval", "exec"):
        raise ValueError("mode must be 'eval' or 'exec'")
    return ast.parse(source, mode=mode)


def _too_deep(tree: ast.AST) -> bool:
    # Iterative on purpose: a recursive walk is exactly what a deep tree would break.
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return False


def _problems(tree: ast.AST) -> list[tuple[int, str]]:
    """Every refused construct of a parsed tree, as (line, message)."""
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 1)
        refused = _REFUSED_NODES.get(type(node))
        if refused:
            found.append((line, refused))
        elif isinstance(node, ast.Name):
            if _private(node.id):
                found.append((line, f"nom « {node.id} » interdit (commence par _)"))
            elif node.id in FORBIDDEN_NAMES:
                found.append((line, f"« {node.id} » interdit"))
            elif node.id in BUILTIN_NAMES and node.id not in assigned:
                found.append((line, f"fonction « {node.id} » non autorisée"))
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_ATTRIBUTES or node.attr.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES):
                found.append((line, f"attribut « {node.attr} » interdit"))
        elif isinstance(node, ast.keyword) and node.arg and _private(node.arg):
            found.append((line, f"argument « {node.arg} » interdit (commence par _)"))
        elif isinstance(node, ast.arg) and _private(node.arg):
            found.append((line, f"paramètre « {node.arg} » interdit (commence par _)"))
        elif isinstance(node, ast.comprehension) and node.is_async:
            found.append((getattr(node.target, "lineno", 1), "async interdit"))
        huge = _huge(node)
        if huge:
            found.append((line, huge))
        elif _endless(node):
            found.append((line, "boucle « while » sans fin (condition toujours vraie et aucun break)"))
    return found


def check_source(source: str, mode: str = "eval") -> list[str]:
    """Return French messages for everything unsafe in a condition ("eval") or script ("exec"); [] if safe."""
    if mode not in ("eval", "exec"):
        raise ValueError("mode must be 'eval' or 'exec'")
    if not isinstance(source, str):
        return ["Le code doit être un texte."]
    if len(source) > MAX_SOURCE_LENGTH:
        return [f"Code trop long ({MAX_SOURCE_LENGTH} caractères au maximum)."]
    try:
        tree = _parse(source, mode)
    except SyntaxError as exc:
        return [f"Ligne {exc.lineno or 1} : erreur de syntaxe ({exc.msg})."]
    except ValueError:  # some Python 3.11 releases report NUL bytes as ValueError
        return ["Ligne 1 : erreur de syntaxe (caractère nul)."]
    except (RecursionError, MemoryError):
        return ["Code trop complexe."]
    if _too_deep(tree):
        return ["Code trop complexe (imbrication trop profonde)."]
    messages: list[str] = []
    for line, message in sorted(set(_problems(tree))):
        messages.append(f"Ligne {line} : {message}.")
    return messages


class _FreeNames(ast.NodeVisitor):
    """Collect names read before the code binds them, scope by scope (lambda and comprehensions)."""

    def __init__(self) -> None:
        self.scopes: list[tuple[str, set[str]]] = [("module", set())]
        self.free: set[str] = set()

    def _bind(self, name: str, *, skip_comprehensions: bool = False) -> None:
        for kind, names in reversed(self.scopes):
            if not skip_comprehensions or kind != "comprehension":
                names.add(name)
                return

    def _read(self, name: str) -> None:
        if name not in SAFE_BUILTINS and not any(name in names for _, names in self.scopes):
            self.free.add(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self._bind(node.id)
        elif isinstance(node.ctx, ast.Load):
            self._read(node.id)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)  # the right-hand side runs first: "x = x + 1" reads x from the data
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.target, ast.Name):
            self._read(node.target.id)
        self.visit(node.value)
        self.visit(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.visit(node.target)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for child in node.body + node.orelse:
            self.visit(child)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        # PEP 572: a walrus inside a comprehension binds in the enclosing scope.
        self._bind(node.target.id, skip_comprehensions=True)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        args = node.args.posonlyargs + node.args.args + node.args.kwonlyargs
        names = {a.arg for a in args} | {a.arg for a in (node.args.vararg, node.args.kwarg) if a}
        self.scopes.append(("lambda", names))
        self.visit(node.body)
        self.scopes.pop()

    def _comprehension(self, node: ast.AST, results: list[ast.AST]) -> None:
        generators = node.generators
        self.visit(generators[0].iter)  # the outermost iterable is evaluated in the enclosing scope
        self.scopes.append(("comprehension", set()))
        for index, generator in enumerate(generators):
            if index:
                self.visit(generator.iter)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for result in results:
            self.visit(result)
        self.scopes.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, [node.key, node.value])


def names_used(source: str, mode: str = "eval") -> set[str]:
    """Return the free variable names the code reads (data variables), builtins excluded; SyntaxError if invalid."""
    return set(_free_names(source, mode))


@functools.lru_cache(maxsize=4096)
def _free_names(source: str, mode: str) -> frozenset[str]:
    """names_used, parsed once per text: a DMN input is read on every rule of every evaluation (an error is not
    kept: it is raised again on the next call)."""
    tree = _parse(source, mode)
    if _too_deep(tree):
        raise ValueError("code too deeply nested")
    visitor = _FreeNames()
    visitor.visit(tree)
    return frozenset(visitor.free)


# --- literal conditions: provably cheap, evaluated without the sandbox -----------------------------------

MAX_LITERAL_LENGTH = 1000
MAX_LITERAL_NODES = 200
_LITERAL_NODES = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
                  ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Is, ast.IsNot, ast.In,
                  ast.NotIn, ast.Name, ast.Load, ast.Constant, ast.Tuple, ast.List)
LITERAL_CONSTANTS = (str, int, float, bool, type(None))
_ALL_BUILTINS = frozenset(dir(builtins))


def literal_condition(source: str) -> frozenset[str] | None:
    """The variable names of a literal condition, or None when the expression is not one.

    A literal condition only compares variables and constants and combines the comparisons with and/or/not
    (`admissible == "yes"`, `amount > 1000 and kind == 'complaint'`, `channel in ("letter", "mail")`): no
    call, attribute, subscript, arithmetic or comprehension, at most MAX_LITERAL_LENGTH characters and
    MAX_LITERAL_NODES nodes, constants of plain types only, and no builtin or private name. Given plain values
    (LITERAL_CONSTANTS) for its variables it runs in time bounded by its size and theirs, with no side
    effect, so the engine may evaluate it in-process instead of the sandbox worker (app.engine.scripting).
    """
    if not isinstance(source, str) or len(source) > MAX_LITERAL_LENGTH:
        return None
    try:
        tree = ast.parse(source, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    names, count = set(), 0
    for node in ast.walk(tree):
        count += 1
        if count > MAX_LITERAL_NODES or not isinstance(node, _LITERAL_NODES):
            return None
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not) \
                and not isinstance(node.operand, ast.Constant):
            return None  # -x or +x of a variable: arithmetic on data
        if isinstance(node, ast.Tuple | ast.List) and not all(isinstance(e, ast.Constant) for e in node.elts):
            return None  # a collection of constants only, for `in`
        if isinstance(node, ast.Constant) and type(node.value) not in LITERAL_CONSTANTS:
            return None
        if isinstance(node, ast.Name):
            if _private(node.id) or node.id in FORBIDDEN_NAMES or node.id in _ALL_BUILTINS:
                return None
            names.add(node.id)
    return frozenset(names)
