"""The layout's rules that import-linter cannot state: one place commits, no import cycle between modules."""

import ast
import pathlib

import grimp

APP = pathlib.Path(__file__).resolve().parents[1] / "app"
HELPER = APP / "services" / "core" / "transaction.py"


def _commit_calls(path: pathlib.Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"]


def test_only_the_transaction_helper_commits_in_services():
    offenders = {str(p.relative_to(APP)): lines for p in sorted((APP / "services").rglob("*.py"))
                 if p != HELPER and (lines := _commit_calls(p))}
    assert offenders == {}, f"services commit outside core/transaction.py: {offenders}"


def test_the_check_sees_a_commit():
    assert _commit_calls(HELPER), "the helper itself commits: the AST check must find it"


def test_no_import_cycle_between_modules_of_app():
    graph = grimp.build_graph("app", exclude_type_checking_imports=True)
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and not imported.startswith(module + ".") and not module.startswith(imported + "."):
                if graph.chain_exists(importer=imported, imported=module):
                    cycles.append((module, imported))
    assert cycles == []


def test_no_test_module_imports_another_test_module():
    tests = APP.parent / "tests"
    offenders = []
    for path in sorted(tests.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n.startswith(("tests.test_", "test_")) or n in ("tests.conftest", "conftest") for n in names):
                offenders.append(f"{path.relative_to(tests)}:{node.lineno}")
    assert offenders == [], "shared helpers belong in tests/support/: " + ", ".join(offenders)
