"""The layering of ``src/bandersnatch``: each module imports only its own layer or the layers
below it. ``LAYERS`` is the one declaration of the order (``docs/development.md`` describes
it); the checker reads every import with ``ast``, the ones inside functions included, so a
lazy import cannot hide an upward dependency."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
PACKAGE = "bandersnatch"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "models"),  # the version, the error tree, frozen records
    ("layout", "splicing", "journal", "planning", "rules"),  # pure facts and pure planning
    ("config", "simple", "storage"),  # the config; the page formats; the Storage interface
    (
        "ledgerfile",
        "ledger",
        "state",
        "tally",
        "filters",
        "upstream",
        "core_metadata",
        "report",
        "metrics",
        "liveline",
    ),  # and the run report, its metrics, the live line
    ("site",),  # the mirror on disk: publish, read back, prune
    ("syncer", "verify"),  # the two engines
    ("runtime",),  # builds everything from a Config
    ("steps", "serving"),  # steps the commands share; the HTTP server
    ("commands",),  # wiring only
    ("cli", "arguments", "__main__"),
)
"""Bottom to top. A unit is a top-level module or package of ``bandersnatch``."""


def layer_of(layers: tuple[tuple[str, ...], ...]) -> dict[str, int]:
    return {unit: i for i, units in enumerate(layers) for unit in units}


def _module_name(path: Path, root: Path) -> tuple[str, list[str]]:
    """(dotted module name, the package it is in as parts) of a file below ``root``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
        return ".".join(parts), parts
    return ".".join(parts), parts[:-1]


def imports(root: Path, package: str) -> dict[str, set[str]]:
    """Every module of ``package`` (under ``root``) -> the modules of ``package`` it
    imports, wherever in the file the import is."""
    modules = {_module_name(f, root)[0] for f in (root / package).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted((root / package).rglob("*.py")):
        name, in_package = _module_name(path, root)
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = in_package[: len(in_package) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                for alias in node.names:  # ``from . import x``: x may be a module
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else base)
        graph[name] = {m for m in found if m == package or m.startswith(package + ".")}
    return graph


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def upward_imports(graph: dict[str, set[str]], layers: tuple[tuple[str, ...], ...]) -> list[str]:
    """Each import of a unit above the importer's layer, or of a unit no layer names."""
    level = layer_of(layers)
    problems = []
    for module, imported in sorted(graph.items()):
        own = _unit(module)
        if own not in level:
            problems.append(f"{module}: {own} is in no layer; add it to LAYERS")
            continue
        for target in sorted(imported):
            unit = _unit(target)
            if unit not in level:
                problems.append(f"{module} imports {target}: {unit} is in no layer")
            elif level[unit] > level[own]:
                problems.append(
                    f"{module} (layer {level[own]}, {own}) imports {target} "
                    f"(layer {level[unit]}, {unit}): an upward import"
                )
    return problems


def test_every_module_imports_only_its_own_layer_or_below() -> None:
    graph = imports(SRC, PACKAGE)
    assert len(graph) > 50  # the whole package was read
    assert upward_imports(graph, LAYERS) == []


def test_every_unit_is_in_exactly_one_layer() -> None:
    units = [unit for layer in LAYERS for unit in layer]
    assert len(units) == len(set(units))
    present = {_unit(m) for m in imports(SRC, PACKAGE)}
    assert present == set(units)


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


SYNTHETIC = (("__init__", "low"), ("mid",), ("high",))


@pytest.mark.parametrize(
    "upward",
    [
        "from .high import thing\n",  # at module level
        "def f():\n    from .high import thing\n    return thing\n",  # a lazy import
        "import pkg.high\n",  # absolute
        "from . import high\n",  # a submodule through its package
        "def f():\n    from ..pkg.high import x\n",  # relative from a subpackage, below
    ],
)
def test_the_checker_reports_an_upward_import(tmp_path: Path, upward: str) -> None:
    files = {"__init__.py": "", "low.py": "X = 1\n", "high.py": "from .mid import Y\n"}
    if upward.startswith("def f():\n    from ..pkg"):
        files["mid/__init__.py"] = "from ..low import X\n"
        files["mid/inner.py"] = upward.replace("..pkg.high", "..high")
    else:
        files["mid.py"] = "from .low import X\nY = X\n" + upward
    root = _tree(tmp_path, files)
    problems = upward_imports(imports(root, "pkg"), SYNTHETIC)
    assert len(problems) == 1 and "upward import" in problems[0], problems
    assert "(layer 1, mid) imports pkg.high (layer 2, high)" in problems[0]


def test_the_checker_accepts_imports_down_and_sideways(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "__init__.py": "",
            "low.py": "X = 1\n",
            "mid.py": "from .low import X\nimport pkg.low\n",
            "high.py": "def f():\n    from .mid import Y\n    from . import low\n",
        },
    )
    assert upward_imports(imports(root, "pkg"), SYNTHETIC) == []


def test_a_module_in_no_layer_is_reported(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"__init__.py": "", "stray.py": "from .low import X\n"})
    problems = upward_imports(imports(root, "pkg"), SYNTHETIC)
    assert problems == ["pkg.stray: stray is in no layer; add it to LAYERS"]
