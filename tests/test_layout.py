"""The house plan of src/dnd, checked on the source's `import` statements (function-level
imports included, since an import inside a function hides a cycle without removing it):
no import cycles between modules or between subpackages, `models/` and `inference/` never
import `training/`, argparse only under `cli/`, no module over 350 lines, and the command line
loads no torch until a verb runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "dnd"
MAX_LINES = 350


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    """The dnd module an imported dotted name refers to (longest known prefix)."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(module: str) -> set[str]:
    """dnd modules that `module` imports anywhere in its source."""
    tree = ast.parse(MODULES[module].read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {m for m in map(_resolve, names) if m and m != module}
    return found


GRAPH = {m: imports(m) for m in MODULES}


def _external_imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as a node list, or None (depth-first search with colours)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _subpackage(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_the_walker_sees_function_level_imports():
    assert "dnd.training.finetune" in GRAPH["dnd.cli.finetune"]  # imported inside run()


def test_no_import_cycle_between_modules():
    # a package's __init__ re-exporting its own modules is not a cycle between concepts
    graph = {m: {d for d in deps if not (MODULES[m].name == "__init__.py" and d.startswith(m + "."))}
             for m, deps in GRAPH.items()}
    assert find_cycle(graph) is None


def test_no_import_cycle_between_subpackages():
    graph: dict[str, set[str]] = {}
    for module, deps in GRAPH.items():
        graph.setdefault(_subpackage(module), set()).update(
            _subpackage(d) for d in deps if _subpackage(d) != _subpackage(module))
    graph.pop("dnd", None)
    for deps in graph.values():
        deps.discard("dnd")
    assert find_cycle(graph) is None


@pytest.mark.parametrize("layer", ["dnd.models", "dnd.inference", "dnd.data", "dnd.objectives", "dnd.evaluation"])
def test_lower_layers_never_import_training_or_above(layer):
    above = ("dnd.training", "dnd.experiment", "dnd.cli")
    bad = {m: sorted(d for d in deps if d.startswith(above))
           for m, deps in GRAPH.items() if m.startswith(layer)}
    assert not {m: d for m, d in bad.items() if d}


def test_argparse_only_in_cli():
    users = sorted(m for m in MODULES if "argparse" in _external_imports(m))
    assert users and all(m.startswith("dnd.cli") for m in users), users


def test_no_module_over_the_size_limit():
    sizes = {m: len(p.read_text().splitlines()) for m, p in MODULES.items()}
    assert not {m: n for m, n in sizes.items() if n > MAX_LINES}


def test_config_modules_and_the_cli_load_without_torch():
    """`dnd --help` must answer at once: building the whole parser imports no deep-learning stack."""
    code = ("import sys; from dnd.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'lightning', 'torch_geometric', 'torchmdnet', 'rdkit', 'pandas') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(SRC), "PATH": ""})
    assert out.stdout.strip() == "[]"
