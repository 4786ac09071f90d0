"""The package's imports run one way and have no cycles.

Layers, lowest first; a module may import only from its own package or a
lower one. `configs`, `layers` and the top-level `__init__` are public
namespaces that re-export names: package code never imports them. Imports
inside functions count as edges too, so none can hide a cycle; only the CLI
imports inside functions (it sets up TensorFlow's environment before the
first heavy import).
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_adapters"
ORDER = [
    "version",
    "core",
    "specs",
    "attention",
    "planning",
    "methods",
    "injection",
    "distribution",
    "saving",
    "export",
    "models",
    "assets",
    "data",
    "cli",
]
NAMESPACES = {"configs", "layers", ""}
LAZY_IMPORTS_ALLOWED = {"cli"}


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _package(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(path, modules):
    """`[(imported module, inside a function?)]` of keras_adapters modules."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            names = []
            if isinstance(child, ast.Import):
                names = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                names = [
                    f"{child.module}.{a.name}"
                    if f"{child.module}.{a.name}" in modules
                    else child.module
                    for a in child.names
                ]
            for name in names:
                if name.split(".")[0] == "keras_adapters" and name in modules:
                    found.append((name, in_function))
            visit(child, nested)

    visit(ast.parse(path.read_text()), False)
    return found


def _graph():
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: _imports(path, paths) for name, path in paths.items()}


def test_every_package_has_a_place_in_the_order():
    packages = {_package(m) for m in _graph()}
    assert packages - NAMESPACES <= set(ORDER), packages - NAMESPACES - set(ORDER)


def test_no_import_cycles():
    graph = {m: {dst for dst, _ in edges} for m, edges in _graph().items()}
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycle = stack[stack.index(nxt) :] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_imports_run_one_way():
    wrong = []
    for module, edges in _graph().items():
        source = _package(module)
        for target, _ in edges:
            destination = _package(target)
            if source in NAMESPACES or destination == source:
                continue
            if destination in NAMESPACES and source != "cli":
                wrong.append(f"{module} -> {target} (package code must not import a namespace)")
            elif destination not in NAMESPACES and ORDER.index(destination) > ORDER.index(source):
                wrong.append(f"{module} -> {target} ({source} is below {destination})")
    assert not wrong, "\n".join(wrong)


def test_no_imports_inside_functions_outside_the_cli():
    lazy = [
        f"{module} imports {target} inside a function"
        for module, edges in _graph().items()
        for target, inside in edges
        if inside and _package(module) not in LAZY_IMPORTS_ALLOWED
    ]
    assert not lazy, "\n".join(lazy)
