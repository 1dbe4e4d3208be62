"""SocrataHook's reads for taking over datasets (``describe_dataset``, ``list_catalog_datasets``)
against the emulator over HTTP: the catalog paged to its end, filtered by category and owner."""

from __future__ import annotations

import json

import pytest

from opendata.portal import Audience, ColumnSpec, DatasetMetadata, SocrataHook
from portal_emulator.testing import run_emulator

COLUMNS = [ColumnSpec("n", "N", "number", "A number."), ColumnSpec("d", "D", "calendar_date")]


@pytest.fixture(scope="module")
def hook(tmp_path_factory):
    with run_emulator(tmp_path_factory.mktemp("portal"), extra_args=("--require-socrata-host",)) as emu:
        user, password = emu.auth("publisher")
        mp = pytest.MonkeyPatch()
        mp.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", json.dumps({
            "conn_type": "socrata", "host": emu.url, "login": user, "password": password,
            "extra": {"max_retries": 1, "backoff_base": 0.05}}))
        with SocrataHook() as made:
            yield made
        mp.undo()


def test_the_catalog_is_paged_to_its_end_and_filtered(hook):
    parks = [hook.create_dataset(f"Parks {n}", COLUMNS, row_identifier="n",
                                 metadata=DatasetMetadata(category="Parks", tags=("p",))) for n in range(5)]
    hook.create_dataset("Health 1", COLUMNS, row_identifier=None, metadata=DatasetMetadata(category="Health"))
    listed = hook.list_catalog_datasets(categories=["Parks"], page_size=2)
    assert sorted(a.id for a in listed) == sorted(parks)
    assert {a.category for a in listed} == {"Parks"}
    owner = listed[0].owner_id
    assert owner and len(hook.list_catalog_datasets(owner=owner, page_size=4)) == 6
    assert hook.list_catalog_datasets(owner="nobo-dy00") == []
    described = hook.describe_dataset(parks[0])
    assert (described.name, described.category, described.row_identifier) == ("Parks 0", "Parks", "n")
    assert [(c.field_name, c.data_type, c.description) for c in described.columns] == [
        ("n", "number", "A number."), ("d", "calendar_date", "")]
    assert (described.published, described.audience, described.public_and_published) == (
        False, Audience.PRIVATE, False)
