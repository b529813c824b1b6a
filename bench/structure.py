"""Structure figures of the code base: imports against the layers, package cycles, long functions
and tests that monkeypatch private names.

    python -m bench.structure [ROOT]

Only module-level imports count (an import inside a function or under `TYPE_CHECKING` does not
load the module when this one is imported). The layers are those of docs/architecture.md, from
the top: the edges, the composition roots, the send services, workers, the engine, the domain
packages and the foundation (with the template store). An edge "against the layers" is a
module importing one of a higher layer.
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from pathlib import Path

PACKAGES = ("app", "workers", "templates_store")
EDGE_MODULES = {
    "app", "app.factory", "app.http", "app.families", "app.errors", "app.auth",
    "app.extensions", "app.ratelimit", "app.logs", "app.openapi", "app.openapi_responses",
    "app.health", "app.client_config", "app.idempotency.guard", "app.realtime.ws",
    "app.realtime.routes", "app.devserver", "app.apidocs", "app.operations_metrics",
}  # fmt: skip
# Packages that are HTTP edge through and through (server-rendered pages over the services).
EDGE_PACKAGES = ("app.dashboard",)
SEND_SERVICES = (
    "app.notifications", "app.broadcasts", "app.direct", "app.inbox.service", "app.metrics",
)  # fmt: skip
FOUNDATION = {
    "app.config", "app.db", "app.orm", "app.security", "app.refusals", "app.wire",
    "app.group_commit", "app.pagination",
}  # fmt: skip
# As docs/architecture.md draws them, from the top.
LAYERS = ("edge", "composition", "send services", "workers", "engine", "domain", "foundation")


def layer_of(module: str) -> str:
    if module in EDGE_MODULES or module.endswith("routes") or module.startswith("app.cli"):
        return "edge"
    if module.startswith(EDGE_PACKAGES):
        return "edge"
    if module in ("app.composition", "app.runtime", "app.models", "workers"):
        return "composition"
    if module.startswith(SEND_SERVICES):
        return "send services"
    if module.startswith("workers"):
        return "workers"
    if module.startswith("app.engine"):
        return "engine"
    if module in FOUNDATION or module.startswith("templates_store"):
        return "foundation"
    return "domain"


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def module_level_imports(path: Path, known: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                imported.add(full if full in known else node.module)
    return {name for name in imported if name in known}


def package_of(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "app" and len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def longest_functions(paths: list[Path], count: int = 5) -> list[tuple[int, str]]:
    lengths = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lengths.append((node.end_lineno - node.lineno + 1, f"{path}:{node.name}"))
    return sorted(lengths, reverse=True)[:count]


PRIVATE_PATCH = re.compile(r"monkeypatch\.setattr\(\s*[^,]*?(\"[^\"]*\._|'[^']*\._|,\s*\"_|,\s*'_)")


def private_monkeypatches(root: Path) -> int:
    return sum(
        len(PRIVATE_PATCH.findall(path.read_text())) for path in (root / "tests").rglob("*.py")
    )


def report_cycles(title: str, graph: dict[str, set[str]]) -> None:
    knots = cycles(graph)
    print(f"{title}: {len(knots)}; largest: {max((len(k) for k in knots), default=0)}")
    for knot in knots:
        print("    " + " <-> ".join(knot))


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    known = modules(root)
    edges = {(m, t) for m, p in known.items() for t in module_level_imports(p, known) if t != m}
    against = [(m, t) for m, t in edges if LAYERS.index(layer_of(t)) < LAYERS.index(layer_of(m))]
    packages: dict[str, set[str]] = defaultdict(set)
    for m, t in edges:
        if package_of(m) != package_of(t):
            packages[package_of(m)].add(package_of(t))
    print(f"internal import edges (module level): {len(edges)}")
    print(f"edges against the layers: {len(against)}")
    for m, t in sorted(against):
        print(f"    {m} ({layer_of(m)}) -> {t} ({layer_of(t)})")
    report_cycles("package cycles", packages)
    # Packages hold routes beside services (one package per domain), so the edge alone, which
    # imports every package's services, closes loops between packages: count them without it.
    below_edge: dict[str, set[str]] = defaultdict(set)
    for m, t in edges:
        inner = {layer_of(m), layer_of(t)}.isdisjoint({"edge", "composition"})
        if inner and package_of(m) != package_of(t):
            below_edge[package_of(m)].add(package_of(t))
    report_cycles("package cycles below the edges and composition roots", below_edge)
    print("longest functions:")
    for length, name in longest_functions(list(known.values())):
        print(f"    {length:4d} lines  {Path(name).relative_to(root)}")
    print(f"monkeypatches of private names in tests: {private_monkeypatches(root)}")


if __name__ == "__main__":
    main()
