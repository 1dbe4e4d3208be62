"""The hook's one door: the rest of the package talks to the portal through public methods.

``SocrataHook`` (``portal/hook.py``) owns the connection, the sodapy client and the session;
``portal/transport.py`` holds the session (:class:`SocrataSession`) and its adapter. Every other
module sends its requests through ``hook.session.request(...)`` or a public hook method, and
does not reach into the hook (``hook._request``, ``hook._sodapy``, ``hook.adapter``,
``hook.config``, any other underscore name). The modules the hook imports do not import it
back, not even for type checking or inside a function: no circle between the hook and
``revisions.py`` or ``assets.py``.

Read from the source with ``ast`` (every ``.py`` under ``plugins/opendata``), so a call that
is never run by a test is still seen.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import opendata
from opendata.portal.hook import SocrataHook
from opendata.portal.transport import SocrataSession

PACKAGE = Path(opendata.__file__).resolve().parent
#: The two modules allowed to use the hook's and the session's insides.
OWNERS = {"portal/hook.py", "portal/transport.py"}
#: Attributes of a hook that are its insides, whatever their spelling (underscore names too).
INSIDES = {"adapter", "config"}
def _receiver_name(node: ast.expr) -> str | None:
    """The name an attribute is read from: ``hook`` in ``hook.config``, ``self.hook.config``,
    ``self._hook.config`` and ``portal_hook().config``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _receiver_name(node.func)
    return None


def reaches(source: str) -> list[tuple[int, str]]:
    """``(line, what)`` for every reach into the hook in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Attribute):
            continue
        if node.attr in ("_request", "_sodapy"):  # the old private doors, on whatever object
            found.append((node.lineno, node.attr))
            continue
        receiver = _receiver_name(node.value)
        if receiver is None or "hook" not in receiver.lower():
            continue
        private = node.attr.startswith("_") and not node.attr.startswith("__")
        if private or node.attr in INSIDES:
            found.append((node.lineno, node.attr))
    return sorted(found)


def _package_reaches() -> dict[str, list[tuple[int, str]]]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name in OWNERS:
            continue
        found = reaches(path.read_text())
        if found:
            out[name] = found
    return out


def test_no_module_reaches_into_the_hook():
    wrong = [f"{name}: " + ", ".join(f"line {line} .{what}" for line, what in found)
             for name, found in _package_reaches().items()]
    assert wrong == [], "use hook.session.request(...) or a public hook method"


@pytest.mark.parametrize("public", ["base_url", "approval_changes_audience", "catalog_lag_seconds",
                                    "visibility_wait_seconds"])
def test_the_settings_callers_need_are_public_properties_of_the_hook(public):
    """What operators, the run-time helpers and the monitor read instead of ``hook.config``."""
    assert isinstance(getattr(SocrataHook, public, None), property), public


def test_the_checker_sees_every_kind_of_reach():
    source = (
        "def f(hook, self, portal_hook):\n"
        "    hook._request('GET', '/x')\n"
        "    self.hook.adapter.retries\n"
        "    self._hook.config.base_url\n"
        "    portal_hook().config\n"
        "    hook._make_adapter(None)\n"
        "    anything._sodapy('x', None)\n"
        "    hook.session.request('GET', '/x')\n"  # the public door: not a reach
        "    hook.session.config.host_header\n"  # the session's own settings: not a reach
        "    hook.__class__\n"
    )
    assert reaches(source) == [(2, "_request"), (3, "adapter"), (4, "config"), (5, "config"),
                               (6, "_make_adapter"), (7, "_sodapy")]


# -- no circle between the hook and the modules it delegates to --------------------------------------
def _portal_imports(path: Path) -> set[str]:
    """Every ``opendata.portal`` module ``path`` imports, wherever the import stands (inside a
    function or under ``if TYPE_CHECKING:`` too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(["opendata", "portal"][: 3 - node.level] + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    modules = {f"opendata.portal.{p.stem}" for p in (PACKAGE / "portal").glob("*.py")}
    return {name for name in names if name in modules}


def _portal_graph() -> dict[str, set[str]]:
    return {f"opendata.portal.{p.stem}": _portal_imports(p) for p in (PACKAGE / "portal").glob("*.py")}


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_module_the_hook_imports_imports_the_hook():
    graph = _portal_graph()
    hook = "opendata.portal.hook"
    below = _reachable(graph, hook)
    assert {"opendata.portal.revisions", "opendata.portal.assets", "opendata.portal.transport"} <= below
    assert sorted(m for m in below if hook in graph[m]) == []
    assert hook not in below  # no cycle through the hook, however long


def test_revisions_and_assets_do_not_mention_the_hook_module():
    for name in ("revisions.py", "assets.py", "transport.py", "aio.py"):
        assert "opendata.portal.hook" not in _portal_imports(PACKAGE / "portal" / name), name


def test_the_import_reader_sees_delayed_and_type_checking_imports(tmp_path):
    fake = tmp_path / "x.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from opendata.portal.hook import SocrataHook\n"
        "def f():\n    from .transport import SocrataSession\n"
    )
    assert _portal_imports(fake) == {"opendata.portal.hook", "opendata.portal.transport"}


# -- the one public request method -------------------------------------------------------------------
def test_the_hook_has_no_private_request_door_left():
    for gone in ("_request", "_sodapy", "_send", "_decode", "_mode"):
        assert not hasattr(SocrataHook, gone), gone
    assert isinstance(SocrataHook.session, property)
    assert SocrataHook.session.fget.__annotations__["return"] in ("SocrataSession", SocrataSession)
