"""Shared building blocks of the typed config models."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, StringConstraints


class StrictModel(BaseModel):
    """Every config model rejects unknown keys: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]

# Keys used in file names, DAG ids and references between files.
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):  # match() would let a trailing newline through
        raise ValueError(
            "must be lower-case letters, digits, '-' or '_', starting with a letter or digit"
        )
    return value


Slug = Annotated[str, StringConstraints(min_length=1, max_length=100), AfterValidator(_slug)]


class Contact(StrictModel):
    name: NonEmptyStr
    email: EmailStr
