"""The JSON the publishing API answers with: ``{"resource": {...}, "links": {...}}`` for revisions,
apply jobs (task sets), held applies, sources, input schemas and output schemas.

Module order, lowest first (each imports only the ones to its left):
revision_records<revision_reads<revision_render<output_schemas<source_parsing<uploads<revision_switch<jobs<publishing
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .datatypes import compile_transform
from .revision_reads import RevisionReads
from .revision_records import OutputSchema, Revision, Source, TaskSet, iso
from .store import Approval, Dataset

API = "/api/publishing/v1"


@dataclass(eq=False)
class RevisionRender:
    """Builds the answers; reads what a resource embeds (task sets, output schemas, the owner)."""

    reads: RevisionReads

    def revision_json(self, ds: Dataset, rev: Revision) -> dict[str, Any]:
        base = f"{API}/revision/{ds.id}/{rev.seq}"
        resource = {
            "id": rev.pk,
            "fourfour": ds.id,
            "revision_seq": rev.seq,
            "action": {"type": rev.action, "permission": rev.permission},
            "metadata": rev.metadata,
            "notes": rev.notes,
            "output_schema_id": rev.output_schema_id,
            "blob_id": None,
            "attachments": [],
            "href": None,  # publishing.json: an object describing an external link-set; none here
            "task_sets": [self.task_set_resource(t) for t in self.reads.task_sets(rev.pk)],
            "created_at": iso(rev.created_at),
            "created_by": rev.created_by,
            "closed_at": iso(rev.closed_at),
        }
        links = {
            "show": base,
            "update": base,
            "discard": base,
            "apply": f"{base}/apply",
            "create_source": f"{base}/source",
            "list_sources": f"{base}/source",
        }
        return {"resource": resource, "links": links}

    @staticmethod
    def task_set_resource(ts: TaskSet) -> dict[str, Any]:
        return {
            "id": ts.id,
            "status": ts.status,
            "log": ts.log,
            "created_at": iso(ts.created_at),
            "updated_at": iso(ts.updated_at),
            "finished_at": iso(ts.finished_at),
            "created_by": ts.created_by,
            "job_uuid": ts.job_uuid,
            "output_schema_id": ts.output_schema_id,
            "request_id": ts.request_id,
        }

    def task_set_json(self, ds_id: str, rev: Revision, ts: TaskSet) -> dict[str, Any]:
        return {
            "resource": self.task_set_resource(ts),
            "links": {"show": f"{API}/revision/{ds_id}/{rev.seq}/apply/{ts.id}"},
        }

    @staticmethod
    def held_json(ds_id: str, rev: Revision, approval: Approval) -> dict[str, Any]:
        """The apply answer of a revision held for approval: the ``approval_submitted`` key that
        socrata-py's ``Job.submitted_for_approval`` reads in the resource; the rest is inferred
        (the submission, and where to follow it)."""
        return {
            "resource": {
                "key": "approval_submitted",
                "message": "Applying this revision updates a public asset; it waits for approval",
                "fourfour": ds_id,
                "revision_seq": rev.seq,
                "output_schema_id": rev.output_schema_id,
                "submission_id": approval.submission_id,
                "state": approval.state,
            },
            "links": {
                "revision": f"{API}/revision/{ds_id}/{rev.seq}",
                "guidance": f"/api/views/{ds_id}/approvals?method=guidance_v2&assetId={ds_id}:{rev.seq}",
            },
        }

    def source_json(self, src: Source) -> dict[str, Any]:
        ds, rev = self.reads.owner(src)
        base = f"{API}/source/{src.id}"
        resource = {
            "id": src.id,
            "source_type": src.source_type,
            "parse_options": src.parse_options,
            "content_type": src.content_type,
            "created_at": iso(src.created_at),
            "created_by": src.created_by,
            "finished_at": iso(src.finished_at),
            "failed_at": iso(src.failed_at),
            "failure_details": src.failure_details,
            "filesize": src.filesize,
            "revision": {"fourfour": ds.id, "revision_seq": rev.seq},
            "schemas": [self._input_schema_resource(src)] if src.state == "finished" else [],
        }
        schema = f"{base}/schema/{{input_schema_id}}"
        links = {
            "show": base,
            "bytes": base,
            "add_to_revision": base,
            "initiate": f"{base}/initiate",
            "chunk": f"{base}/chunk/{{seq_num}}/{{byte_offset}}",
            "commit": f"{base}/chunk/{{seq_num}}/{{byte_offset}}/commit",
            "show_input_schema": schema,
            "input_schema_links": _input_schema_links(schema),
        }
        return {"resource": resource, "links": links}

    def input_schema_json(self, src: Source) -> dict[str, Any]:
        schema = f"{API}/source/{src.id}/schema/{src.input_schema_id}"
        return {"resource": self._input_schema_resource(src), "links": _input_schema_links(schema)}

    def output_schema_json(self, schema: OutputSchema) -> dict[str, Any]:
        base = f"{API}/source/{schema.source}/schema/{schema.input_schema_id}"
        links = _output_schema_links(base)
        return {
            "resource": self._output_schema_resource(schema, self.reads.source(schema.source)),
            "links": {k: v.replace("{output_schema_id}", str(schema.id)) for k, v in links.items()},
        }

    def _input_schema_resource(self, src: Source) -> dict[str, Any]:
        return {
            "id": src.input_schema_id,
            "name": src.source_type.get("filename"),
            "created_at": iso(src.created_at),
            "created_by": src.created_by,
            "total_rows": src.total_rows,
            "num_row_errors": src.num_row_errors,
            "input_columns": [
                {
                    "id": _input_column_id(src, i),
                    "field_name": col["field_name"],
                    "display_name": col["display_name"],
                    "position": i,
                    "soql_type": col["soql_type"],
                    "input_schema_id": src.input_schema_id,
                }
                for i, col in enumerate(src.input_columns or [])
            ],
            "output_schemas": [self._output_schema_resource(o, src) for o in self.reads.output_schemas(src.id)],
        }

    def _output_schema_resource(self, schema: OutputSchema, src: Source) -> dict[str, Any]:
        """Until complete, ``completed_at``/``finished_at``, the counts and every transform's
        ``error_count`` are null (publishing.json: "nil if not yet complete")."""
        done = schema.complete()
        when = iso(schema.completed_at) if done else None
        errors = schema.column_errors or {}
        inputs = {c["field_name"]: _input_column_id(src, i) for i, c in enumerate(src.input_columns or [])}
        columns = []
        for col in schema.columns:
            transform = col["transform"]
            reads = compile_transform(transform["transform_expr"], src.input_types(), transform["output_soql_type"])
            columns.append(
                {
                    **{k: v for k, v in col.items() if k not in ("dataset_column_id", "transform")},
                    "transform": {
                        **transform,
                        "transform_input_columns": [{"input_column_id": inputs[reads.column]}] if reads.column else [],
                        "finished_at": when,
                        "failed_at": iso(schema.completed_at) if schema.state == "failed" else None,
                        "error_count": errors.get(col["field_name"], 0) if done else None,
                    },
                }
            )
        return {
            "id": schema.id,
            "input_schema_id": schema.input_schema_id,
            "created_at": iso(schema.created_at),
            "created_by": schema.created_by,
            "finished_at": when,
            "completed_at": when,
            "total_rows": schema.total_rows if done else None,
            "error_count": schema.error_count if done else None,
            "output_columns": columns,
            "sort_bys": [],  # socrata-py's OutputSchema.run reads it; the emulator keeps no sort
        }


def _input_column_id(src: Source, position: int) -> int:
    return src.input_schema_id * 1000 + position


def _output_schema_links(input_schema: str) -> dict[str, str]:
    """Names as socrata-py uses them (``show``, ``rows``, ``schema_errors``); the paths of rows
    and errors are the emulator's own (publishing.json documents neither)."""
    return {
        "show": f"{input_schema}/output/{{output_schema_id}}",
        "rows": f"{input_schema}/rows/{{output_schema_id}}",
        "schema_errors": f"{input_schema}/errors/{{output_schema_id}}",
    }


def _input_schema_links(input_schema: str) -> dict[str, Any]:
    """An input schema's links, templated on ``{input_schema_id}`` in a source's answer (socrata-py
    fills them in); ``transform`` is the link publishing.json's examples follow."""
    return {
        "show": input_schema,
        "transform": input_schema,
        "latest_output": f"{input_schema}/output/latest",
        "output_schema_links": _output_schema_links(input_schema),
    }
