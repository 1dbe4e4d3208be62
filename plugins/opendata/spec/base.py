"""Shared building blocks of the typed config models."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic.networks import validate_email


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


@lru_cache(maxsize=8192)
def _email(value: str) -> str:
    # pydantic's EmailStr check, remembered: it costs ~0.2 ms an address, and the same stewards and
    # contacts appear in many dataset files (a refused address raises and is not remembered).
    return validate_email(value)[1]


# Exactly pydantic's EmailStr (the same validator, messages and normalised address).
Email = Annotated[str, AfterValidator(_email)]


class Contact(StrictModel):
    name: NonEmptyStr
    email: Email
