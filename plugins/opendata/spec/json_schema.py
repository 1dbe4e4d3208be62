"""The JSON Schema of dataset files, generated from the typed model, for editors.

Published as ``include/dataset.schema.json`` (``opendata schema --write``): an editor with a YAML
language server validates and completes a dataset file as it is typed. The model stays the
authority: the loader's checks that need other files (governance people, duplicate ids, paths,
SQL) are not in the schema, so a file the editor accepts is still checked by ``opendata lint``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opendata.spec.dataset import SCHEMA_VERSION, DatasetSpec

SCHEMA_FILE = "dataset.schema.json"


def dataset_json_schema() -> dict[str, Any]:
    schema = DatasetSpec.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (f"Generated from opendata.spec.dataset.DatasetSpec (dataset-file schema version "
                     f"{SCHEMA_VERSION}) by `opendata schema --write`; do not edit by hand."),
        **schema,
    }


def schema_text() -> str:
    # Stable text (sorted keys, one trailing newline) so the committed file diffs cleanly.
    return json.dumps(dataset_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path(include: Path) -> Path:
    return include / SCHEMA_FILE
