"""Reading a dataset or governance file's bytes, refusing what could stall or mislead a parse.

Every DAG parse reads every dataset file, so one file must never be able to hold the parse up
or make it read what it should not:

* only regular files: a pipe named ``x.yaml`` would block the read forever, a device would
  never end; the file is opened non-blocking and checked again after opening;
* no symbolic link out of the include folder (a link to /etc/shadow is not a dataset file);
* a size limit (``OPENDATA_MAX_DATASET_FILE_BYTES``, 1 MiB): a 26 MB file once took 45 s to
  lint and pushed both DAG files past Airflow's import timeout; at most limit + 1 bytes are read
  whatever the file claims;
* UTF-8 text, without the Unicode controls that make a file display differently from what it
  says (bidirectional overrides, "Trojan Source"): reviewers approve what they see.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from opendata.spec.paths import is_within

# Bidirectional embeddings, overrides and isolates: they reorder how text is shown.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


class FileRefused(Exception):
    """The file cannot be read as a config file; the message says why, in the reader's terms."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class FileText:
    text: str
    # The opened file's status: what a cache keys the text by (it matches the bytes read).
    status: os.stat_result


def read_config_text(path: Path, root: Path | None, limit: int) -> FileText:
    """The text of ``path`` (a regular file under ``root``, at most ``limit`` bytes)."""
    try:
        before = os.stat(path)  # follows links: what is read is the target
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror}") from None
    if not stat.S_ISREG(before.st_mode):
        raise FileRefused("not a regular file (a folder, pipe or device named like a dataset file); "
                          "dataset files must be plain text files")
    if root is not None and not is_within(Path(os.path.realpath(path)), Path(os.path.realpath(root))):
        raise FileRefused("a symbolic link to a file outside the include folder; dataset files must be "
                          "in the include folder itself")
    _check_size(before.st_size, limit)
    try:
        # O_NONBLOCK: were the file swapped for a pipe since the check above, open and read return
        # at once instead of waiting for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise FileRefused(f"cannot read file: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise FileRefused("not a regular file; dataset files must be plain text files")
        _check_size(status.st_size, limit)
        data = handle.read(limit + 1)
    _check_size(len(data), limit, exact=False)  # it grew while being read
    return FileText(decode(data), status)


def decode(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FileRefused(f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
                          line) from None
    found = _BIDI_CONTROLS.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise FileRefused(f"contains the invisible Unicode control U+{ord(found.group()):04X}, which makes the "
                          f"file display differently from what it says; remove it", line)
    return text


def _check_size(size: int, limit: int, *, exact: bool = True) -> None:
    if size > limit:
        shown = f"{size:,} bytes" if exact else f"more than {limit:,} bytes"
        raise FileRefused(f"the file is {shown}, over the {limit:,}-byte limit for dataset files "
                          f"(OPENDATA_MAX_DATASET_FILE_BYTES); a dataset file describes data, it does not "
                          f"hold it: put rows in a source file")
