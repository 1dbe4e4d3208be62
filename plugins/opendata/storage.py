"""The store: where everything shared between tasks, runs, machines, the Open Data view and
e-mails is kept (staged extracts and their fingerprints, checklist reports, the archive,
data.json, quarterly reports).

One root, ``OPENDATA_STORAGE_URL`` (:func:`opendata.settings.storage_url`), reached through
Airflow's ``ObjectStoragePath`` with the connection ``OPENDATA_STORAGE_CONN_ID``: a local
folder by default, ``s3://``, ``gs://`` or ``abfs://`` through Airflow's providers in a
deployment whose workers share no disk. Two tasks of one run may execute on two machines, days
apart: nothing is ever read from a path another worker wrote to its own disk.

The code that reads Parquet by row group or memory-maps fingerprints works on local files.
:func:`local_copy` gives it one: a local location is used in place (the single-machine default
makes no copies: the demo, the tests and the benches keep their speed), a remote one is
downloaded, in chunks, into the task's own scratch folder (``OPENDATA_SCRATCH_DIR``), once per
task. Files written for the store are prepared the same way (:func:`work_file`, then
:func:`store`). The scratch folder of a task is removed when the task ends (:func:`scratch`), so
a busy worker's disk does not fill up.

Locations handed between tasks (XCom) and recorded in the registry are text
(:func:`recorded`): a plain path for a local file (as before the store existed, so old XComs
and registry rows still read), the URL without connection id for a remote object.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from opendata import fileio, settings

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath

log = logging.getLogger(__name__)

#: Bytes moved per read or write when a file goes to or comes from a remote store; S3 multipart
#: parts are this size (its minimum part is 5 MiB). Memory for a transfer stays about one chunk.
CHUNK_BYTES = 8 * 1024 * 1024

_LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class StorageError(OSError):
    """The store could not be reached or refused an operation; the message names the location
    (never credentials). An OSError, so code that tolerates a missing local file tolerates it."""


class StoredFileMissing(StorageError, FileNotFoundError):
    """No object (or file) at the location."""


# --- locations -------------------------------------------------------------------------------

def resolve(where: str | os.PathLike[str] | ObjectStoragePath) -> ObjectStoragePath:
    """A location as an ``ObjectStoragePath``: a plain path or ``file://`` URL is a local file; any
    other URL is an object in the store, reached with ``OPENDATA_STORAGE_CONN_ID``."""
    from airflow.sdk import ObjectStoragePath

    if isinstance(where, ObjectStoragePath):
        return where
    text = os.fspath(where)
    if not _SCHEME.match(text):
        return ObjectStoragePath(f"file://{Path(text).absolute()}")
    if text.startswith(("file://", "local://")):
        return ObjectStoragePath(text)
    return ObjectStoragePath(text, conn_id=settings.storage_conn_id())


def root() -> ObjectStoragePath:
    """The store's root (``OPENDATA_STORAGE_URL``)."""
    return _configured("OPENDATA_STORAGE_URL", settings.storage_url())


def _configured(variable: str, value: str) -> ObjectStoragePath:
    """A location a setting names; a scheme no installed provider serves is named with the
    setting (rather than failing at the first read, deep in a task)."""
    scheme = value.split("://", 1)[0].lower() if _SCHEME.match(value) else ""
    if scheme not in _LOCAL_PROTOCOLS:
        from airflow.sdk.io import has_fs

        if not has_fs(scheme):
            raise StorageError(f"{variable}={value!r}: no file system for {scheme}:// is installed "
                               f"(s3:// needs apache-airflow-providers-amazon[s3fs], gs:// the google provider, "
                               f"abfs:// the microsoft-azure provider)")
    return resolve(value)


def location(*parts: str) -> ObjectStoragePath:
    """``parts`` under the store's root; each part must be a safe name (:func:`safe_part`)."""
    return join(root(), *parts)


def join(base: ObjectStoragePath, *parts: str) -> ObjectStoragePath:
    """``parts`` under ``base``. A part with a separator or a dot name is refused: names inside
    the store are built only from dataset ids (validated) and parts made safe here."""
    for part in parts:
        if not part or "/" in part or "\\" in part or part in (".", ".."):
            raise ValueError(f"{part!r} is not a safe name inside the store")
    return base.joinpath(*parts) if parts else base


def safe_part(text: str) -> str:
    """``text`` as a name inside the store: anything but letters, digits, ``_.-`` becomes ``_``,
    and a name of dots only (``.``, ``..``) is kept from meaning a folder."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", text)
    return safe if safe.strip(".") else safe.replace(".", "_") or "_"


def staging_root() -> ObjectStoragePath:
    return _configured("OPENDATA_STAGING_DIR", settings.staging_url())


def archive_root() -> ObjectStoragePath:
    return _configured("OPENDATA_ARCHIVE_DIR", settings.archive_url())


def fingerprints_root() -> ObjectStoragePath:
    return _configured("OPENDATA_STORAGE_URL", settings.fingerprints_url())


def reports_root() -> ObjectStoragePath:
    return _configured("OPENDATA_REPORTS_DIR", settings.reports_url())


def data_json() -> ObjectStoragePath:
    return _configured("OPENDATA_DATA_JSON_PATH", settings.data_json_url())


def is_local(where: ObjectStoragePath) -> bool:
    """Whether the location is on this machine's file system (then it is used in place)."""
    return where.protocol in _LOCAL_PROTOCOLS


def local_path(where: ObjectStoragePath) -> Path:
    """The local file of a local location (ValueError for a remote one)."""
    if not is_local(where):
        raise ValueError(f"{recorded(where)} is not on this machine's file system")
    return Path(where.path)


def recorded(where: ObjectStoragePath | str | os.PathLike[str]) -> str:
    """The location as text for XCom, the registry and logs: a plain path for a local file, the
    URL without its connection id for an object (the connection is a setting, not data)."""
    where = resolve(where)
    if is_local(where):
        return where.path
    return f"{where.protocol}://{where.path}"


def is_within(where: ObjectStoragePath, base: ObjectStoragePath) -> bool:
    """Whether ``where`` is inside ``base``, in the same store (locally: links resolved, so a
    link out of ``base`` is outside)."""
    if is_local(where) != is_local(base):
        return False
    if is_local(where):
        return Path(os.path.realpath(where.path)).is_relative_to(os.path.realpath(base.path))
    if where.protocol != base.protocol:
        return False
    inner, outer = where.path.rstrip("/"), base.path.rstrip("/")
    return inner.startswith(outer + "/") and ".." not in inner[len(outer):].split("/")


# --- errors ----------------------------------------------------------------------------------

@contextlib.contextmanager
def _named(where: ObjectStoragePath, doing: str) -> Iterator[None]:
    """Any failure of the store as a StorageError naming the location and what was being done."""
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StoredFileMissing(f"{doing} {recorded(where)}: no such file in the store") from exc
    except Exception as exc:
        if _is_missing(exc):
            raise StoredFileMissing(f"{doing} {recorded(where)}: no such file in the store") from exc
        raise StorageError(f"{doing} {recorded(where)} failed: {type(exc).__name__}: {_reason(exc)}") from exc


def _is_missing(exc: BaseException) -> bool:
    code = getattr(exc, "response", {}) or {}
    error = code.get("Error", {}) if isinstance(code, dict) else {}
    return str(error.get("Code", "")) in ("404", "NoSuchKey", "NotFound")


def _reason(exc: BaseException) -> str:
    # botocore and aiohttp name the endpoint and the bucket, never the keys; one line is enough.
    return (str(exc).splitlines() or [""])[0][:300] or "no detail"


# --- whole small files -----------------------------------------------------------------------

def exists(where: ObjectStoragePath) -> bool:
    """Whether a file (or object) is at the location. A remote store is asked afresh: another
    worker may have written it since this process last looked."""
    if is_local(where):
        return Path(where.path).is_file()
    with _named(where, "looking for"):
        where.fs.invalidate_cache(where.path)
        return bool(where.fs.isfile(where.path))


def size(where: ObjectStoragePath) -> int:
    with _named(where, "reading the size of"):
        if is_local(where):
            return Path(where.path).stat().st_size
        where.fs.invalidate_cache(where.path)
        return int(where.fs.size(where.path))


def read_bytes(where: ObjectStoragePath) -> bytes:
    """A small file's bytes (reports, data.json; never an extract: use :func:`local_copy`)."""
    with _named(where, "reading"):
        if is_local(where):
            return Path(where.path).read_bytes()
        where.fs.invalidate_cache(where.path)
        with where.fs.open(where.path, "rb") as handle:
            return bytes(handle.read())


def read_text(where: ObjectStoragePath) -> str:
    return read_bytes(where).decode("utf-8")


def write_bytes(where: ObjectStoragePath, data: bytes, *, public: bool = False, durable: bool = False) -> None:
    """Replace the file at ``where`` with ``data``, atomically: locally through a temporary file
    renamed over it (``public``/``durable`` as :func:`opendata.fileio.write_atomically`); an
    object is replaced by one PUT, which readers see whole or not at all."""
    with _named(where, "writing"):
        if is_local(where):
            fileio.write_atomically(Path(where.path), data, public=public, durable=durable)
            return
        where.fs.pipe_file(where.path, data)


def write_text(where: ObjectStoragePath, text: str, **options: bool) -> None:
    write_bytes(where, text.encode("utf-8"), **options)


def delete(where: ObjectStoragePath) -> None:
    """Remove the file (nothing if it is gone already). Only archive pruning deletes."""
    with _named(where, "deleting"):
        if is_local(where):
            Path(where.path).unlink(missing_ok=True)
            return
        try:
            where.fs.rm_file(where.path)
        except FileNotFoundError:
            pass


def files_under(folder: ObjectStoragePath) -> set[str]:
    """The ``.path`` of every file below ``folder``, in one listing (a remote store asked afresh)."""
    with _named(folder, "listing"):
        if is_local(folder):
            return {str(path) for path in Path(folder.path).rglob("*") if path.is_file()}
        folder.fs.invalidate_cache(folder.path)
        return {str(path) for path in folder.fs.find(folder.path)}


# --- whole files, streamed -------------------------------------------------------------------

def upload(local_file: Path, target: ObjectStoragePath) -> None:
    """Copy ``local_file`` to ``target`` a chunk at a time (S3: a multipart upload of
    ``CHUNK_BYTES`` parts, completed only when every part arrived, so readers never see half a
    file; a failure aborts it). A local target is written under a temporary name and renamed."""
    with _named(target, "storing"):
        if is_local(target):
            _copy_local(local_file, Path(target.path))
            return
        with open(local_file, "rb") as source:
            _stream_to(source, target)
    log.info("Stored %s (%s bytes) at %s", local_file.name, f"{local_file.stat().st_size:,}", recorded(target))


def _stream_to(source: BinaryIO, target: ObjectStoragePath) -> None:
    sink = target.fs.open(target.path, "wb", block_size=CHUNK_BYTES)
    try:
        shutil.copyfileobj(source, sink, CHUNK_BYTES)
    except BaseException:
        # Abort the multipart upload: closing the file would complete it with half the data.
        sink.discard()
        sink.closed = True
        raise
    sink.close()


def download(where: ObjectStoragePath, scratch_file: Path) -> Path:
    """Copy the file at ``where`` to ``scratch_file`` as it streams in (one GET read in small
    pieces; never whole in memory), under a temporary name first; returns ``scratch_file``."""
    scratch_file.parent.mkdir(parents=True, exist_ok=True)
    partial = scratch_file.with_name(scratch_file.name + ".partial")
    with _named(where, "downloading"):
        if is_local(where):
            _copy_local(Path(where.path), scratch_file)
            return scratch_file
        where.fs.invalidate_cache(where.path)
        try:
            if _is_s3(where):
                # One GET streamed to the file 64 KiB at a time (s3fs's sequential download).
                # s3fs's default, ranged parts fetched 10 at a time, holds them all until written:
                # up to 500 MiB of a large file (measured: 450 MB peak for a 256 MiB file).
                where.fs.get_file(where.path, str(partial), chunksize=CHUNK_BYTES, max_concurrency=1)
            else:
                with where.fs.open(where.path, "rb", block_size=CHUNK_BYTES) as source, open(partial, "wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK_BYTES)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, scratch_file)
    return scratch_file


def _is_s3(where: ObjectStoragePath) -> bool:
    protocols = where.fs.protocol
    return "s3" in ((protocols,) if isinstance(protocols, str) else tuple(protocols))


def copy(source: ObjectStoragePath, target: ObjectStoragePath) -> None:
    """Copy a stored file to another location: inside one remote store without passing through
    this machine (S3: a server-side copy); from a local file, an upload; else through scratch."""
    if is_local(source):
        upload(Path(source.path), target)
        return
    if not is_local(target) and source.protocol == target.protocol and source.conn_id == target.conn_id:
        with _named(source, f"copying to {recorded(target)}"):
            source.fs.copy(source.path, target.path)
        return
    upload(local_copy(source), target)


def _copy_local(source: Path, target: Path) -> None:
    # Copied whole a block at a time (never read into memory), under a temporary name first, so
    # a crash leaves the previous file.
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copyfile(source, partial)
    os.replace(partial, target)


# --- a task's scratch folder -----------------------------------------------------------------

@dataclass
class Scratch:
    """One task's scratch folder, and the files already downloaded into it (by location)."""

    folder: Path
    downloaded: dict[str, Path] = field(default_factory=dict)

    def file_for(self, where: ObjectStoragePath) -> Path:
        """The file in this folder that stands for ``where`` (the same key below the folder, so
        files of one stored folder sit in one local folder, as their readers expect)."""
        key = f"{where.protocol}/{where.path}".lstrip("/")
        parts = [safe_part(part) for part in key.split("/") if part]
        return self.folder.joinpath(*parts)


_CURRENT: contextvars.ContextVar[Scratch | None] = contextvars.ContextVar("opendata_scratch", default=None)


@contextlib.contextmanager
def scratch() -> Iterator[Scratch]:
    """A scratch folder for the work inside the block (a task's), removed when it ends however
    it ends; inside an open one, that one. Nothing is created until a file is needed there."""
    current = _CURRENT.get()
    if current is not None:
        yield current
        return
    base = settings.scratch_dir()
    base.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="task-", dir=base))
    opened = Scratch(folder)
    token = _CURRENT.set(opened)
    try:
        yield opened
    finally:
        _CURRENT.reset(token)
        shutil.rmtree(folder, ignore_errors=True)


def _current_scratch() -> Scratch:
    current = _CURRENT.get()
    if current is None:
        raise RuntimeError("a file of a remote store is needed outside a scratch folder: wrap the work in "
                           "opendata.storage.scratch() (dataset tasks do)")
    return current


def local_copy(where: ObjectStoragePath | str | os.PathLike[str]) -> Path:
    """A local file with the contents stored at ``where``: the file itself when the location is
    local (as is: its reader finds out whether it is there, as before the store existed), else a
    download into the task's scratch folder, made at most once per task (StoredFileMissing when
    the store has no such object)."""
    where = resolve(where)
    if is_local(where):
        return Path(where.path)
    current = _current_scratch()
    key = recorded(where)
    found = current.downloaded.get(key)
    if found is None or not found.is_file():
        found = download(where, current.file_for(where))
        current.downloaded[key] = found
    return found


def work_file(where: ObjectStoragePath) -> Path:
    """Where to write a file that is to be kept at ``where``: the location itself when local,
    else its place in the task's scratch folder (then :func:`store` uploads it)."""
    if is_local(where):
        return Path(where.path)
    path = _current_scratch().file_for(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def store(written: Path, where: ObjectStoragePath) -> None:
    """Keep the file written at ``work_file(where)``: nothing to do for a local location, an upload
    for a remote one (then the scratch copy serves this task's own later reads)."""
    if is_local(where) and Path(where.path) == written:
        return
    upload(written, where)
    if not is_local(where):
        current = _CURRENT.get()
        if current is not None:
            current.downloaded[recorded(where)] = written
