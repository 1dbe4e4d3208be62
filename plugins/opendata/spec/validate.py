"""Turn YAML text into a typed model, or into precise, hinted errors.

pydantic does the checking; this module translates its errors into the file's own terms:
the field path as written in YAML (without pydantic's internal union tags), the line it is
on, and a "did you mean" hint for misspelt keys and values.
"""

from __future__ import annotations

import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from opendata.spec.errors import Loc, SpecError, did_you_mean, expected_values

M = TypeVar("M", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """SafeLoader that leaves dates as text: pydantic parses them with far better messages
    than YAML's own constructor ("2025-13-01" would otherwise crash the parse)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlDocument:
    """A parsed YAML file that remembers where every key and value sits."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.root = yaml.compose(text, Loader=_Loader)
        self.data = yaml.load(text, Loader=_Loader) if self.root is not None else None

    @classmethod
    def read(cls, path: Path) -> YamlDocument:
        """Parse ``path``; a syntax error becomes a SpecError with the line and column."""
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SpecParseError(SpecError(path, (), f"cannot read file: {exc}")) from exc
        try:
            return cls(path, text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else None
            problem = getattr(exc, "problem", None) or str(exc)
            raise SpecParseError(SpecError(path, (), f"invalid YAML: {problem}", line=line)) from exc

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


class SpecParseError(Exception):
    def __init__(self, error: SpecError):
        self.error = error
        super().__init__(str(error))


def validate_document(model: type[M], doc: YamlDocument) -> tuple[M | None, list[SpecError]]:
    if not isinstance(doc.data, dict):
        found = "an empty file" if doc.data is None else type(doc.data).__name__
        return None, [SpecError(doc.path, (), f"expected a mapping of keys to values, found {found}", line=1)]
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        return None, translate_errors(model, exc, doc)


def translate_errors(model: type[BaseModel], exc: ValidationError, doc: YamlDocument) -> list[SpecError]:
    merged: dict[Loc, SpecError] = {}
    for err in exc.errors(include_url=False):
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


def _describe(err: dict[str, Any], parent_annotation: Any, loc: Loc) -> tuple[str, str | None]:
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
