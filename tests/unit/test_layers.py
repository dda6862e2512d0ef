"""The package's imports point one way, and per-call state lives in one module.

Layers, from the top: cli -> public face -> session -> transport -> call state -> settings
-> value modules -> HTTP rules -> errors. A module may import its own layer or any layer
below it; imports made only for type checking (``if TYPE_CHECKING:``) do not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "httpkit"

#: Layer of each module, by dotted name or package prefix; the higher, the nearer the user.
LAYERS: dict[str, int] = {
    "httpkit._exceptions": 0,
    "httpkit._version": 0,
    "httpkit._http": 1,
    "httpkit._record": 1,
    "httpkit._fork": 1,
    "httpkit._lazy": 1,
    "httpkit._clock": 2,
    # value modules: values and rules only
    "httpkit._timeouts": 2,
    "httpkit._retry": 2,
    "httpkit._tls": 2,
    "httpkit._ssrf": 2,
    "httpkit._ratelimit": 2,
    "httpkit._circuit": 2,
    "httpkit._telemetry": 2,
    "httpkit._deadline": 2,
    "httpkit._redact": 2,
    "httpkit._bodies": 2,
    "httpkit._middleware": 2,
    "httpkit._hosts": 2,
    "httpkit._environ": 2,
    "httpkit._redirects": 2,
    "httpkit.cache": 2,
    "httpkit.stores": 2,
    "httpkit.auth": 2,
    # settings
    "httpkit._policy": 3,
    "httpkit._config": 3,
    # call state
    "httpkit._call": 4,
    # everything that subclasses requests or urllib3
    "httpkit._transport": 5,
    "httpkit._session": 6,
    "httpkit": 7,
    "httpkit.testing": 7,
    "httpkit.__main__": 8,
    "httpkit.cli": 8,
}
NAMES = {0: "errors", 1: "HTTP rules", 2: "value modules", 3: "settings", 4: "call state"}
NAMES |= {5: "transport", 6: "session", 7: "public face", 8: "cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    candidates = [name for name in LAYERS if module == name or module.startswith(name + ".")]
    if not candidates:
        raise AssertionError(f"{module} has no layer: add it to LAYERS")
    return LAYERS[max(candidates, key=len)]


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node outside ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def runtime_imports(path: Path) -> set[str]:
    """httpkit modules ``path`` imports at run time, module-level and inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("httpkit"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if not base.startswith("httpkit"):
                continue
            for alias in node.names:
                # "from httpkit import _call" imports a module; "from x import name" a name.
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    found.discard(me)
    return found


def _is_module(dotted: str) -> bool:
    relative = Path(*dotted.split("."))
    root = PACKAGE.parent
    return (root / relative).with_suffix(".py").exists() or (root / relative).is_dir()


SOURCES = sorted(PACKAGE.rglob("*.py"))
GRAPH = {module_name(p): runtime_imports(p) for p in SOURCES}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_point_down(module: str) -> None:
    own = layer_of(module)
    upward = {m: NAMES[layer_of(m)] for m in GRAPH[module] if layer_of(m) > own}
    assert not upward, f"{module} ({NAMES[own]}) imports modules above it: {upward}"


def test_no_import_circles() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                circle = [*path[path.index(target) :], target]
                raise AssertionError("import circle: " + " -> ".join(circle))
            if target in GRAPH and target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_context_variables_live_in_the_call_state_module() -> None:
    makers = {
        module_name(p)
        for p in SOURCES
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith("ContextVar")
    }
    assert makers == {"httpkit._call"}


def test_only_the_transport_subclasses_urllib3_or_requests_machinery() -> None:
    # Exceptions, warnings and auth plugins may derive from requests' and urllib3's; the
    # session, adapters, connections, pools, retries and timeouts are subclassed in
    # httpkit._transport (and httpkit._session) only.
    machinery = {"HTTPAdapter", "BaseAdapter", "Session", "Retry", "PoolManager"}
    machinery |= {"HTTPConnection", "HTTPSConnection", "HTTPConnectionPool"}
    machinery |= {"HTTPSConnectionPool", "HTTPResponse"}
    offenders = []
    for p in SOURCES:
        module = module_name(p)
        if module.startswith("httpkit._transport") or module == "httpkit._session":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rpartition(".")[2] for b in node.bases]
                if machinery & set(bases):
                    offenders.append(f"{module}.{node.name}({', '.join(bases)})")
    assert not offenders


def test_a_circle_is_found() -> None:
    # The checker itself: a graph with a circle must fail.
    global GRAPH
    saved = GRAPH
    GRAPH = {"a": {"b"}, "b": {"a"}}
    try:
        with pytest.raises(AssertionError, match="import circle: a -> b -> a"):
            test_no_import_circles()
    finally:
        GRAPH = saved
