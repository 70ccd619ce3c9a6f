"""The package's shape, checked as a newcomer would read it: arrows point one way (no import
cycles), no import hidden inside a function to dodge one, and no module grown past ~500 lines
unless it has one cohesive job."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "app"  # installed as hubdesk

# imports that stay inside functions, each for a reason that is not a cycle
INNER_IMPORTS_ALLOWED = {
    # create_app is imported on first use: gunicorn imports hubdesk.gunicorn_conf (and so the
    # package) before it sets PROMETHEUS_MULTIPROC_DIR, which prometheus_client reads once
    ("hubdesk", "__getattr__"),
    # gunicorn's hooks run in the master, which must not import the app
    ("hubdesk.gunicorn_conf", "on_starting"),
    ("hubdesk.gunicorn_conf", "post_worker_init"),
    ("hubdesk.gunicorn_conf", "worker_exit"),
    ("hubdesk.gunicorn_conf", "on_term"),
}
# one cohesive job each: the hub client (one HTTP boundary) and the lessons' store
LONG_MODULES_ALLOWED = {"hubdesk.hub", "hubdesk.lessons.store"}
MOST_LINES = 500


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts or "migrations" in path.parts:
            continue
        if path.name == "jupyterhub_config.py":  # read by JupyterHub, not imported
            continue
        parts = ["hubdesk", *path.relative_to(PACKAGE).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(node, module: str, path: Path, known) -> list[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in known]
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    targets = []
    for alias in node.names:
        candidate = f"{source}.{alias.name}"
        targets.append(candidate if candidate in known else source)
    return [t for t in targets if t in known]


def graph():
    known = modules()
    edges, inner = {m: set() for m in known}, set()
    for module, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for top in tree.body:
            if isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for node in ast.walk(top):
                # type-only imports (under TYPE_CHECKING) count too: an arrow is an arrow
                if isinstance(node, ast.Import | ast.ImportFrom):
                    edges[module].update(t for t in imported(node, module, path, known))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inside in ast.walk(node):
                    if isinstance(inside, ast.Import | ast.ImportFrom):
                        if imported(inside, module, path, known):
                            inner.add((module, node.name))
        edges[module].discard(module)
    return known, edges, inner


def test_no_import_cycles():
    _, edges, _ = graph()
    cycles, done = [], set()

    def visit(module, trail):
        for target in sorted(edges[module]):
            # a package importing its own submodule (its blueprint) is not an arrow back
            if target.startswith(module + ".") and target in trail[-1:]:
                continue
            if target in trail:
                cycle = trail[trail.index(target) :] + [target]
                if not any(b.startswith(a + ".") for a, b in zip(cycle, cycle[1:], strict=False)):
                    cycles.append(" -> ".join(cycle))
            elif target not in done:
                visit(target, trail + [target])
        done.add(module)

    for module in sorted(edges):
        if module not in done:
            visit(module, [module])
    assert not cycles, cycles


def test_no_imports_inside_functions_but_the_documented_ones():
    _, _, inner = graph()
    assert inner <= INNER_IMPORTS_ALLOWED, sorted(inner - INNER_IMPORTS_ALLOWED)


def test_no_module_past_500_lines_without_one_job():
    known, _, _ = graph()
    long = {
        m: len(p.read_text(encoding="utf-8").splitlines())
        for m, p in known.items()
        if len(p.read_text(encoding="utf-8").splitlines()) > MOST_LINES
    }
    assert set(long) <= LONG_MODULES_ALLOWED | {"hubdesk.jobs"}, long
