"""Issue #19: the shape of the house, checked. The module graph (every import, function-level ones included) has no
cycle and no arrow from a lower layer to a higher one; the CLI only parses, calls the application layer, renders
and maps exit codes; provider plugins import the plugin API and nothing else of spfguard."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = ROOT / "spfguard"
# lowest first; a module may import its own package and anything on a lower floor, nothing on its own floor or above
LAYERS = [
    ["errors", "textsafe", "redact", "findings", "ipset", "receivers", "net", "mail"],
    ["hostport", "textfile", "logs"],
    ["tables", "domains", "output"],
    ["dns"],
    ["spf"],
    ["tree", "dmarc"],
    ["policy", "rules", "conformance"],
    ["provider"],
    ["vendors"],
    ["audit"],
    ["fix", "senders", "connector"],
    ["monitor"],
    ["config"],
    ["report", "app"],
    ["cli", "octodns"],
]
FLOOR = {room: floor for floor, rooms in enumerate(LAYERS) for room in rooms}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every spfguard module ``path`` imports, at any depth of the file (relative imports resolved)."""
    tree = ast.parse(path.read_text())
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "spfguard")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            if base.split(".")[0] == "spfguard":
                # `from spfguard.spf import macro` imports the module spfguard.spf.macro
                found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names)
    return found - {here}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


MODULES = {_module_name(p) for p in PACKAGE.rglob("*.py")}
GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_room_has_a_floor():
    rooms = {_room(m) for m in GRAPH} - {None}
    assert rooms <= set(FLOOR), f"place these in LAYERS (and CONTRIBUTING.md): {sorted(rooms - set(FLOOR))}"


def test_no_import_runs_up_or_sideways():
    wrong = []
    for module, targets in GRAPH.items():
        room = _room(module)
        if room is None:
            continue
        for target in targets:
            other = _room(target)
            if other is None or other == room:
                continue
            if FLOOR[other] >= FLOOR[room]:
                wrong.append(f"{module} -> {target} (floor {FLOOR[room]} -> {FLOOR[other]})")
    assert not wrong, "\n".join(sorted(wrong))


def test_the_module_graph_has_no_cycle():
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in GRAPH:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in GRAPH:
        if module not in index:
            visit(module)
    assert not cycles, cycles


FORBIDDEN_IN_CLI = {"open_store": "the store", "load_provider": "a provider", "provider_class": "a provider",
                    "smtplib": "SMTP", "SMTP": "SMTP", "json": "JSON encoding (a renderer's job)",
                    "dumps": "JSON encoding (a renderer's job)", "Enum": "an Enum (choices come from the registry)",
                    "StrEnum": "an Enum", "IntEnum": "an Enum", "http_request": "HTTP"}


@pytest.mark.parametrize("path", sorted((PACKAGE / "cli").glob("*.py")), ids=lambda p: p.name)
def test_the_cli_only_parses_calls_renders(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(a.name for a in node.names)
            names.add(node.module or "")
    found = {f"{name} ({why})" for name, why in FORBIDDEN_IN_CLI.items() if name in names}
    assert not found, f"{path.name} reaches past the application layer: {sorted(found)}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("providers/*/spfguard_*/*.py")), ids=lambda p: p.parent.name)
def test_plugins_import_only_the_plugin_api(path):
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("spfguard."):
            modules.add(node.module)
        elif isinstance(node, ast.Import):
            modules.update(a.name for a in node.names if a.name.startswith("spfguard."))
    assert modules <= {"spfguard.provider"}, modules
