"""The dataset-file schema: its version, and the JSON Schema published for editors."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from opendata.spec.dataset import SCHEMA_VERSION
from opendata.spec.json_schema import schema_path, schema_text
from opendata.spec.loader import load_catalog
from opendata.spec.validate import plain_yaml as load_yaml  # dates read as text, as editors do
from tests.opendata.spec.conftest import GOOD_FILE, edit

INCLUDE = Path(__file__).resolve().parents[3] / "include"


def test_the_published_schema_is_the_models():
    assert schema_path(INCLUDE).read_text(encoding="utf-8") == schema_text(), (
        "include/dataset.schema.json is out of date: run `opendata schema --write`")


def test_the_bundled_files_pass_the_published_schema_and_a_typo_does_not():
    import json

    schema = json.loads(schema_path(INCLUDE).read_text(encoding="utf-8"))
    files = sorted((INCLUDE / "datasets").rglob("*.yaml"))
    assert len(files) == 4  # three datasets that run and one planned (status: planned)
    for path in files:
        document = load_yaml(path.read_text(encoding="utf-8"))
        assert document["schema_version"] == SCHEMA_VERSION
        jsonschema.validate(document, schema)
    document["update_frequncy"] = document.pop("update_frequency")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)


@pytest.mark.parametrize(("written", "expected"), [
    ("2", "schema_version: 2 is newer than this deployment reads (schema version 1): upgrade civic-opendata"),
    ("0", "schema_version: schema versions start at 1; this deployment reads version 1: write 'schema_version: 1'"),
    ("'1'", "schema_version"),
    ("true", "schema_version"),
])
def test_another_schema_version_is_refused_saying_what_to_do(include_copy, written, expected):
    path = include_copy / GOOD_FILE
    edit(path, "schema_version: 1", f"schema_version: {written}")
    catalog = load_catalog(include_copy)
    messages = [str(error) for error in catalog.errors]
    assert len(messages) == 1 and str(path) in messages[0] and expected in messages[0], messages


def test_a_file_without_a_schema_version_is_read_as_version_1(include_copy):
    path = include_copy / GOOD_FILE
    edit(path, "schema_version: 1", "")
    catalog = load_catalog(include_copy)
    assert not catalog.errors
    assert {d.spec.schema_version for d in catalog.datasets} == {SCHEMA_VERSION}
