"""Writing a drafted dataset file to ``include/datasets/<department>/<id>.yaml``.

The id and department become a path, so they are checked as slugs before any path is built (an
id such as ``../../etc/x`` never reaches the file system). A file is never replaced by accident:
an existing file, or another department's file holding the same id (the loader would refuse the
newcomer), stops the write unless ``overwrite`` is given. The write is atomic: a DAG parse running
at the same moment sees no file or the whole file, never half of one.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from opendata.fileio import write_atomically
from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.render import render_dataset_file
from opendata.spec.loader import dataset_files

# The spec's Slug rule (opendata.spec.base): file names, DAG ids and references between files.
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,99}")


def check_slug(value: str, what: str) -> str:
    if not isinstance(value, str) or not _SLUG.fullmatch(value):
        raise ScaffoldError(f"{what} {value!r} must be lower-case letters, digits, '-' or '_', starting with a "
                            f"letter or digit, at most 100 characters (it names the file and the DAG)")
    return value


def dataset_path(include_dir: Path, department: str, dataset_id: str) -> Path:
    """Where the dataset file of ``dataset_id`` goes (both checked as slugs first)."""
    check_slug(department, "department")
    check_slug(dataset_id, "dataset id")
    return include_dir / "datasets" / department / f"{dataset_id}.yaml"


def write_dataset_file(include_dir: Path, data: Mapping[str, Any], *,
                       comments: Mapping[tuple[str | int, ...], str] | None = None,
                       overwrite: bool = False) -> Path:
    """Write ``data`` (with ``comments``) as the dataset file of ``data["id"]``; its path."""
    target = dataset_path(include_dir, str(data.get("department")), str(data.get("id")))
    claim_check(include_dir, target, overwrite=overwrite)
    text = render_dataset_file(data, comments=comments)
    if overwrite:
        write_atomically(target, text, public=True)
    else:
        _write_new(target, text)
    return target


def claim_check(include_dir: Path, target: Path, *, overwrite: bool) -> None:
    """Refuse a target that exists (unless ``overwrite``), or an id another file holds."""
    dataset_id = target.stem
    others = [path for path in dataset_files(include_dir / "datasets")
              if path.stem == dataset_id and path.resolve() != target.resolve()]
    if others:
        raise ScaffoldError(f"dataset id {dataset_id!r} is already held by {others[0]}; ids are unique across "
                            f"departments (the id is the DAG id): choose another id")
    if target.exists() and not overwrite:
        raise ScaffoldError(f"{target} already exists; give --overwrite to replace it, or choose another id")


def _write_new(target: Path, text: str) -> None:
    """Write ``target`` only if nothing is there, atomically: a hard link of a complete temporary
    file fails if the name was taken meanwhile (a rename would silently replace it)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise ScaffoldError(f"{target} already exists; give --overwrite to replace it, or choose "
                                f"another id") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
