"""What YAML allows and a dataset file must not use, checked on the composed node tree before
any value is built.

* Duplicate keys: YAML loaders keep the last one silently (two ``name:`` keys, the second
  wins), so what a reviewer reads is not what is published. Refused with both lines.
* Aliases (``*name``) and merge keys (``<<``): a few lines of aliases expand into a document of
  billions of values ("billion laughs") or a loop, and a merge key overrides values the reader
  sees elsewhere. Dataset files are written out in full.
* Size of the document: at most ``MAX_NODES`` values, nested at most ``MAX_DEPTH`` deep, so
  validation time stays bounded whatever the file holds.

(Text that looks like a Jinja template is allowed: where dataset text is shown it is escaped and
never rendered as a template, see opendata.spec.markdown and the Step 1 operator.)

The walk is iterative: a deep file cannot exhaust Python's stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from opendata.spec.errors import Loc

# The samples have about 650 values each; a data dictionary of 2,000 columns stays well inside.
MAX_NODES = 50_000
# The deepest field of a dataset file is six levels down (quality.columns.<name>.<check>.values[i]).
MAX_DEPTH = 32

MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True)
class StructureProblem:
    loc: Loc
    message: str
    line: int | None
    # A fatal problem stops the file's check here: its values are not even built.
    fatal: bool = False


def structure_problems(root: yaml.Node | None, text: str = "", max_nodes: int = MAX_NODES,
                       max_depth: int = MAX_DEPTH) -> list[StructureProblem]:
    """Problems found in the node tree composed from ``text`` (sorted by line)."""
    if root is None:
        return []
    problems: list[StructureProblem] = []
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, Loc, int]] = [(root, (), 0)]
    count = 0
    while stack:
        node, loc, depth = stack.pop()
        line = node.start_mark.line + 1
        count += 1
        if count > max_nodes:
            return problems + [StructureProblem(
                (), f"the document holds more than {max_nodes:,} values; a dataset file describes data, "
                    f"it does not hold it", None, fatal=True)]
        if depth > max_depth:
            return problems + [StructureProblem(loc[:3], f"nested more than {max_depth} levels deep", line, fatal=True)]
        if id(node) in seen:
            # Composition hands an alias the node it names: the same node met twice is an alias.
            return problems + [_alias_problem(text, line)]
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first_line: dict[str, int] = {}
            for key, value in node.value:
                key_line = key.start_mark.line + 1
                if key.tag == MERGE_TAG:
                    return problems + [StructureProblem(
                        loc, "merge keys (<<) are not allowed: write the keys out", key_line, fatal=True)]
                if not isinstance(key, yaml.ScalarNode):
                    return problems + [StructureProblem(
                        loc, "a key must be plain text, not a list or a mapping", key_line, fatal=True)]
                if key.value in first_line:
                    problems.append(StructureProblem(
                        loc + (key.value,),
                        f"duplicate key {key.value!r} (lines {first_line[key.value]} and {key_line}): YAML keeps "
                        f"only the last one and drops the other silently; keep one", key_line))
                else:
                    first_line[key.value] = key_line
                stack.append((key, loc + (key.value,), depth + 1))
                stack.append((value, loc + (key.value,), depth + 1))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, loc + (i,), depth + 1) for i, item in enumerate(node.value))
    return sorted(problems, key=lambda problem: problem.line or 0)


def _alias_problem(text: str, anchored_line: int) -> StructureProblem:
    """Where the first alias is written (the node tree only knows where its anchor is)."""
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent):
                # The parser marks every event; the stubs allow an event built without marks.
                line = event.start_mark.line + 1 if event.start_mark is not None else anchored_line
                return StructureProblem((), f"YAML aliases (*{event.anchor}) are not allowed: write the value out",
                                        line, fatal=True)
    except yaml.YAMLError:
        pass
    return StructureProblem((), f"YAML aliases are not allowed: write the value out (the anchored value is at "
                                f"line {anchored_line})", anchored_line, fatal=True)


# --- the common case in one pass ------------------------------------------------------------------

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
# Plain scalars the loader builds with SafeConstructor's own functions (timestamps stay text).
_SCALARS = {"tag:yaml.org,2002:int": "construct_yaml_int", "tag:yaml.org,2002:float": "construct_yaml_float",
            "tag:yaml.org,2002:bool": "construct_yaml_bool", "tag:yaml.org,2002:null": "construct_yaml_null"}


class Unusual(Exception):
    """The document uses something the one-pass build leaves to the full checks."""


def plain_document(root: yaml.Node, constructor: yaml.constructor.SafeConstructor,
                   max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> object:
    """The document's values, when nothing in it is a structure problem: what
    ``constructor.construct_document(root)`` builds, in one walk that also does the checks of
    :func:`structure_problems` (with YAML's general constructor and that walk, a dataset file's
    values took twice as long). Raises :class:`Unusual` at the first thing that is not plain
    mappings, lists and core scalars without duplicate keys, aliases, merge keys or explicit
    tags, or at any limit: the caller then runs the full checks, which report it."""
    seen: set[int] = set()
    scalars = {tag: getattr(constructor, name) for tag, name in _SCALARS.items()}

    def build(node: yaml.Node, depth: int) -> object:
        if depth > max_depth or len(seen) >= max_nodes or id(node) in seen:
            raise Unusual
        seen.add(id(node))
        tag = node.tag
        if tag == _STR and isinstance(node, yaml.ScalarNode):
            return node.value
        if tag == _MAP and isinstance(node, yaml.MappingNode):
            mapping: dict[object, object] = {}
            keys: set[str] = set()
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value in keys:
                    raise Unusual
                keys.add(key_node.value)
                key = build(key_node, depth + 1)
                if key in mapping:  # "1" and "1.0", say: YAML keeps the last one
                    raise Unusual
                mapping[key] = build(value_node, depth + 1)
            return mapping
        if tag == _SEQ and isinstance(node, yaml.SequenceNode):
            return [build(item, depth + 1) for item in node.value]
        scalar = scalars.get(tag)
        if scalar is None or not isinstance(node, yaml.ScalarNode):
            raise Unusual
        return scalar(node)

    try:
        return build(root, 0)
    except Unusual:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. an integer of 5,000 digits: the full path says so
        raise Unusual from exc
