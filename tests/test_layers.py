"""The layers of docs/architecture.md, checked on the source: imports only go downward, no system
imports another, and no module of the package takes part in an import cycle."""

import ast

from conftest import REPO

# layer -> the layers it may import (besides itself and deepnet.errors)
ALLOWED = {
    "core": set(),
    "data": set(),
    "systems": {"core", "data"},
    "report": {"core"},
    "experiments": {"core", "data", "systems", "report"},
}


def imports():
    """module name ("deepnet.systems.ntm") -> the deepnet modules it imports, at the top or inside functions."""
    root = REPO / "deepnet"
    names = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in names.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("deepnet"):
                for a in node.names:
                    full = f"{node.module}.{a.name}"
                    edges.add(full if full in names else node.module)
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in names}
        graph[name] = edges - {name}
    return graph


def layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_imports_only_go_down_the_layers_and_no_system_imports_another():
    wrong = []
    for module, edges in imports().items():
        here = layer(module)
        if here not in ALLOWED:
            continue
        for target in edges:
            there = layer(target)
            if there in (None, "errors") or there == here and here != "systems":
                continue
            if there == "systems" and here == "systems":
                if target != "deepnet.systems" and module != "deepnet.systems":  # the package lists them all
                    wrong.append(f"{module} -> {target} (a system imports another)")
            elif there not in ALLOWED[here]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_no_import_cycles_in_the_package():
    graph = imports()
    done, active = set(), []

    def visit(m):
        assert m not in active, f"import cycle: {' -> '.join(active[active.index(m):] + [m])}"
        if m not in done:
            active.append(m)
            for d in sorted(graph.get(m, ())):
                visit(d)
            active.pop()
            done.add(m)

    for m in sorted(graph):
        visit(m)
