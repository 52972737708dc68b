"""The house's shape: packages point one way (no import cycle between the packages of dispatch/, mobile_api/
and config/, imports inside functions counted, TYPE_CHECKING ones not), and every effect the machine can
decide has exactly one place that carries it out."""

from __future__ import annotations

import ast
from pathlib import Path

from dispatch.requests import effects, machine

ROOT = Path(__file__).resolve().parent.parent
TOP = ("dispatch", "mobile_api", "config")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(tree: ast.AST, here: str, is_package: bool) -> set[str]:
    """Every module an import names, inside functions too, leaving out `if TYPE_CHECKING:` blocks."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.split(".") if is_package else here.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def package_graph(depth: int = 2) -> dict[str, set[str]]:
    """Return the import graph between packages `depth` names deep (dispatch.notify, mobile_api.views...)."""
    files = [path for top in TOP for path in (ROOT / top).rglob("*.py") if "migrations" not in path.parts]
    names = {_module_name(path): path for path in files}

    def cut(name: str) -> str:
        return ".".join(name.split(".")[:depth])

    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        targets = _imports(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py")
        edges = {cut(t) for t in targets if t in names and t != name and not name.startswith(t + ".")}
        graph.setdefault(cut(name), set()).update(edge for edge in edges if edge != cut(name))
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                strong(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            strong(node)
    return found


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert {"dispatch.requests", "dispatch.api", "dispatch.pages", "mobile_api.views"} <= set(graph)  # the check sees the project
    assert cycles(graph) == []


def test_the_check_finds_a_cycle_hidden_in_a_function() -> None:
    tree = ast.parse("def f():\n    from dispatch.notify import service\n")
    assert _imports(tree, "dispatch.requests.effects", False) >= {"dispatch.notify.service"}
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [["a", "b"]]
    typed = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import dispatch.web\n")
    assert "dispatch.web" not in _imports(typed, "dispatch.notify.service", False)


EDGES = ("dispatch.api", "dispatch.pages", "mobile_api")


def _edge(module: str) -> str | None:
    return next((edge for edge in EDGES if module == edge or module.startswith(edge + ".")), None)


def test_the_three_edges_import_nothing_from_each_other() -> None:
    """The JSON API, the pages and the phone's API share only what lies below them (the use cases, the policy)."""
    found = []
    for edge in EDGES:
        for path in (ROOT / edge.replace(".", "/")).rglob("*.py"):
            here = _module_name(path)
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for target in _imports(tree, here, path.name == "__init__.py"):
                other = _edge(target)
                if other is not None and other != edge:
                    found.append(f"{path.relative_to(ROOT)} imports {target}")
    assert found == []


def test_the_edge_check_sees_a_lazy_import() -> None:
    tree = ast.parse("def f():\n    from dispatch.pages import bp\n")
    assert _edge(next(t for t in _imports(tree, "mobile_api.views", False) if t.startswith("dispatch.pages"))) == "dispatch.pages"


def test_notify_is_a_leaf() -> None:
    """The sender knows no domain: what follows a delivery is registered by create_app (dispatch.delivery)."""
    graph = package_graph()
    domain = {
        "dispatch.api",
        "dispatch.communities",
        "dispatch.reports",
        "dispatch.synthesis",
        "dispatch.requests",
        "dispatch.auth",
        "dispatch.audit",
        "dispatch.pages",
        "dispatch.web",
    }
    assert graph["dispatch.notify"] & domain == set()


def test_every_effect_the_machine_decides_is_carried_out_in_one_place() -> None:
    assert set(effects.CARRY_OUT) == set(machine.EFFECT_TYPES)
    decisions = ("lifecycle.py", "offers.py", "visit.py")
    source = "".join((ROOT / "dispatch/requests/machine" / name).read_text(encoding="utf-8") for name in decisions)
    for effect_type in machine.EFFECT_TYPES:  # and every one of them is decided by the machine
        assert f"{effect_type.__name__}(" in source, effect_type


# Set-based writes the rollups' flush hook cannot see, and the only modules allowed to make them.
DIRECT_WRITES = {
    # The demo backfills its rollups from the rows it inserts.
    "insert(Offer)": {"dispatch/requests/offer_store.py", "dispatch/demo_history.py", "dispatch/demo_care.py"},
    "insert(Offer.__table__)": {"dispatch/requests/offer_store.py"},
    "update(Offer)": {"dispatch/requests/offer_store.py"},
    # The erasure blanks the patient's columns only, none the rollups group by (test_demo_year checks the figures).
    "update(Request)": {
        "dispatch/privacy/erasure.py",
        "dispatch/requests/engine.py",  # a writer's claim moves the version column only
    },
    "insert(Request)": {"dispatch/demo_history.py", "dispatch/demo_care.py"},
}


def test_offers_and_requests_are_written_only_where_the_rollups_follow() -> None:
    """An offer is written only by offer_store, which counts it; a request only through the session, whose flush hook
    moves the request rollup: a new direct UPDATE elsewhere would silently corrupt the report's figures."""
    found = {}
    for path in (ROOT / "dispatch").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        source = path.read_text(encoding="utf-8")
        relative = str(path.relative_to(ROOT))
        for statement, allowed in DIRECT_WRITES.items():
            if statement in source and relative not in allowed:
                found.setdefault(statement, []).append(relative)
    assert found == {}
