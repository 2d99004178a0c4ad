"""The layering stays clean: no import cycle between the product's modules, and every internal import made
inside a function says why (a comment on it or just above it — start-up cost, usually)."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("registry", "builder", "server", "cli")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _module_level_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    deps: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                deps.add(candidate if candidate in modules else node.module)
        elif isinstance(node, ast.Import):
            deps.update(alias.name for alias in node.names)
    return {d for d in deps if d in modules}


def test_no_import_cycle():
    modules = _modules()
    graph = {name: _module_level_imports(path, modules) - {name} for name, path in modules.items()}
    state: dict[str, int] = {}          # 1 on the current path, 2 done
    cycles: list[list[str]] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for dep in sorted(graph[name]):
            if state.get(dep) == 1:
                cycles.append(path[path.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, path + [dep])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def _commented(lines: list[str], index: int) -> bool:
    """A comment on the import, or just above the block of imports (and their continuation lines) that it
    belongs to, or above the one ``if`` that chooses among them."""
    if "#" in lines[index]:
        return True
    while index > 0:
        index -= 1
        text = lines[index].strip()
        if text.startswith("#") or "#" in text and text.endswith(":"):
            return True
        if not (text.startswith(("from ", "import ", "if ")) or text.endswith(",") or text == ")"):
            return False
    return False


def test_function_local_internal_imports_say_why():
    unexplained = []
    for path in _modules().values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for inner in ast.walk(node):
                if not isinstance(inner, (ast.Import, ast.ImportFrom)):
                    continue
                module = inner.module if isinstance(inner, ast.ImportFrom) else inner.names[0].name
                if not module or module.split(".")[0] not in PACKAGES:
                    continue
                if not _commented(lines, inner.lineno - 1):
                    unexplained.append(f"{path.relative_to(ROOT)}:{inner.lineno}: {lines[inner.lineno - 1].strip()}")
    assert sorted(set(unexplained)) == []
