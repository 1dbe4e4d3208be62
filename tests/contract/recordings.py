"""Load the recorded Socrata responses in ``recordings/`` and compare JSON shapes.

A recording is one JSON file ``recordings/<name>.json``::

    {"source": {"repo", "path", "commit", "what", "kind", ...},
     "request": {"method", "path", "query", ...}, "status": 200 | null,
     "headers": {...}, "body": <decoded JSON body>}

``source.kind`` is ``recorded`` (captured from a live portal), ``documented-example`` (printed
in Socrata's docs, specs or official client README) or ``documented-schema`` (a skeleton built
only from an OpenAPI property list: its values are placeholders, only its keys and types mean
anything). Optional ``source.body_path`` says the body is that member of the real response
(e.g. ``"approvals"`` or ``"resource"``). ``status`` is null when the source does not say.

Helpers for contract tests (all pure, none touches the network or the mirrors):

- ``shape(value)``: a structural description of a JSON value.
- ``compare_shapes(recorded, actual)``: what ``actual`` lacks or types differently.
- ``extra_keys(recorded, actual)``: keys only ``actual`` has.
- ``key_paths(value)``: every dotted key path in a JSON value.
- ``KeyTracker(value)``: wraps a JSON value and records which key paths code reads.

Paths are dotted, with ``[]`` for "any item of a list": ``approvals[].submitter.id``;
a key of a top-level list item is ``[].countid``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "RECORDINGS_DIR",
    "KeyTracker",
    "Recording",
    "TrackedDict",
    "TrackedList",
    "all_recordings",
    "compare_shapes",
    "extra_keys",
    "key_paths",
    "load",
    "names",
    "shape",
]

RECORDINGS_DIR = Path(__file__).resolve().parent / "recordings"
KINDS = ("recorded", "documented-example", "documented-schema")


# ---------------------------------------------------------------------------------------------
# Loading


@dataclass(frozen=True)
class Recording:
    """One recorded (or documented) response. ``body`` is a fresh copy on every ``load``."""

    source: dict[str, Any]
    request: dict[str, Any]
    status: int | None
    headers: dict[str, Any]
    body: Any
    name: str = field(default="", compare=False)

    @property
    def kind(self) -> str:
        return self.source.get("kind", "")

    @property
    def body_path(self) -> str | None:
        """Dotted path of the real response that ``body`` is (None: the whole body)."""
        return self.source.get("body_path")

    def pick(self, actual_body: Any) -> Any:
        """The part of a whole actual response body that corresponds to ``body``.

        With no ``body_path`` this is ``actual_body`` itself; with ``body_path="approvals"`` it is
        ``actual_body["approvals"]`` (KeyError if absent), so ``compare_shapes(rec.body,
        rec.pick(emulator_body))`` works for every recording.
        """
        value = actual_body
        for part in (self.body_path or "").split("."):
            if part:
                value = value[part]
        return value

    def header(self, name: str, default: Any = None) -> Any:
        """A response header, looked up case-insensitively."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return default


@cache
def _read(name: str) -> str:
    path = RECORDINGS_DIR / f"{name}.json"
    if not path.is_file():
        known = ", ".join(names())
        raise FileNotFoundError(f"no recording {name!r} in {RECORDINGS_DIR} (known: {known})")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """Every recording's name (file stem), sorted."""
    return sorted(p.stem for p in RECORDINGS_DIR.glob("*.json"))


def load(name: str) -> Recording:
    """Load ``recordings/<name>.json`` (a trailing ``.json`` in ``name`` is accepted)."""
    name = name.removesuffix(".json")
    raw = json.loads(_read(name))
    missing = {"source", "request", "status", "headers", "body"} - raw.keys()
    if missing:
        raise ValueError(f"recording {name!r} lacks {sorted(missing)}")
    return Recording(
        source=raw["source"],
        request=raw["request"],
        status=raw["status"],
        headers=raw["headers"],
        body=raw["body"],
        name=name,
    )


def all_recordings() -> list[Recording]:
    """Every recording, sorted by name."""
    return [load(n) for n in names()]


# ---------------------------------------------------------------------------------------------
# Shapes


def _child(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


def _item(path: str) -> str:
    return f"{path}[]"


def _scalar_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def shape(value: Any) -> Any:
    """A structural description of a JSON value.

    - a mapping becomes a dict of key -> shape;
    - a list becomes ``[]`` when empty, otherwise ``[s]`` where ``s`` is the shape of the union of
      its items (object items merge their keys; an item type that varies gives a union);
    - a scalar becomes its JSON type name: ``"string"``, ``"number"``, ``"boolean"``, ``"null"``;
    - a union of different kinds is a tuple of the alternatives, e.g. ``("null", "string")``
      (sorted: scalars by name, then the object, then the array alternative).
    """
    if isinstance(value, Mapping):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        if not value:
            return []
        merged = shape(value[0])
        for item in value[1:]:
            merged = _union(merged, shape(item))
        return [merged]
    return _scalar_type(value)


def _alternatives(s: Any) -> list[Any]:
    return list(s) if isinstance(s, tuple) else [s]


def _kind(s: Any) -> str:
    if isinstance(s, dict):
        return "object"
    if isinstance(s, list):
        return "array"
    return s


def _union(a: Any, b: Any) -> Any:
    by_kind: dict[str, Any] = {}
    for alt in _alternatives(a) + _alternatives(b):
        k = _kind(alt)
        if k not in by_kind:
            by_kind[k] = alt
        elif k == "object":
            old = by_kind[k]
            by_kind[k] = {
                key: _union(old[key], alt[key]) if key in old and key in alt else old.get(key, alt.get(key))
                for key in {**old, **alt}
            }
        elif k == "array":
            old = by_kind[k]
            if not old:
                by_kind[k] = alt
            elif alt:
                by_kind[k] = [_union(old[0], alt[0])]
    order = sorted(k for k in by_kind if k not in ("object", "array")) + [
        k for k in ("object", "array") if k in by_kind
    ]
    alts = [by_kind[k] for k in order]
    return alts[0] if len(alts) == 1 else tuple(alts)


def _diff(rec: Any, act: Any, path: str, out: list[str]) -> None:
    rec_alts, act_alts = _alternatives(rec), _alternatives(act)
    rec_kinds = {_kind(a) for a in rec_alts} - {"null"}
    act_kinds = {_kind(a) for a in act_alts} - {"null"}
    where = path or "(root)"
    if rec_kinds and act_kinds and not act_kinds <= rec_kinds:
        out.append(
            f"type differs at {where}: recorded {'|'.join(sorted(rec_kinds))}, actual {'|'.join(sorted(act_kinds))}"
        )
        return
    rec_obj = next((a for a in rec_alts if isinstance(a, dict)), None)
    act_obj = next((a for a in act_alts if isinstance(a, dict)), None)
    if rec_obj is not None and act_obj is not None:
        for key, sub in rec_obj.items():
            if key not in act_obj:
                out.append(f"missing key: {_child(path, key)}")
            else:
                _diff(sub, act_obj[key], _child(path, key), out)
    rec_arr = next((a for a in rec_alts if isinstance(a, list)), None)
    act_arr = next((a for a in act_alts if isinstance(a, list)), None)
    if rec_arr and act_arr:  # both non-empty
        _diff(rec_arr[0], act_arr[0], _item(path), out)


def compare_shapes(recorded: Any, actual: Any) -> list[str]:
    """Differences between two JSON values' shapes, as human-readable lines.

    Takes JSON values (e.g. ``load(name).body`` and the emulator's response body), not shapes.
    Reports, recursively:

    - ``missing key: <path>``: a key the recorded value has and ``actual`` lacks (reported
      once, at its highest level);
    - ``type differs at <path>: recorded <kinds>, actual <kinds>``: ``actual`` gives a JSON type
      the recording never shows there. ``null`` on either side is compatible with any type, and
      an empty list on either side says nothing about the item shape.

    Keys only ``actual`` has are not differences here; see ``extra_keys``. Returns ``[]`` when
    ``actual`` has everything the recording shows.
    """
    out: list[str] = []
    _diff(shape(recorded), shape(actual), "", out)
    return out


def _extra(rec: Any, act: Any, path: str, out: list[str]) -> None:
    rec_obj = next((a for a in _alternatives(rec) if isinstance(a, dict)), None)
    act_obj = next((a for a in _alternatives(act) if isinstance(a, dict)), None)
    if rec_obj is not None and act_obj is not None:
        for key, sub in act_obj.items():
            if key not in rec_obj:
                out.append(_child(path, key))
            else:
                _extra(rec_obj[key], sub, _child(path, key), out)
    rec_arr = next((a for a in _alternatives(rec) if isinstance(a, list)), None)
    act_arr = next((a for a in _alternatives(act) if isinstance(a, list)), None)
    if rec_arr and act_arr:
        _extra(rec_arr[0], act_arr[0], _item(path), out)


def extra_keys(recorded: Any, actual: Any) -> list[str]:
    """Dotted paths of keys that ``actual`` has and the recorded value does not (sorted).

    Only the highest such key is listed (an extra object's own keys are not). Lists are
    compared item-union to item-union, so ``approvals[].reviewer`` means some item of
    ``actual``'s ``approvals`` has ``reviewer`` and no recorded item does. Where the recording
    has an empty list or a non-object, nothing below it is reported.
    """
    out: list[str] = []
    _extra(shape(recorded), shape(actual), "", out)
    return sorted(set(out))


def key_paths(value: Any) -> list[str]:
    """Every dotted key path in a JSON value, e.g. ``["approvals", "approvals[].state", ...]`` (sorted)."""
    out: set[str] = set()

    def walk(v: Any, path: str) -> None:
        if isinstance(v, Mapping):
            for k, sub in v.items():
                out.add(_child(path, k))
                walk(sub, _child(path, k))
        elif isinstance(v, (list, tuple)):
            for item in v:
                walk(item, _item(path))

    walk(value, "")
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# Key tracking


class _Log:
    def __init__(self) -> None:
        self.paths: dict[str, None] = {}  # insertion-ordered set
        self.paused = 0

    def add(self, path: str) -> None:
        if not self.paused:
            self.paths.setdefault(path, None)


class TrackedDict(dict):
    """A dict whose key reads are logged to its ``KeyTracker``.

    It is a real ``dict`` subclass, so ``isinstance(x, dict)`` and
    ``isinstance(x, collections.abc.Mapping)`` are both true and ``json.dumps`` works. Logged as
    a read of ``<path>.<key>``: ``d[key]``, ``d.get(key)``, ``key in d``, ``d.setdefault``,
    ``d.pop``. Logged as a read of every key: iterating (``for k in d``, ``list(d)``,
    ``dict(d)``, ``{**d}``), ``d.keys()``, ``d.items()``, ``d.values()``, ``d.copy()`` and
    ``json.dumps(d)`` (it calls ``items()``). ``len(d)``, ``bool(d)``, ``repr(d)`` and ``==`` are
    not logged. A read of an absent key is logged too (see ``KeyTracker.missing_reads``).

    Limitation: code that reads the dict through CPython's C API instead of its methods
    (``dict.get(d, k)`` called unbound, C extensions such as pydantic-core or orjson) is not
    seen.
    """

    __slots__ = ("_log", "_path")

    def __init__(self, data: Mapping[Any, Any], log: _Log, path: str) -> None:
        super().__init__({k: _wrap(v, log, _child(path, k)) for k, v in data.items()})
        self._log = log
        self._path = path

    def _read(self, key: Any) -> None:
        self._log.add(_child(self._path, key))

    def _read_all(self) -> None:
        for key in super().keys():
            self._read(key)

    def __getitem__(self, key: Any) -> Any:
        self._read(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._read(key)
        return super().__contains__(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        self._read(key)
        return super().setdefault(key, default)

    def pop(self, key: Any, *default: Any) -> Any:
        self._read(key)
        return super().pop(key, *default)

    def __iter__(self) -> Iterator[Any]:
        self._read_all()
        return super().__iter__()

    def keys(self):  # type: ignore[override]
        self._read_all()
        return super().keys()

    def items(self):  # type: ignore[override]
        self._read_all()
        return super().items()

    def values(self):  # type: ignore[override]
        self._read_all()
        return super().values()

    def copy(self) -> TrackedDict:  # type: ignore[override]
        self._read_all()
        new = TrackedDict.__new__(TrackedDict)
        dict.update(new, dict.items(self))
        new._log, new._path = self._log, self._path
        return new

    def __reduce__(self):  # pickling/deepcopy give a plain dict (tracking does not survive a copy)
        return (dict, (dict(dict.items(self)),))


class TrackedList(list):
    """A list whose items are tracked (``isinstance(x, list)`` is true); item paths end in ``[]``."""

    __slots__ = ()

    def __init__(self, data: list[Any] | tuple[Any, ...], log: _Log, path: str) -> None:
        super().__init__(_wrap(v, log, _item(path)) for v in data)

    def __reduce__(self):
        return (list, (list(list.__iter__(self)),))


def _wrap(value: Any, log: _Log, path: str) -> Any:
    if isinstance(value, Mapping):
        return TrackedDict(value, log, path)
    if isinstance(value, (list, tuple)):
        return TrackedList(value, log, path)
    return value


class KeyTracker:
    """Wrap a JSON value and record which dotted key paths code reads from it.

    ::

        tracker = KeyTracker(emulator_response_body)
        parse_view(tracker.value)            # the code under test
        assert "approvals[].state" in tracker.read_paths()

    ``value`` is a tracked deep copy: mappings become ``TrackedDict`` (a ``dict`` subclass, so
    both ``isinstance(x, dict)`` and ``isinstance(x, Mapping)`` hold), lists and tuples become
    ``TrackedList`` (a ``list`` subclass). ``json.dumps(tracker.value)`` and
    ``dict(tracker.value)`` work; both iterate keys, so they count as reading them; wrap such
    calls in ``with tracker.paused():`` to keep them out of the log. ``raw`` is the value as
    given.
    """

    def __init__(self, value: Any) -> None:
        self.raw = value
        self._log = _Log()
        self.value = _wrap(value, self._log, "")

    def read_paths(self) -> list[str]:
        """Every key path read so far (including reads of absent keys), sorted."""
        return sorted(self._log.paths)

    def missing_reads(self) -> list[str]:
        """Paths that code read but the wrapped value does not contain, sorted."""
        present = set(key_paths(self.raw))
        return sorted(p for p in self._log.paths if p not in present)

    def unread_paths(self) -> list[str]:
        """Key paths the wrapped value contains that no code read, sorted."""
        return sorted(p for p in key_paths(self.raw) if p not in self._log.paths)

    def reset(self) -> None:
        self._log.paths.clear()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Reads inside this block are not logged."""
        self._log.paused += 1
        try:
            yield
        finally:
            self._log.paused -= 1
