"""Turn YAML text into a typed model, or into precise, hinted errors.

pydantic does the checking; this module translates its errors into the file's own terms:
the field path as written in YAML (without pydantic's internal union tags), the line it is
on, and a "did you mean" hint for misspelt keys and values.
"""

from __future__ import annotations

import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from opendata.spec.errors import MAX_ERRORS_PER_FILE, Loc, SpecError, did_you_mean, expected_values
from opendata.spec.reading import FileRefused, read_config_text
from opendata.spec.structure import Unusual, plain_document, structure_problems
from opendata.spec.todo_check import TODO_PREFIX

M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: pydantic parses them with far better messages
    than YAML's own constructor ("2025-13-01" would otherwise crash the parse)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# PyYAML built without libyaml has no CSafeLoader (the type stubs always declare it).
_LIBYAML = hasattr(yaml, "CSafeLoader")
if TYPE_CHECKING or _LIBYAML:
    _CBase = yaml.CSafeLoader
else:
    _CBase = yaml.SafeLoader


class _FastLoader(_CBase):
    """The same rules on libyaml: about 50 times faster than the pure-Python parser (0.7 ms
    against 40 ms for a sample file), which is what keeps 5,000 files inside the DAG import
    timeout. Its nodes carry the same line marks."""


_FastLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers

def plain_yaml(text: str) -> Any:
    """A dataset file's YAML as plain data, by the loader lint uses (libyaml, dates left as
    text), without lint's line bookkeeping: for readers that only need the values (the
    freshness monitor, the JSON Schema's tests). Plain documents are built in one pass;
    anything unusual (duplicate keys, aliases, merge keys, tags) goes to YAML's constructor."""
    loader = _FastLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return plain_document(node, loader)
        except Unusual:
            return loader.construct_document(node)
    finally:
        loader.dispose()


# Below this size a syntax error is re-read by the pure-Python parser for its clearer wording
# ("expected ',' or ']', but got '<scalar>'"); above it that would cost seconds.
_WORDING_REPARSE_CHARS = 64 * 1024


class YamlDocument:
    """A parsed YAML file that remembers where every key and value sits."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.status: os.stat_result | None = None
        # Whether a "TODO:" left by `opendata new` may be in the values (opendata.spec.todo_check):
        # a substring search costs microseconds, a walk of every value of every file much more.
        # (A TODO spelt with YAML escapes is not one anybody left by accident.)
        self.may_hold_todo = TODO_PREFIX in text
        loader = _FastLoader(text)
        try:
            self.root = loader.get_single_node()
            if self.root is not None:
                try:
                    # The common case, one pass; anything unusual goes through the full checks.
                    self.problems: list[SpecError] = []
                    self.data = plain_document(self.root, loader)
                    return
                except Unusual:
                    pass
            found = structure_problems(self.root, text)
            self.problems = [SpecError(path, p.loc, p.message, line=p.line) for p in found]
            if any(p.fatal for p in found):
                raise SpecParseError(self.problems)
            self.data = loader.construct_document(self.root) if self.root is not None else None
        finally:
            loader.dispose()

    @classmethod
    def read(cls, path: Path, root: Path | None = None, limit: int | None = None) -> YamlDocument:
        """Parse ``path`` (a regular file under ``root``, at most ``limit`` bytes); anything
        wrong with it becomes a SpecError with the line and column when there is one."""
        from opendata import settings

        try:
            file = read_config_text(path, root, limit or settings.max_dataset_file_bytes())
        except FileRefused as exc:
            raise SpecParseError(SpecError(path, (), str(exc), line=exc.line)) from None
        doc = cls.parse(path, file.text)
        doc.status = file.status
        return doc

    @classmethod
    def parse(cls, path: Path, text: str) -> YamlDocument:
        try:
            return cls(path, text)
        except SpecParseError:
            raise
        except yaml.YAMLError as exc:
            raise SpecParseError(_syntax_error(path, text, exc)) from None
        except (ValueError, OverflowError, RecursionError, MemoryError) as exc:
            # A value YAML itself cannot build, e.g. an integer of more than 4,300 digits.
            raise SpecParseError(SpecError(path, (), f"invalid YAML: a value cannot be read "
                                           f"({type(exc).__name__}: {str(exc)[:200]})")) from None

    def line_of(self, loc: Loc) -> int | None:
        """1-based line of the deepest node on ``loc`` that exists in the file."""
        node = self.root
        # A key missing at the top level has no better place than the file itself.
        line = None if loc else (node.start_mark.line + 1 if node is not None else None)
        for part in loc:
            child = None
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    if key_node.value == str(part):
                        child = value_node
                        # A misplaced key is best pointed at by its own line.
                        line = key_node.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line


def _syntax_error(path: Path, text: str, exc: yaml.YAMLError) -> SpecError:
    if len(text) <= _WORDING_REPARSE_CHARS and _LIBYAML:
        try:
            yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError as worded:
            exc = worded
        except Exception:  # noqa: BLE001 - keep libyaml's own report
            pass
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark else None
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    if context and problem.startswith("but "):  # "but found another document" needs its first half
        problem = f"{context}, {problem}"
    return SpecError(path, (), f"invalid YAML: {problem}", line=line)


class SpecParseError(Exception):
    def __init__(self, errors: SpecError | list[SpecError]):
        self.errors = errors if isinstance(errors, list) else [errors]
        self.error = self.errors[0]
        super().__init__("\n".join(str(error) for error in self.errors))


def validate_document(model: type[M], doc: YamlDocument,
                      replace: Mapping[str, Any] | None = None) -> tuple[M | None, list[SpecError]]:
    """The typed model, or every error found (structure problems such as duplicate keys first).
    ``replace``: top-level values validated instead of the file's (the file's errors elsewhere
    are still all found)."""
    if not isinstance(doc.data, dict):
        found = "an empty file" if doc.data is None else type(doc.data).__name__
        return None, doc.problems + [
            SpecError(doc.path, (), f"expected a mapping of keys to values, found {found}", line=1)]
    try:
        validated = model.model_validate({**doc.data, **replace} if replace else doc.data)
    except ValidationError as exc:
        return None, doc.problems + translate_errors(model, exc, doc)
    return (None, doc.problems) if doc.problems else (validated, [])


def translate_errors(model: type[BaseModel], exc: ValidationError, doc: YamlDocument) -> list[SpecError]:
    merged: dict[Loc, SpecError] = {}
    for err in exc.errors(include_url=False):
        if len(merged) >= MAX_ERRORS_PER_FILE:
            # Locating and hinting thousands of errors (a file of garbage) would cost seconds.
            return list(merged.values()) + [SpecError(doc.path, (), "more errors follow; fix these first")]
        loc, annotation_at_parent = _walk(model, err["loc"])
        message, hint = _describe(err, annotation_at_parent, loc)
        error = SpecError(doc.path, loc, message, hint, doc.line_of(loc))
        previous = merged.get(loc)
        if previous is not None:
            # A union (a date or "current") reports once per alternative: say it once.
            if message not in previous.message:
                error = SpecError(doc.path, loc, f"{previous.message}; or {message}", previous.hint or hint,
                                  previous.line)
            else:
                error = previous
        merged[loc] = error
    return list(merged.values())


def _describe(err: ErrorDetails, parent_annotation: Any, loc: Loc) -> tuple[str, str | None]:
    kind = err["type"]
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    hint = None
    if kind == "extra_forbidden":
        message = "unknown field"
        hint = did_you_mean(loc[-1] if loc else None, _field_names(parent_annotation))
    elif kind in {"enum", "literal_error"}:
        hint = did_you_mean(err.get("input"), expected_values(err.get("ctx")))
    elif kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        message = f"unknown kind {ctx.get('tag')!r}; expected one of {ctx.get('expected_tags')}"
        hint = did_you_mean(ctx.get("tag"), expected_values({"expected": ctx.get("expected_tags", "")}))
    elif kind == "union_tag_not_found":
        message = f"required field {err.get('ctx', {}).get('discriminator', 'kind')} is missing"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_type" and isinstance(err.get("input"), (int, float, bool)):
        # YAML reads 311, 2024 or yes as numbers or booleans.
        message = f"expected text, found {err['input']!r}; put it in quotes"
    return message, hint


def _walk(model: type[BaseModel], raw_loc: tuple[Any, ...]) -> tuple[Loc, Any]:
    """Follow pydantic's error location through the model.

    Returns the location as the file spells it (union tags dropped) and the annotation of
    the parent of the last part, whose field names are the candidates for a misspelt key.
    """
    annotation: Any = model
    parent: Any = model
    shown: list[str | int] = []
    for part in raw_loc:
        parent = annotation
        annotation = _unwrap(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) if isinstance(part, str) else None
            shown.append(part)
            annotation = field.annotation if field else None
            if field is not None and field.discriminator:
                annotation = ("tagged", annotation)
            continue
        if isinstance(annotation, tuple) and annotation[0] == "tagged":
            member = _tagged_member(annotation[1], part)
            if member is not None:
                annotation = member
                continue  # the tag is pydantic's, not the file's: do not show it
        origin = typing.get_origin(annotation)
        if origin is list and isinstance(part, int):
            shown.append(part)
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            shown.append(part)
            annotation = typing.get_args(annotation)[1]
        else:
            # An alternative of a plain union (e.g. "date" of date | "current"): the error
            # belongs to the field itself.
            return tuple(shown), parent
    return tuple(shown), parent


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the type that carries fields."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _tagged_member(union: Any, tag: Any) -> type[BaseModel] | None:
    for member in typing.get_args(_unwrap_annotated(union)):
        if isinstance(member, type) and issubclass(member, BaseModel):
            kind = member.model_fields.get("kind")
            if kind is not None and tag in typing.get_args(kind.annotation):
                return member
    return None


def _unwrap_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _field_names(annotation: Any) -> list[str]:
    annotation = _unwrap(annotation)
    if isinstance(annotation, tuple) and annotation[0] == "tagged":
        names: set[str] = set()
        for member in typing.get_args(_unwrap_annotated(annotation[1])):
            names |= set(getattr(member, "model_fields", {}))
        return sorted(names)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []
