"""Output schemas: the first one an upload gets, the ones a transform posts
(``POST /source/{id}/schema/{input_schema_id}``), and their evaluation from the staged input rows
into output rows, on a thread, 5,000 rows per transaction.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from typing import Any

from .config import Account
from .datatypes import BadValue, compile_transform, function_expr, normalize_text, soql_type
from .errors import bad_request
from .revision_reads import PublishingPart
from .revision_records import FIELD_NAME, STAGE_BATCH, OutputSchema, Source, creator, dumps
from .rows import key_of
from .store import keyset_pages

log = logging.getLogger("portal_emulator.publishing")

FIRST_OUTPUT_COLUMN_ID = 7_000_000


class OutputSchemas(PublishingPart):
    """Builds output schemas and evaluates them; readers never see output rows until applied."""

    # ---- building ----

    def first_columns(self, c, src: Source) -> list[dict[str, Any]]:
        """The output schema an upload gets. Without --strict: the dataset's columns with their
        types (what the emulator always did). Strict: each uploaded column with the type guessed
        from its values, as Socrata does, then the dataset's columns the upload lacks (null, their
        type kept) and the upload's columns the dataset lacks (new columns once applied)."""
        inputs = src.input_types()
        out = []
        for col in src.columns:  # position order
            field = col["fieldName"]
            dataset_type = soql_type(col["dataTypeName"])
            output_type = inputs[field] if self.config.strict and field in inputs else dataset_type
            out.append(
                self._output_column(
                    c,
                    field_name=field,
                    display_name=col["name"],
                    description=col.get("description", ""),
                    fmt=col.get("format") or {},
                    expr=function_expr(output_type, field) if field in inputs else "null",
                    output_type=output_type,
                    is_primary_key=field == src.row_identifier,
                    initial_id=col["id"],
                    dataset_column_id=col["id"],
                )
            )
        known = {col["fieldName"] for col in src.columns}
        for item in src.input_columns or []:
            if item["field_name"] not in known:  # strict only: the header check refuses them otherwise
                out.append(
                    self._output_column(
                        c,
                        field_name=item["field_name"],
                        display_name=item["display_name"],
                        description="",
                        fmt={},
                        expr=function_expr(item["soql_type"], item["field_name"]),
                        output_type=item["soql_type"],
                        is_primary_key=False,
                        initial_id=None,
                        dataset_column_id=None,
                    )
                )
        for position, col in enumerate(out):
            col["position"] = position
        return out

    def _output_column(
        self,
        c,
        *,
        field_name: str,
        display_name: str,
        description: str,
        fmt: dict[str, Any],
        expr: str,
        output_type: str,
        is_primary_key: bool,
        initial_id: int | None,
        dataset_column_id: int | None,
        position: int = 0,
    ) -> dict[str, Any]:
        """One stored output column. ``dataset_column_id`` (never shown) is the dataset column it
        becomes when applied, None for a new column."""
        column_id = self.store.next_counter(c, "output_column_id", FIRST_OUTPUT_COLUMN_ID)
        return {
            "id": column_id,
            "field_name": field_name,
            "display_name": display_name,
            "description": description,
            "position": position,
            "format": fmt,
            "is_primary_key": is_primary_key,
            "initial_output_column_id": initial_id,
            "dataset_column_id": dataset_column_id,
            "transform": {"id": column_id, "transform_expr": expr, "output_soql_type": output_type},
        }

    @staticmethod
    def insert(
        c, src: Source, columns: list[dict[str, Any]], created_by: dict[str, Any], output_schema_id: int
    ) -> None:
        c.execute(
            "INSERT INTO output_schemas (id, source, input_schema_id, columns, created_at, created_by, state)"
            " VALUES (?, ?, ?, ?, ?, ?, 'evaluating')",
            (output_schema_id, src.id, src.input_schema_id, json.dumps(columns), time.time(), json.dumps(created_by)),
        )

    # ---- transforms ----

    def transform(
        self, source_id: int, input_schema_id: int, body: Any, account: Account, increment_revision: bool
    ) -> OutputSchema:
        """``POST /source/{id}/schema/{input_schema_id}`` (socrata-py ``InputSchema.transform``,
        ``OutputSchema.run``): a new output schema from ``output_columns``, evaluated on a thread.
        ``increment_revision`` (default true) makes it the one the revision applies."""
        if not isinstance(body, dict) or not isinstance(body.get("output_columns"), list) or not body["output_columns"]:
            raise bad_request(
                'Send {"output_columns": [{"field_name", "display_name", "position", "transform": '
                '{"transform_expr"}}, ...]}',
                code="output_schema.invalid",
            )
        with self.store.writing() as c:
            src = self.reads.input_schema(source_id, input_schema_id, c)
            ds, rev = self.reads.owner(src, c)
            self.reads.check_open(c, ds, rev)
            derived = self._derivations(c, src)
            columns = [self._posted_column(c, src, spec, i, derived) for i, spec in enumerate(body["output_columns"])]
            _check_output_columns(columns)
            output_schema_id = self.store.next_counter(c, "schema_id", 15398)
            self.insert(c, src, columns, creator(account), output_schema_id)
            if increment_revision:
                c.execute("UPDATE revisions SET output_schema_id=? WHERE pk=?", (output_schema_id, rev.pk))
        self.start_evaluation(output_schema_id)
        return self.reads.output_schema(output_schema_id)

    def _derivations(self, c, src: Source) -> dict[int, dict[str, Any]]:
        """Output column ids of this source's output schemas (and the dataset column ids they came
        from) -> the column: what a posted column's ``id`` / ``initial_output_column_id`` names."""
        found: dict[int, dict[str, Any]] = {}
        for col in src.columns:
            found[col["id"]] = {
                "dataset_column_id": col["id"],
                "is_primary_key": col["fieldName"] == src.row_identifier,
            }
        for schema in self.reads.output_schemas(src.id, c):
            for col in schema.columns:
                found[col["id"]] = col
        return found

    def _posted_column(
        self, c, src: Source, spec: Any, index: int, derived: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        if not isinstance(spec, dict):
            raise bad_request("Each output column must be an object", code="output_schema.invalid")
        field = spec.get("field_name")
        if not isinstance(field, str) or not FIELD_NAME.match(field):
            raise bad_request(f"Invalid output column field_name {field!r}", code="output_schema.invalid")
        transform = spec.get("transform") if isinstance(spec.get("transform"), dict) else {}
        expr = transform.get("transform_expr")
        # A column derived from another (socrata-py sends initial_output_column_id for a changed
        # column and the unchanged ones with their id), else the dataset column of that name.
        base = derived.get(spec.get("initial_output_column_id")) or derived.get(spec.get("id"))
        if base is None:
            base = next((derived[col["id"]] for col in src.columns if col["fieldName"] == field), None)
        null_type = transform.get("output_soql_type") or (base or {}).get("transform", {}).get("output_soql_type")
        try:
            compiled = compile_transform(expr, src.input_types(), null_type or "text")
        except ValueError as exc:
            raise bad_request(
                str(exc), code="transform.invalid", data={"field_name": field, "transform_expr": expr}
            ) from None
        primary = spec.get("is_primary_key")
        position = spec.get("position", index)
        if not isinstance(position, int | float):
            raise bad_request(f"Output column {field} has a non-numeric position", code="output_schema.invalid")
        return self._output_column(
            c,
            field_name=field,
            display_name=str(spec.get("display_name") or field),
            description=str(spec.get("description") or ""),
            fmt=spec.get("format") if isinstance(spec.get("format"), dict) else {},
            expr=compiled.expr,
            output_type=compiled.output_type,
            # Not named: as the column it derives from (inferred; socrata-py always sends it).
            is_primary_key=bool(primary) if primary is not None else bool((base or {}).get("is_primary_key")),
            initial_id=spec.get("initial_output_column_id") or spec.get("id"),
            dataset_column_id=(base or {}).get("dataset_column_id"),
            position=position,
        )

    # ---- evaluation ----

    def start_evaluation(self, output_schema_id: int) -> None:
        threading.Thread(
            target=self._evaluation_thread, args=(output_schema_id,), name=f"transform-{output_schema_id}", daemon=True
        ).start()

    def _evaluation_thread(self, output_schema_id: int) -> None:
        try:
            self.evaluate(output_schema_id)
        except Exception:  # noqa: BLE001 - an output schema must end in a state, whatever happened
            log.exception("evaluating output schema %s failed", output_schema_id)
            with self.store.writing() as c:  # completed_at holds when it failed
                c.execute(
                    "UPDATE output_schemas SET state='failed', completed_at=? WHERE id=?",
                    (time.time(), output_schema_id),
                )

    def evaluate(self, output_schema_id: int) -> OutputSchema:
        """Run the output schema's transforms over the input rows into output rows, 5,000 per
        transaction, then record its counts and when it shows as complete. The first output schema
        of an upload also finishes its source."""
        schema = self.reads.output_schema(output_schema_id)
        src = self.reads.source(schema.source)
        ds, rev = self.reads.owner(src)
        with self.store.writing() as c:  # an interrupted earlier evaluation may have written some
            c.execute("DELETE FROM output_rows WHERE output_schema=?", (output_schema_id,))
        plan = _Plan(schema, src, keep_nulls=rev.action == "update")
        sql = "SELECT n, cells FROM input_rows WHERE source=? AND n>? ORDER BY n LIMIT ?"
        for page in keyset_pages(self.store.conn(), sql, src.id, STAGE_BATCH):
            out = [(output_schema_id, *plan.row(json.loads(cells))) for _, cells in page]
            with self.store.writing() as c:
                c.executemany("INSERT INTO output_rows (output_schema, row_key, bad, data) VALUES (?, ?, ?, ?)", out)
        now = time.time()
        first = output_schema_id == src.output_schema_id
        # Strict: complete no sooner than the delay after the bytes stopped (the first schema) or
        # after the transform was posted; a client applying as soon as finished_at appears fails.
        started = (src.finished_at or now) if first else schema.created_at
        completed = max(now, started + self.config.parse_complete_seconds) if self.config.strict else now
        with self.store.writing() as c:
            c.execute(
                "UPDATE output_schemas SET state='evaluated', completed_at=?, total_rows=?, error_count=?,"
                " column_errors=? WHERE id=?",
                (completed, plan.rows, plan.bad_rows, json.dumps(plan.column_errors), output_schema_id),
            )
            if first:
                c.execute(
                    "UPDATE sources SET state='finished', finished_at=coalesce(finished_at, ?) WHERE id=?",
                    (now, src.id),
                )
                # The latest parsed upload is what the revision applies unless told otherwise.
                c.execute(
                    "UPDATE revisions SET output_schema_id=? WHERE pk=? AND closed_at IS NULL",
                    (output_schema_id, rev.pk),
                )
        return self.reads.output_schema(output_schema_id)


class _Plan:
    """How an output schema turns one input row (its cells) into the stored row, counting errors."""

    def __init__(self, schema: OutputSchema, src: Source, keep_nulls: bool):
        index = {c["field_name"]: i for i, c in enumerate(src.input_columns or [])}
        types = src.input_types()
        self.columns: list[tuple[str, int | None, Any]] = []
        for col in schema.ordered():
            t = compile_transform(col["transform"]["transform_expr"], types, col["transform"]["output_soql_type"])
            self.columns.append(
                (col["field_name"], None, None)
                if t.column is None
                else (col["field_name"], index[t.column], t.function())
            )
        self.key = schema.primary_key
        # An update keeps empty cells as nulls (they clear the cell); a replace stores none.
        self.keep_nulls = keep_nulls
        self.rows = self.bad_rows = 0
        self.column_errors: Counter[str] = Counter()

    def row(self, cells: list[str]) -> tuple[str | None, int, str]:
        """(row key, bad, stored JSON): the row's values, or its cells with the errors."""
        self.rows += 1
        values: dict[str, Any] = {}
        errors: dict[str, dict[str, str]] = {}
        for field, i, convert in self.columns:
            if i is None:
                continue  # the null transform: nothing (a replace stores null, an update keeps the cell)
            cell = cells[i]
            if cell == "":
                values[field] = None
            elif convert is normalize_text:
                values[field] = cell
            else:
                try:
                    values[field] = convert(cell)
                except BadValue as exc:
                    errors[field] = {"message": f"Unable to convert {cell!r}: {exc}", "input": cell}
        if self.key is not None and self.key not in errors and values.get(self.key) is None:
            errors[self.key] = {"message": "The row identifier is missing", "input": ""}
        if errors:
            self.bad_rows += 1
            self.column_errors.update(errors.keys())
            out = [{"error": errors[f]} if f in errors else {"ok": values.get(f)} for f, _, _ in self.columns]
            return None, 1, dumps({"cells": out})
        key = key_of(values[self.key]) if self.key is not None else None
        if self.keep_nulls:
            return key, 0, dumps(values)
        return key, 0, dumps({f: values[f] for f, _, _ in self.columns if values.get(f) is not None})


def _check_output_columns(columns: list[dict[str, Any]]) -> None:
    fields = [col["field_name"] for col in columns]
    dupes = sorted({f for f in fields if fields.count(f) > 1})
    if dupes:
        raise bad_request(f"Duplicate output column field names: {', '.join(dupes)}", code="output_schema.invalid")
    if sum(1 for col in columns if col["is_primary_key"]) > 1:
        raise bad_request("At most one output column can be the primary key", code="output_schema.invalid")
