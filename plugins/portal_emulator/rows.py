"""Row storage semantics of SODA2: upsert, replace, ``:deleted``, row identifiers, the upsert report.

Matching follows the portal: on the publisher row identifier column when the dataset has one,
else on ``:id``; a row with neither is appended. Work per request is proportional to the request
(existing rows are looked up by key in batches, never loaded wholesale), so memory stays flat.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from . import ids
from .datatypes import (
    BadValue,
    normalize_text,  # identity for str values: skipped in the hot loop
    normalizer,
)
from .errors import SocrataError, bad_request
from .store import Dataset, Store, keyset_pages

_LOOKUP_BATCH = 900  # stays under SQLite's bound-parameter limit with room to spare
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


@dataclass
class Report:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    errors: int = 0
    by_row_identifier: int = 0
    by_sid: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "By RowIdentifier": self.by_row_identifier,
            "Rows Updated": self.updated,
            "Rows Deleted": self.deleted,
            "Rows Created": self.created,
            "Errors": self.errors,
            "By SID": self.by_sid,
        }


class _Entry:
    """What one identified row looks like while a request is applied, before it is written."""

    __slots__ = ("sid", "old", "data", "key", "recreated")

    def __init__(self, sid: int | None, old: dict | None, key: str | None):
        self.sid, self.old, self.data, self.key, self.recreated = sid, old, old, key, False


def key_of(value: Any) -> str:
    """The stored form of a row identifier value as a comparable string."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return _dumps(value)


def parse_body(body: bytes, content_type: str) -> tuple[list[dict[str, Any]], bool]:
    """Rows from a JSON (object or array) or CSV body; the flag tells CSV, where "" means null."""
    if "csv" in (content_type or "").lower():
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise bad_request("CSV bodies must be UTF-8") from None
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            return [], True
        header = [h.strip() for h in header]
        return [dict(zip(header, r, strict=False)) for r in reader if r], True
    try:
        payload = json.loads(body or b"null")
    except ValueError as exc:
        raise bad_request(f"Malformed JSON body: {exc}", code="json.malformed") from None
    if isinstance(payload, dict):
        return [payload], False
    if isinstance(payload, list):
        return payload, False
    raise bad_request("The body must be a JSON object or array of row objects", code="json.malformed")


def _truthy(v: Any) -> bool:
    if isinstance(v, str):
        return v.strip().lower() in ("true", "1", "t", "yes")
    return bool(v)


def write_rows(
    store: Store, dataset_id: str, rows: list[Any], *, replace: bool, is_csv: bool, user_id: str | None
) -> tuple[Report, Dataset]:
    """Apply an upsert (or a replace) inside one transaction and return the upsert report."""
    with store.writing() as c:
        ds = store.get_dataset(dataset_id, c)
        if ds is None:
            raise SocrataError(
                404, "dataset.missing", "Not found", {"id": dataset_id}
            )
        rep = apply_rows(c, ds, rows, replace=replace, is_csv=is_csv, user_id=user_id)
    return rep, ds


#: One identified row of a request: (kind, ident, values). kind is "key" (matched on the row
#: identifier value, ident its stored key), "sid" (matched on ``:id``, ident the sid) or "append"
#: (no identifier at all, ident None); values None means ``:deleted``.
_Op = tuple[str, Any, dict | None]
#: A column's value normalizer (datatypes.normalizer): raises BadValue for a value it refuses.
_Normalizer = Callable[[Any], Any]


def apply_rows(
    c, ds: Dataset, rows: list[Any], *, replace: bool, is_csv: bool, user_id: str | None
) -> Report:
    """The body of :func:`write_rows` inside the caller's open transaction (``ds`` read in it).

    The steps, in this order: a replace deletes every row; each incoming row is validated and
    identified (an unknown column refuses the whole request); the existing rows it touches are
    fetched; deletes and upserts are applied in request order to those rows in memory; the result
    is written. The report counts as it goes."""
    rep = Report()
    norms = {f: normalizer(col["dataTypeName"]) for f, col in ds.column_by_field().items()}
    order = [col["fieldName"] for col in sorted(ds.columns, key=lambda x: x["position"])]
    rid = ds.row_identifier_field
    now = time.time()
    removed = c.execute("DELETE FROM rows WHERE ds=?", (ds.pk,)).rowcount if replace else 0
    ops = _identify_rows(rows, norms, rid, is_csv, rep)
    if replace:
        ops = _without_sid_ops(ops, rep)
        entries: dict[Any, _Entry] = {}
    else:
        entries = _existing_entries(c, ds.pk, ops, rid)
    appends = _apply_ops(ops, entries, rid, order, rep)
    _write(c, ds, entries, appends, removed, now, replace=replace, user_id=user_id)
    return rep


def _identify_rows(
    rows: list[Any], norms: dict[str, _Normalizer], rid: str | None, is_csv: bool, rep: Report
) -> list[_Op]:
    """Pass 1: validate and normalize every row and note how each is identified. A row that is
    not an object, holds a value its column refuses, or cannot be matched counts as an error;
    a column the dataset lacks refuses the request, once every row was read (to name them all)."""
    ops: list[_Op] = []
    unknown: set[str] = set()
    for raw in rows:
        if not isinstance(raw, dict):
            rep.errors += 1
            continue
        values, deleted, row_sid, bad = _normalize_row(raw, norms, is_csv, unknown)
        if bad:
            rep.errors += 1
            continue
        op = _identify(values, deleted, row_sid, rid)
        if op is None:
            rep.errors += 1
        else:
            ops.append(op)
    if unknown:
        raise bad_request(
            f"No such column: {sorted(unknown)[0]}",
            code="column.missing",
            data={"columns": sorted(unknown)},
        )
    return ops


def _normalize_row(
    raw: dict[str, Any], norms: dict[str, _Normalizer], is_csv: bool, unknown: set[str]
) -> tuple[dict[str, Any], bool, int | None, bool]:
    """(values, :deleted, :id as a sid, bad) of one row; adds its unknown columns to ``unknown``.
    Other system fields (``:created_at``, ...) are read-only and ignored."""
    values: dict[str, Any] = {}
    deleted = False
    row_sid = None
    bad = False
    for k, v in raw.items():
        norm = norms.get(k)
        if norm is not None:
            if v is None or (is_csv and v == ""):
                values[k] = None
            elif norm is normalize_text and type(v) is str:
                values[k] = v  # the common case, without a call
            else:
                try:
                    values[k] = norm(v)
                except BadValue:
                    bad = True
        elif k == ":deleted":
            deleted = _truthy(v)
        elif k == ":id":
            if v not in (None, ""):
                row_sid = ids.sid_of(str(v))
                bad = bad or row_sid is None
        elif not k.startswith(":"):
            unknown.add(k)
    return values, deleted, row_sid, bad


def _identify(values: dict[str, Any], deleted: bool, row_sid: int | None, rid: str | None) -> _Op | None:
    """How a row is matched: on the row identifier value when the dataset has one and the row
    gives it, else on ``:id``; a dataset without a row identifier appends a row with neither.
    None: nothing to match (a row identifier dataset needs the identifier; a delete needs
    something to match)."""
    if rid is not None and values.get(rid) is not None:
        return ("key", key_of(values[rid]), None if deleted else values)
    if row_sid is not None:
        return ("sid", row_sid, None if deleted else values)
    if rid is None and not deleted:
        return ("append", None, values)
    return None


def _without_sid_ops(ops: list[_Op], rep: Report) -> list[_Op]:
    """A replace has just deleted every row, so no ``:id`` can match: those rows are errors."""
    sid_ops = sum(1 for kind, _, _ in ops if kind == "sid")
    if not sid_ops:
        return ops
    rep.errors += sid_ops
    return [op for op in ops if op[0] != "sid"]


def _existing_entries(c, ds_pk: int, ops: list[_Op], rid: str | None) -> dict[Any, _Entry]:
    """Pass 2: the existing rows this request touches, fetched by key and by sid in batches.
    With a row identifier, entries are filed under their key (a sid names its entry through a
    ``("sid", n)`` alias); without one, under their sid."""
    entries: dict[Any, _Entry] = {}
    keys = {ident for kind, ident, _ in ops if kind == "key"}
    sids = {ident for kind, ident, _ in ops if kind == "sid"}
    _lookup(c, ds_pk, "row_key", keys, entries, by_key=True)
    _lookup(c, ds_pk, "sid", sids, entries, by_key=rid is not None)
    return entries


def _apply_ops(
    ops: list[_Op], entries: dict[Any, _Entry], rid: str | None, order: list[str], rep: Report
) -> list[dict]:
    """Pass 3: apply the operations in request order to the in-memory entries (a row deleted
    and then sent again in one request is re-created); returns the appended rows."""
    appends: list[dict] = []
    for kind, ident, values in ops:
        if kind == "append":
            appends.append(_clean(values, order))
            rep.created += 1
            continue
        if kind == "sid" and rid is not None:
            e = entries.get(("sid", ident))
            ident = e.key if e else None
        e = entries.get(ident)
        if values is None:
            _delete(e, kind, rep)
        else:
            _upsert(entries, e, kind, ident, values, rid, order, rep)
    return appends


def _delete(e: _Entry | None, kind: str, rep: Report) -> None:
    if e is None or e.data is None:
        rep.errors += 1  # deleting a row that is already gone
    else:
        e.data = None
        rep.deleted += 1
        _count_match(rep, kind)


def _upsert(
    entries: dict[Any, _Entry],
    e: _Entry | None,
    kind: str,
    ident: Any,
    values: dict[str, Any],
    rid: str | None,
    order: list[str],
    rep: Report,
) -> None:
    """Create the row (a key not seen, or deleted earlier in the request) or merge the values
    into it; a ``:id`` that does not exist cannot be created, a row identifier cannot be cleared."""
    if e is None or e.data is None:
        if kind == "sid":
            rep.errors += 1  # a :id that does not exist cannot be created
            return
        if e is None:
            e = entries[ident] = _Entry(None, None, ident)
        else:
            e.recreated = True
        e.data = _clean(values, order)
        rep.created += 1
    else:
        merged = dict(e.data)
        merged.update(values)
        if rid is not None and merged.get(rid) is None:
            rep.errors += 1  # the row identifier cannot be cleared
            return
        e.data = _clean(merged, order)
        rep.updated += 1
        _count_match(rep, kind)


def _write(
    c,
    ds: Dataset,
    entries: dict[Any, _Entry],
    appends: list[dict],
    removed: int,
    now: float,
    *,
    replace: bool,
    user_id: str | None,
) -> None:
    """Pass 4: write. Deletes first so a re-created key never collides with its old row; then
    the dataset's row count and update time, when anything changed."""
    dels, upds, ins = [], [], []
    for key, e in entries.items():
        if isinstance(key, tuple):
            continue  # the (sid, n) aliases point at entries handled under their key
        if e.sid is not None and e.data is None:
            dels.append((e.sid,))
        elif e.sid is not None and (e.data != e.old or e.recreated):
            created = now if e.recreated else None
            upds.append((_dumps(e.data), now, created, e.sid))
        elif e.sid is None and e.data is not None:
            ins.append((ds.pk, e.key, now, now, _dumps(e.data)))
    ins.extend((ds.pk, None, now, now, _dumps(d)) for d in appends)
    if dels:
        c.executemany("DELETE FROM rows WHERE sid=?", dels)
    if upds:
        c.executemany(
            "UPDATE rows SET data=?, updated_at=?, created_at=COALESCE(?, created_at) WHERE sid=?", upds
        )
    if ins:
        c.executemany(
            "INSERT INTO rows (ds, row_key, created_at, updated_at, data) VALUES (?,?,?,?,?)", ins
        )
    if dels or upds or ins or removed:
        row_count = ds.row_count - removed - len(dels) + len(ins) if not replace else len(ins)
        c.execute(
            "UPDATE datasets SET row_count=?, data_updated_at=?, rows_updated_by=? WHERE pk=?",
            (row_count, now, user_id, ds.pk),
        )


def _lookup(c, ds_pk: int, column: str, wanted: set, entries: dict, *, by_key: bool) -> None:
    wanted = list(wanted)
    for i in range(0, len(wanted), _LOOKUP_BATCH):
        batch = wanted[i : i + _LOOKUP_BATCH]
        marks = ",".join("?" * len(batch))
        for sid, key, data in c.execute(
            f"SELECT sid, row_key, data FROM rows WHERE ds=? AND {column} IN ({marks})", (ds_pk, *batch)
        ):
            if by_key:
                e = entries.get(key) or _Entry(sid, json.loads(data), key)
                entries[key] = e
                if column == "sid":
                    entries[("sid", sid)] = e
            else:
                entries[sid] = _Entry(sid, json.loads(data), None)


def _count_match(rep: Report, kind: str) -> None:
    if kind == "key":
        rep.by_row_identifier += 1
    elif kind == "sid":
        rep.by_sid += 1


def _clean(values: dict, order: list[str]) -> dict:
    """Column order, nulls dropped: the stored (and returned) form of a row."""
    return {f: values[f] for f in order if values.get(f) is not None}


# ---- single rows ----


def find_row(store: Store, ds: Dataset, row_ref: str) -> tuple[int, float, float, str] | None:
    """A row by ``:id`` or by row identifier value."""
    c = store.conn()
    sid = ids.sid_of(row_ref)
    if sid is not None:
        row = c.execute(
            "SELECT sid, created_at, updated_at, data FROM rows WHERE ds=? AND sid=?", (ds.pk, sid)
        ).fetchone()
        if row:
            return row
    if ds.row_identifier_field:
        col = ds.column_by_field()[ds.row_identifier_field]
        try:
            key = key_of(normalizer(col["dataTypeName"])(row_ref))
        except BadValue:
            return None
        return c.execute(
            "SELECT sid, created_at, updated_at, data FROM rows WHERE ds=? AND row_key=?", (ds.pk, key)
        ).fetchone()
    return None


def delete_row(store: Store, dataset_id: str, row_ref: str, user_id: str | None) -> str | None:
    with store.writing() as c:
        ds = store.get_dataset(dataset_id, c)
        row = find_row(store, ds, row_ref) if ds else None
        if row is None:
            return None
        now = time.time()
        c.execute("DELETE FROM rows WHERE sid=?", (row[0],))
        c.execute(
            "UPDATE datasets SET row_count=row_count-1, data_updated_at=?, rows_updated_by=? WHERE pk=?",
            (now, user_id, ds.pk),
        )
        return ids.row_id(row[0])


def rekey(c, ds: Dataset, field_name: str | None) -> None:
    """Recompute row keys after the row identifier column changed; duplicates or nulls refuse it."""
    if field_name is None:
        c.execute("UPDATE rows SET row_key=NULL WHERE ds=?", (ds.pk,))
        return
    c.execute("UPDATE rows SET row_key=NULL WHERE ds=?", (ds.pk,))
    batch = []
    for sid, data in c.execute("SELECT sid, data FROM rows WHERE ds=?", (ds.pk,)).fetchall():
        value = json.loads(data).get(field_name)
        if value is None:
            raise bad_request(
                f"Row identifier column {field_name} has null values", code="row_identifier.invalid"
            )
        batch.append((key_of(value), sid))
    try:
        c.executemany("UPDATE rows SET row_key=? WHERE sid=?", batch)
    except Exception:
        raise bad_request(
            f"Row identifier column {field_name} has duplicate values", code="row_identifier.invalid"
        ) from None


def iter_all(
    store: Store, ds: Dataset, batch: int = 5000, conn=None
) -> Iterator[tuple[int, float, float, str]]:
    """Every row in :id order, read in keyset pages so memory stays flat."""
    c = conn or store.conn()
    sql = "SELECT sid, created_at, updated_at, data FROM rows WHERE ds=? AND sid>? ORDER BY sid LIMIT ?"
    for page in keyset_pages(c, sql, ds.pk, batch):
        yield from page


def ensure_list(rows: Iterable[Any]) -> list[Any]:
    return rows if isinstance(rows, list) else list(rows)
