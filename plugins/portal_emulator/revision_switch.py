"""The switch: everything applying a revision changes in the dataset, in ONE write transaction
(the output schema becomes the dataset's schema, the rows are replaced or upserted, the audience
and metadata are set, the dataset is published, the revision is closed and the job moves to
``finishing``). Readers see the whole old version until the commit and the whole new one after it;
a failure rolls everything back.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import sqlite3
import time
from typing import Any

from .config import Account
from .datatypes import BadValue, normalizer, to_csv_cell, view_type
from .errors import SocrataError
from .revision_reads import PublishingPart
from .revision_records import RUNNING, STAGE_BATCH, JobFailure, OutputSchema, Source, advance, dumps
from .rows import Report, apply_rows, rekey
from .store import Dataset, keyset_pages

# Revision metadata keys an apply copies onto the view (the rest of the metadata is kept as sent).
METADATA_KEYS = ("name", "description", "category", "tags", "attribution", "attributionLink", "licenseId")


class RevisionSwitch(PublishingPart):
    """Carries out a running apply job's revision on its dataset."""

    def switch(self, ts_id: int) -> str:
        """Everything the revision changes, in one transaction (see the module docstring)."""
        try:
            with self.store.writing() as c:
                return self._switch_in(c, ts_id)
        except sqlite3.IntegrityError:
            raise JobFailure(
                "duplicate_row_identifier",
                "The upload holds the same row identifier value more than once",
            ) from None

    def _switch_in(self, c, ts_id: int) -> str:
        ts = self.reads.job(c, ts_id)
        if ts.status not in RUNNING or ts.status == "finishing":
            raise JobFailure("internal_error", f"job is {ts.status}")
        rev = self.reads.revision_by_pk(c, ts.revision)
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        account = self.config.accounts.get(ts.created_by.get("display_name")) or Account(
            ts.created_by.get("display_name") or "unknown", "-", "publisher"
        )
        now = time.time()
        report: dict[str, int] | None = None
        if ts.output_schema_id is not None:
            schema = self.reads.output_schema(ts.output_schema_id, c)
            src = self.reads.source(schema.source, c)
            _check_schema(ds, src)
            changed = self._apply_schema(c, ds, schema, convert=rev.action == "update")
            if changed:
                advance(c, ts, "creating_columns", stage="apply_schema", **changed)
            ds = self.store.get_dataset_by_pk(rev.ds, c)
            if rev.action == "replace":
                report = self._replace_rows(c, ds, src, schema, account, now)
            else:
                report = self._upsert_rows(c, ds, src, schema, account)
            advance(c, ts, "upserting", stage="upsert_complete", **report)
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        if rev.permission is not None and rev.permission != ds.audience:
            before = ds.audience
            outcome = self.workflow.change_audience(c, ds, rev.permission, account)
            after = self.store.get_dataset_by_pk(rev.ds, c).audience
            advance(
                c,
                ts,
                "upserting",
                stage="set_permission",
                permission=rev.permission,
                audience_before=before,
                audience_after=after,
                outcome=outcome,
            )
        ds = self.store.get_dataset_by_pk(rev.ds, c)
        changes = {k: rev.metadata[k] for k in METADATA_KEYS if k in rev.metadata}
        if changes:
            ds.doc.update(changes)
            self.store.update_dataset(c, ds)
            advance(c, ts, "upserting", stage="apply_metadata", keys=sorted(changes))
        if not ds.is_published:
            c.execute(
                "UPDATE datasets SET publication_stage='published', publication_date=coalesce(publication_date, ?),"
                " metadata_updated_at=? WHERE pk=?",
                (now, now, ds.pk),
            )
            advance(c, ts, "upserting", stage="publish")
        c.execute("UPDATE revisions SET closed_at=? WHERE pk=?", (now, rev.pk))
        advance(c, ts, "finishing")
        if report is not None:
            self.stats.rows_written(ds.id, report["Rows Created"] + report["Rows Updated"] + report["Errors"], report)
        return ds.id

    def _apply_schema(self, c, ds: Dataset, schema: OutputSchema, convert: bool) -> dict[str, Any] | None:
        """Make the output schema the dataset's schema, as applying does on Socrata: each output
        column becomes (or updates) a dataset column with its type, name and description; dataset
        columns it leaves out are dropped; its primary key is the row identifier. An update keeps
        the existing rows, so they are converted (a value the new type refuses becomes null).
        Returns what changed for the job log, None when nothing did."""
        old = {col["id"]: col for col in ds.columns}
        columns = []
        for position, out in enumerate(schema.ordered(), start=1):
            data_type = view_type(out["transform"]["output_soql_type"])
            base = old.get(out.get("dataset_column_id"))
            col = dict(base) if base else {"id": self.store.next_counter(c, "column_id", 230641050), "format": {}}
            col["tableColumnId"] = col.get("tableColumnId", col["id"])
            col.update(
                name=out["display_name"],
                fieldName=out["field_name"],
                description=out.get("description") or "",
                dataTypeName=data_type,
                renderTypeName=data_type,
                position=position,
            )
            if out.get("format"):
                col["format"] = out["format"]
            columns.append(col)
        key = schema.primary_key
        key_id = next((col["id"] for col in columns if col["fieldName"] == key), None)
        if columns == sorted(ds.columns, key=lambda col: col["position"]) and key_id == ds.doc.get(
            "rowIdentifierColumnId"
        ):
            return None
        kept = {col["id"] for col in columns}
        changed: dict[str, Any] = {
            "columns_added": [col["fieldName"] for col in columns if col["id"] not in old],
            "columns_dropped": [col["fieldName"] for col in ds.columns if col["id"] not in kept],
            "types_changed": {
                col["fieldName"]: f"{old[col['id']]['dataTypeName']} -> {col['dataTypeName']}"
                for col in columns
                if col["id"] in old and old[col["id"]]["dataTypeName"] != col["dataTypeName"]
            },
            "row_identifier": key,
        }
        if convert:
            changed["values_not_converted"] = self._convert_rows(c, ds, columns)
        ds.doc["columns"] = columns
        ds.doc["rowIdentifierColumnId"] = key_id
        self.store.update_dataset(c, ds)
        if convert:
            try:
                rekey(c, self.store.get_dataset_by_pk(ds.pk, c), key)
            except SocrataError as exc:
                raise JobFailure("row_identifier.invalid", exc.message) from None
        return changed

    def _convert_rows(self, c, ds: Dataset, columns: list[dict[str, Any]]) -> int:
        """Rewrite the existing rows for the new columns (renamed, retyped, dropped); returns how
        many values the new type refused (they are nulled)."""
        old = {col["id"]: col for col in ds.columns}
        plan = []
        for col in columns:
            before = old.get(col["id"])
            if before is not None:
                same = before["dataTypeName"] == col["dataTypeName"]
                plan.append((before["fieldName"], col["fieldName"], None if same else normalizer(col["dataTypeName"])))
        lost = 0
        sql = "SELECT sid, data FROM rows WHERE ds=? AND sid>? ORDER BY sid LIMIT ?"
        for page in keyset_pages(c, sql, ds.pk, STAGE_BATCH):
            updates = []
            for sid, data in page:
                row = json.loads(data)
                new = {}
                for before, after, convert in plan:
                    value = row.get(before)
                    if value is None:
                        continue
                    if convert is not None:
                        try:
                            value = convert(to_csv_cell(value))
                        except BadValue:
                            lost += 1
                            continue
                    new[after] = value
                if new != row:
                    updates.append((dumps(new), sid))
            c.executemany("UPDATE rows SET data=? WHERE sid=?", updates)
        return lost

    def _replace_rows(
        self, c, ds: Dataset, src: Source, schema: OutputSchema, account: Account, now: float
    ) -> dict[str, int]:
        base = c.execute("SELECT coalesce(max(sid), 0) FROM rows").fetchone()[0]
        first = c.execute("SELECT min(n) FROM output_rows WHERE output_schema=?", (schema.id,)).fetchone()[0] or 0
        removed = c.execute("DELETE FROM rows WHERE ds=?", (ds.pk,)).rowcount
        # Fresh sids above every sid in use: every row gets a new :id, in upload order.
        created = c.execute(
            "INSERT INTO rows (sid, ds, row_key, created_at, updated_at, data)"
            " SELECT ? + n - ?, ?, row_key, ?, ?, data FROM output_rows WHERE output_schema=? AND bad=0 ORDER BY n",
            (base + 1, first, ds.pk, now, now, schema.id),
        ).rowcount
        c.execute(
            "UPDATE datasets SET row_count=?, data_updated_at=?, rows_updated_by=? WHERE pk=?",
            (created, now, account.user_id, ds.pk),
        )
        errors = (schema.error_count or 0) + (src.num_row_errors or 0)
        return {"Rows Created": created, "Rows Updated": 0, "Rows Deleted": removed, "Errors": errors}

    def _upsert_rows(self, c, ds: Dataset, src: Source, schema: OutputSchema, account: Account) -> dict[str, int]:
        total = Report()
        sql = "SELECT n, data FROM output_rows WHERE output_schema=? AND bad=0 AND n>? ORDER BY n LIMIT ?"
        for page in keyset_pages(c, sql, schema.id, STAGE_BATCH):
            current = self.store.get_dataset_by_pk(ds.pk, c)
            rep = apply_rows(
                c, current, [json.loads(d) for _, d in page], replace=False, is_csv=False, user_id=account.user_id
            )
            for name in ("created", "updated", "deleted", "errors"):
                setattr(total, name, getattr(total, name) + getattr(rep, name))
        return {
            "Rows Created": total.created,
            "Rows Updated": total.updated,
            "Rows Deleted": total.deleted,
            "Errors": total.errors + (schema.error_count or 0) + (src.num_row_errors or 0),
        }


def _check_schema(ds: Dataset, src: Source) -> None:
    now = [(c["fieldName"], c["dataTypeName"]) for c in sorted(ds.columns, key=lambda c: c["position"])]
    then = [(c["fieldName"], c["dataTypeName"]) for c in src.columns]
    if now != then or ds.row_identifier_field != src.row_identifier:
        raise JobFailure(
            "schema_changed",
            "The dataset's columns or row identifier changed after the upload; upload again",
        )
