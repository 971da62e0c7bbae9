"""The house rules of docs/architecture.md, checked on the source: no import cycle inside groklab/,
nothing outside groklab/cli/ imports the CLI, modules under 500 lines and functions under 80."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parent.parent / "groklab"
MAX_MODULE, MAX_FUNCTION = 500, 80


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = f.relative_to(PKG.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The groklab module that an imported dotted name lives in (a module, or the package above a name)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path) -> set[str]:
    """Every groklab module ``name`` imports, at module level or inside functions."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {_owner(a.name) for a in node.names if a.name.startswith("groklab")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                pkg = pkg[: len(pkg) - node.level + 1]
                base = ".".join(pkg + ([node.module] if node.module else []))
            if base.startswith("groklab"):
                found |= {_owner(f"{base}.{a.name}") for a in node.names}
    found.discard(None)
    found.discard(name)
    return {m for m in found if not m.startswith(name + ".")}   # a package importing its own parts


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = len(index)
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(GRAPH.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def _is_cli(name: str) -> bool:
    return name == "groklab.cli" or name.startswith("groklab.cli.")


def test_import_graph_sees_real_imports():
    """The parser is not blind: known edges are found (else the tests below would pass vacuously)."""
    assert "groklab.store.catalog" in GRAPH["groklab.api"]
    assert "groklab.measure.registry" in GRAPH["groklab.train.loop"]
    assert any(_is_cli(m) for m in GRAPH) and any(GRAPH[m] for m in GRAPH if _is_cli(m))


def test_no_import_cycle_inside_groklab():
    assert _cycles() == []


def test_nothing_outside_the_cli_imports_it():
    offenders = sorted(m for m, deps in GRAPH.items() if not _is_cli(m) and any(_is_cli(d) for d in deps))
    assert offenders == []
    assert "groklab.commands" not in MODULES, "the old commands package is gone"


def test_modules_and_functions_stay_small():
    big = [f"{p.relative_to(PKG.parent)}: {n}" for p in MODULES.values()
           if (n := len(p.read_text().splitlines())) > MAX_MODULE]
    long = []
    for p in MODULES.values():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if (n := node.end_lineno - node.lineno + 1) > MAX_FUNCTION:
                    long.append(f"{p.relative_to(PKG.parent)}:{node.lineno} {node.name} {n}")
    assert big == [] and long == []
