"""A dataset file's YAML text, written the way the bundled samples are: keys in the order given
(the model's field order), block style, long text folded at about 100 characters, dates as
YYYY-MM-DD, comment lines above the keys they explain, and the ``schema_version`` line last.

PyYAML's ``safe_dump`` cannot place comments and sorts or wraps in ways nobody would write by
hand, so the document is laid out here, line by line, and every scalar that is not plainly safe
is quoted by PyYAML's own emitter. What is written always reads back as the data given
(``yaml.safe_load(render_dataset_file(d)) == d``): each block scalar is checked on its own, and
the whole text once more before it is returned.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

# The spec reads files with libyaml when it is there; the round-trip checks use it too (fast).
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Where a comment goes: the keys and list positions from the root, like a SpecError's ``loc``;
#: ``()`` is the file's header.
Path_ = tuple[str | int, ...]

# Lines are folded at about this width, like the samples.
WIDTH = 100
# A list of short plain scalars is written in flow style ([a, b, c]) up to this width.
_FLOW_WIDTH = 90
INDENT = 2

_SCHEMA_VERSION_COMMENT = "The dataset-file schema this file is written for (include/dataset.schema.json)."

_INDICATORS = set("-?:,[]{}#&*!|>'\"%@`")
_FLOW_UNSAFE = set(",[]{}")
_RESOLVER = yaml.resolver.Resolver()
_STR_TAG = "tag:yaml.org,2002:str"


def render_dataset_file(data: Mapping[str, Any], *,
                        comments: Mapping[tuple[str | int, ...], str] | None = None) -> str:
    """The YAML text of a dataset file: ``data`` in its own order, ``comments[path]`` as ``#``
    lines above the key at ``path`` (``()``: at the top of the file), ``schema_version`` last
    (the current version when ``data`` has none)."""
    from opendata.spec.dataset import SCHEMA_VERSION

    comments = comments or {}
    body = {key: value for key, value in data.items() if key != "schema_version"}
    version = data.get("schema_version", SCHEMA_VERSION)
    lines: list[str] = _comment_lines(comments.get(()), 0)
    _mapping(body, 0, (), comments, lines)
    lines += ["", *_comment_lines(comments.get(("schema_version",), _SCHEMA_VERSION_COMMENT), 0),
              f"schema_version: {_scalar(version, flow=False)[0]}"]
    text = "\n".join(lines) + "\n"
    expected = {**data, "schema_version": version}
    if yaml.load(text, Loader=_SAFE_LOADER) != expected:  # noqa: S506 - a safe loader
        # A bug here, not the caller's: never write a file that says something else than asked.
        raise ValueError("the rendered dataset file does not read back as the data given")
    return text


def render_value(value: Any) -> str:
    """One value as it would stand after ``key: `` (for messages and tests)."""
    return "\n".join(_scalar(value, flow=False))


# --- layout -----------------------------------------------------------------------------------


def _mapping(data: Mapping[Any, Any], indent: int, path: Path_, comments: Mapping[Path_, str],
             lines: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        here = path + (key,)
        lines += _comment_lines(comments.get(here), indent)
        shown_key = _key(key)
        if _is_block_container(value):
            flow = _flow_list(value, indent + len(shown_key) + 2)
            if flow is not None:
                lines.append(f"{pad}{shown_key}: {flow}")
            else:
                lines.append(f"{pad}{shown_key}:")
                _container(value, indent + INDENT, here, comments, lines)
        else:
            first, *rest = _scalar(value, flow=False, indent=indent + INDENT)
            lines.append(f"{pad}{shown_key}: {first}")
            lines += rest


def _sequence(data: Sequence[Any], indent: int, path: Path_, comments: Mapping[Path_, str],
              lines: list[str]) -> None:
    pad = " " * indent
    for i, value in enumerate(data):
        here = path + (i,)
        lines += _comment_lines(comments.get(here), indent)
        if isinstance(value, Mapping) and value:
            item: list[str] = []
            _mapping(value, indent + INDENT, here, comments, item)
            # The item's first key goes on the dash line; comments above it move out to the dash.
            first = next(n for n, line in enumerate(item) if not line.lstrip().startswith("#"))
            lines += [line.replace(" " * (indent + INDENT), pad, 1) for line in item[:first]]
            lines.append(f"{pad}- {item[first][indent + INDENT:]}")
            lines += item[first + 1:]
        elif _is_block_container(value):
            lines.append(f"{pad}-")
            _container(value, indent + INDENT, here, comments, lines)
        else:
            first_line, *rest = _scalar(value, flow=False, indent=indent + INDENT)
            lines.append(f"{pad}- {first_line}")
            lines += rest


def _container(value: Any, indent: int, path: Path_, comments: Mapping[Path_, str], lines: list[str]) -> None:
    if isinstance(value, Mapping):
        _mapping(value, indent, path, comments, lines)
    else:
        _sequence(value, indent, path, comments, lines)


def _is_block_container(value: Any) -> bool:
    return isinstance(value, (Mapping, list, tuple)) and len(value) > 0


def _flow_list(value: Any, column: int) -> str | None:
    """``[a, b, c]`` for a short list of short plain scalars (tags, kinds, allowed values)."""
    if not isinstance(value, (list, tuple)) or not value:
        return None
    items = []
    for item in value:
        if isinstance(item, (Mapping, list, tuple)):
            return None
        shown = _scalar(item, flow=True)
        if len(shown) != 1:
            return None
        items.append(shown[0])
    text = "[" + ", ".join(items) + "]"
    return text if column + len(text) <= _FLOW_WIDTH else None


def _comment_lines(text: str | None, indent: int) -> list[str]:
    if not text:
        return []
    pad = " " * indent
    out = []
    for raw in text.splitlines():
        # A comment is one line each: a control character must not end it and start YAML.
        line = "".join(char if char.isprintable() else " " for char in raw).rstrip()
        out.append(f"{pad}# {line}" if line else f"{pad}#")
    return out


# --- scalars ----------------------------------------------------------------------------------


def _key(key: Any) -> str:
    if isinstance(key, str):
        return _plain(key, flow=True) or _double_quoted(key)
    return _scalar(key, flow=True)[0]


def _scalar(value: Any, *, flow: bool, indent: int = INDENT) -> list[str]:
    """The value's lines: the first goes after ``key: `` or ``- ``, the rest are block content."""
    if value is None:
        return ["null"]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int):
        return [str(value)]
    if isinstance(value, float):
        if math.isnan(value):
            return [".nan"]
        if math.isinf(value):
            return [".inf" if value > 0 else "-.inf"]
        return [repr(value)]
    if isinstance(value, dt.datetime):
        return [value.isoformat(sep="T")]
    if isinstance(value, dt.date):
        return [value.isoformat()]
    if isinstance(value, Mapping) and not value:
        return ["{}"]
    if isinstance(value, (list, tuple)) and not value:
        return ["[]"]
    if not isinstance(value, str):
        raise TypeError(f"cannot write a {type(value).__name__} in a dataset file")
    plain = _plain(value, flow=flow)
    if plain is not None and (flow or len(plain) + indent <= WIDTH):
        return [plain]
    if not flow:
        block = _block(value, indent)
        if block is not None:
            return block
    return [plain if plain is not None else _double_quoted(value)]


def _plain(value: str, *, flow: bool) -> str | None:
    """``value`` unquoted, when YAML reads that back as the same text and it fits on a line."""
    if (not value or value != value.strip() or not value.isprintable() or value[0] in _INDICATORS
            or ": " in value or " #" in value or value.endswith(":")
            or (flow and _FLOW_UNSAFE & set(value))):
        return None
    # Text YAML would read as something else (yes, no, null, 1e3, 2024-01-01, ~, =, <<).
    if _RESOLVER.resolve(yaml.ScalarNode, value, (True, False)) != _STR_TAG:
        return None
    return value


def _double_quoted(value: str) -> str:
    # PyYAML's emitter escapes whatever must be (newlines, controls, quotes, line separators).
    text = yaml.dump(value, Dumper=yaml.SafeDumper, default_style='"', allow_unicode=True,
                     width=math.inf)
    return text.rstrip("\n").removesuffix("\n...")


_SPACE_RUN = re.compile(r" {2,}|\t")


def _block(value: str, indent: int) -> list[str] | None:
    """Long text folded (``>-``), text of several lines literal (``|``/``|-``), when the block
    reads back exactly as ``value``; None otherwise (it is then double-quoted)."""
    if not value or not value.replace("\n", "").isprintable() or value[0] in " \n":
        return None
    pad = " " * indent
    if "\n" in value:
        body = value[:-1] if value.endswith("\n") else value
        if body.endswith("\n") or any(line != line.rstrip() for line in body.split("\n")):
            return None
        header = "|" if value.endswith("\n") else "|-"
        lines = [header] + [pad + line if line else "" for line in body.split("\n")]
    else:
        if len(value) + indent <= WIDTH or _SPACE_RUN.search(value) or value != value.strip():
            return None
        lines = [">-"] + [pad + line for line in _fold(value, WIDTH - indent)]
    return lines if _reads_back(lines, value) else None


def _fold(text: str, width: int) -> list[str]:
    """Words (split at single spaces) gathered into lines of at most ``width`` characters."""
    out: list[str] = []
    current = ""
    for word in text.split(" "):
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return out


def _reads_back(lines: list[str], value: str) -> bool:
    # The block's lines are indented for their place; as "k: <block>" at the top level they read the same.
    try:
        loaded = yaml.load("k: " + "\n".join(lines) + "\n", Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return False
    return isinstance(loaded, dict) and loaded.get("k") == value
