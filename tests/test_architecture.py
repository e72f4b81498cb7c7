"""The shape of the package: no import cycles, no family named outside its own module, and a
command line that starts without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from deepmouse.families import FAMILIES

PACKAGE = Path(__file__).resolve().parents[1] / "deepmouse"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the deepmouse modules it imports anywhere (top level or inside functions)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_has_no_import_cycles():
    graph = import_graph()
    assert "deepmouse.pointer" in graph["deepmouse.live"]  # the graph does see imports
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_module_outside_the_families_names_a_family():
    """A family's name appears as a string only in its own module (and the networks' module)."""
    own = {PACKAGE / "families", PACKAGE / "models.py"}
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if any(path == o or o in path.parents for o in own):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in FAMILIES:
                offenders.append(f"{path.name}:{node.lineno} {node.value!r}")
    assert offenders == []


def test_help_and_report_start_without_torch(tiny_run, tmp_path):
    """``deepmouse --help``, ``train --help`` and ``report`` never import torch."""
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from deepmouse.cli import app\n"
        "runner = CliRunner()\n"
        "for args in (['--help'], ['train', '--help'], ['report', sys.argv[1], '--out', "
        "sys.argv[2]]):\n"
        "    result = runner.invoke(app, args)\n"
        "    assert result.exit_code == 0, (args, result.stdout, result.stderr)\n"
        "print(sorted(m for m in ('torch', 'sklearn', 'optuna') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tiny_run.out),
                             str(tmp_path / "report.html")], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert (tmp_path / "report.html").is_file()


def test_help_names_the_extra_a_family_needs():
    from deepmouse.cli import _family_help
    from deepmouse.families import Family, register, unregister

    class NeedsExtra(Family):
        name = "toy-extra"
        extra = "toy"

    register(NeedsExtra())
    try:
        assert "toy-extra (needs deepmouse[toy])" in _family_help()
        assert "rocket," in _family_help() and "rocket (" not in _family_help()
    finally:
        unregister("toy-extra")
