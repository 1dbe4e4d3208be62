"""The import graph of ``plugins/opendata``: arrows point down the layers, never up, no cycles.

Every import counts, including the ones inside functions (a delayed import is still a
dependency; it only hides a cycle from the interpreter). A package may import the packages
listed before it in ``LAYERS`` and nothing listed after it; packages of one layer do not
import each other. Moving a module is how an upward arrow is fixed, not a delayed import.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "plugins" / "opendata"

#: Bottom to top. Each entry is a layer: a package or top-level module of ``opendata``.
LAYERS: list[set[str]] = [
    {"settings", "_lazy", "fileio"},  # environment, lazy exports, atomic writes: import nothing of the project
    {"storage"},                    # the store of everything tasks, runs and machines share (object storage)
    {"spec"},                       # the dataset-file schema, its loader and lint; the freshness policy table
    {"registry"},                   # what happened on the portal, per dataset and run (SQLAlchemy)
    {"sources", "portal"},          # reading sources into staged extracts; the Socrata hook and client
    {"validation", "notify"},       # quality, privacy and documentation checks; the checklist report;
                                    # e-mail and Slack, composed from the spec and governance handed in
    {"lifecycle"},                  # the run's plan, syncs, history, a task's inputs: what the dataset tasks call
    {"deployment"},                 # where the local deployment's settings live
    {"scaffold"},                   # `opendata new`: a dataset file drafted from its source (TODOs for people)
    {"adopt", "dryrun"},            # `opendata adopt`: taking over a public portal dataset; `opendata check`
    {"freshness"},                  # the staleness and comment monitor (pure policy + its DAG)
    {"catalog"},                    # the city's catalog as a whole: data.json, the quarterly report
    {"inventory"},                  # the inventory's read model: files, registry and Airflow in bulk, per dataset
    {"ui"},                         # the "Open Data" view in the Airflow UI (an Airflow plugin)
    {"triggers"},                   # the approval trigger (runs in the triggerer)
    {"operators"},                  # thin dataset tasks
    {"sensors"},                    # the deferrable approval sensor
    {"dag_factory"},                # one DAG per dataset file
    {"samples", "provider_info"},   # sample sources and worlds for the demo, tests and benches
    {"demo"},                       # the local stack
    {"cluster"},                    # the local stack distributed: Celery workers sharing no disk
    {"cli"},                        # the command line over all of it
    {"__main__"},                   # python -m opendata
]


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """Every ``opendata`` module ``module`` imports, wherever the import statement stands."""
    names: set[str] = set()
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {name for name in names if name == "opendata" or name.startswith("opendata.")}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "opendata"


def package_graph() -> dict[str, dict[str, set[str]]]:
    """package -> imported package -> the importing modules (for the failure message)."""
    known = _modules()
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for module, path in known.items():
        for target in _imported(module, path, known):
            if _unit(target) != _unit(module):
                graph[_unit(module)][_unit(target)].add(f"{module} -> {target}")
    return graph


def _layer_of() -> dict[str, int]:
    return {unit: index for index, layer in enumerate(LAYERS) for unit in layer}


def test_every_package_has_a_layer():
    units = {_unit(module) for module in _modules()} - {"opendata"}
    assert units - set(_layer_of()) == set(), "add the new package to LAYERS (where it belongs, bottom to top)"
    assert set(_layer_of()) - units == set(), "LAYERS names a package that no longer exists"


def test_no_package_imports_one_above_it_or_beside_it():
    layer = _layer_of()
    wrong = [f"{source} (layer {layer[source]}) imports {target} (layer {layer[target]}): " + "; ".join(sorted(via))
             for source, targets in package_graph().items() if source in layer
             for target, via in targets.items() if target in layer and layer[target] >= layer[source]]
    assert wrong == []


def test_no_import_cycle_between_packages():
    graph = {source: set(targets) for source, targets in package_graph().items()}
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    assert cycles == []


@pytest.mark.parametrize("source, target", [("lifecycle", "operators"), ("spec", "freshness"),
                                            ("registry", "freshness"), ("validation", "lifecycle"),
                                            ("sources", "validation"), ("notify", "lifecycle")])
def test_the_arrows_this_layout_removed_stay_removed(source, target):
    """The upward arrows of the earlier layout (issue 15), named so a regression reads plainly."""
    assert target not in package_graph().get(source, {})


def test_the_checker_sees_delayed_and_relative_imports(tmp_path):
    """The graph counts an import inside a function and a relative one (else it could pass blind)."""
    fake = {"opendata.spec.x": tmp_path / "x.py", "opendata.freshness.policy": tmp_path / "p.py",
            "opendata.spec.y": tmp_path / "y.py"}
    fake["opendata.spec.x"].write_text("def f():\n    from opendata.freshness.policy import T\n\nfrom .y import z\n")
    assert _imported("opendata.spec.x", fake["opendata.spec.x"], fake) == {"opendata.freshness.policy",
                                                                             "opendata.spec.y"}
