"""The JSON Schema of dataset files, generated from the typed models, for editors.

Published as ``include/dataset.schema.json`` (``opendata schema --write``): an editor with a YAML
language server validates and completes a dataset file as it is typed. The models stay the
authority: the loader's checks that need other files (governance people, duplicate ids, paths,
SQL) are not in the schema, so a file the editor accepts is still checked by ``opendata lint``.

A dataset file has two shapes, chosen by ``status`` as the loader chooses its model
(``spec/status.py``): ``status: planned`` is a :class:`PlannedDataset`, anything else a
:class:`DatasetSpec`. The schema says so with ``if``/``then``/``else`` rather than ``oneOf``:
a validator then reports the errors of the one shape the file is, not of both, and the YAML
language server (VS Code's YAML extension) completes the keys of that shape. The root also lists
``status`` with both values, so completing it offers both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from opendata.spec.dataset import ACTIVE, PLANNED, SCHEMA_VERSION, STATUSES, DatasetSpec, PlannedDataset

SCHEMA_FILE = "dataset.schema.json"

_REF = "#/$defs/{model}"


def dataset_json_schema() -> dict[str, Any]:
    refs, definitions = models_json_schema([(DatasetSpec, "validation"), (PlannedDataset, "validation")],
                                           ref_template=_REF)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (f"Generated from opendata.spec.dataset.DatasetSpec and PlannedDataset (dataset-file schema "
                     f"version {SCHEMA_VERSION}) by `opendata schema --write`; do not edit by hand."),
        "title": "Dataset file",
        "description": (f"One dataset of the inventory: status {ACTIVE} (the default) is a dataset that runs "
                        f"(DatasetSpec); status {PLANNED} is one not ready to run yet, with a target_date "
                        f"(PlannedDataset)."),
        "type": "object",
        "properties": {
            "status": {"enum": list(STATUSES), "default": ACTIVE, "title": "Status",
                       "description": f"{ACTIVE}: the dataset's DAG runs; {PLANNED}: an inventory entry with a "
                                      f"target_date, no DAG yet"},
        },
        "if": {"properties": {"status": {"const": PLANNED}}, "required": ["status"]},
        "then": refs[(PlannedDataset, "validation")],
        "else": refs[(DatasetSpec, "validation")],
        **definitions,
    }


def schema_text() -> str:
    # Stable text (sorted keys, one trailing newline) so the committed file diffs cleanly.
    return json.dumps(dataset_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(include: Path) -> Path:
    return include / SCHEMA_FILE
