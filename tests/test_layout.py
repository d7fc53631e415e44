"""The package's layout: folders in pipeline order, arrows pointing down it, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "voiceguide"

STAGES = [
    {"errors", "text", "recipe", "record", "processes", "tools", "atomic"},  # used by every stage
    {"routine"},
    {"speech"},
    {"plan", "estimate", "limits"},
    {"audio"},
    {"publish"},
    {"session", "build", "write", "diagnose", "measure"},
    {"batch", "cluster", "uptodate"},
    {"catalog"},
    {"cli", "__main__"},
]
"""A module may import from its own stage and the stages before it, never from a later one."""

MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every module's imports of other voiceguide modules, those inside functions included."""
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and node.module.startswith("voiceguide"):
                base = node.module
            else:
                continue
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in modules else base)
        found.discard(name)
        graph[name] = {target for target in found if target in modules}
    return graph


def stage(module: str) -> int:
    parts = module.split(".")
    key = parts[1] if len(parts) > 1 else "__init__"
    if key == "__init__":
        return 0
    return next(index for index, members in enumerate(STAGES) if key in members)


def test_every_module_belongs_to_a_stage():
    for module in imports():
        stage(module)  # StopIteration names a module no stage lists


def test_arrows_point_down_the_pipeline():
    backwards = [f"{module} -> {target}" for module, targets in imports().items() for target in targets
                 if stage(target) > stage(module)]
    assert backwards == []


def test_no_import_cycles():
    graph = imports()
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        for target in graph[module]:
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            elif target not in done:
                visit(target, path + [target])
        done.add(module)

    done: set[str] = set()
    for module in graph:
        if module not in done:
            visit(module, [module])
    assert cycles == []


def test_no_module_is_too_long_to_read():
    long = {module_name(path): n for path in PACKAGE.rglob("*.py") if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
