"""Adopted datasets in the registry: Stage 2 with the portal id and "adopted on ... by ..."."""

from __future__ import annotations

import datetime as dt

import pytest

from opendata.registry import AdoptionConflict, Registry, Stage
from tests.conftest import registry_on

T0 = dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def registry(request, tmp_path):
    with registry_on(request.param, tmp_path, "opendata_adoption") as reg:
        yield reg


def test_an_adoption_is_recorded_public_with_its_history(registry):
    since = dt.datetime(2020, 1, 2, tzinfo=dt.UTC)
    state = registry.record_adoption("bike-counts", "abcd-1234", by="Maria Alvarez", at=T0, public_since=since)
    assert (state.stage, state.portal_id, state.adopted, state.adopted_by) == (
        Stage.STAGE_2, "abcd-1234", True, "Maria Alvarez")
    assert (state.adopted_at, state.public_at, state.fingerprint_path) == (T0, since, None)
    (change,) = registry.history("bike-counts")
    assert (change.stage_from, change.stage_to, change.by, change.notes) == (
        None, Stage.STAGE_2, "Maria Alvarez", "adopted on 2026-11-28 by Maria Alvarez")
    assert registry.dataset_for_portal_id("abcd-1234").dataset_id == "bike-counts"
    assert registry.dataset_for_portal_id("zzzz-9999") is None


def test_an_adoption_never_takes_a_known_dataset_or_portal_id(registry):
    registry.record_portal_dataset("permits", "perm-0001")
    with pytest.raises(AdoptionConflict, match="managed by the pipeline"):
        registry.record_adoption("permits-copy", "perm-0001", by="Maria Alvarez", at=T0)
    with pytest.raises(AdoptionConflict, match="permits"):
        registry.record_adoption("permits", "othr-0002", by="Maria Alvarez", at=T0)
    registry.record_adoption("bikes", "bike-0001", by="Maria Alvarez", at=T0)
    with pytest.raises(AdoptionConflict, match="adopted on 2026-11-28") as refused:
        registry.record_adoption("bikes", "bike-0001", by="Someone Else", at=T0 + dt.timedelta(days=1))
    assert (refused.value.dataset_id, refused.value.portal_id) == ("bikes", "bike-0001")
    assert registry.get_state("permits-copy") is None
    assert len(registry.history("bikes")) == 1


def test_a_dataset_the_pipeline_published_is_not_adopted(registry):
    registry.record_portal_dataset("permits", "perm-0001")
    state = registry.get_state("permits")
    assert (state.adopted, state.adopted_at, state.adopted_by) == (False, None, None)


def test_a_registry_of_an_earlier_version_gains_the_adoption_columns(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = sa.create_engine(url)
    with old.begin() as conn:
        conn.execute(sa.text("CREATE TABLE opendata_dataset_state (dataset_id VARCHAR(100) PRIMARY KEY, "
                             "portal_id VARCHAR(20), stage VARCHAR(20) NOT NULL, updated_at DATETIME NOT NULL)"))
        conn.execute(sa.text("INSERT INTO opendata_dataset_state VALUES ('permits', 'abcd-1234', 'stage-2', "
                             "'2026-11-01 09:00:00')"))
    old.dispose()
    from opendata.registry import store

    store._READY.discard(url)
    registry = Registry(url)
    try:
        assert registry.get_state("permits").adopted is False
        registry.record_adoption("bikes", "bike-0001", by="Maria Alvarez", at=T0)
        assert registry.get_state("bikes").adopted_by == "Maria Alvarez"
    finally:
        registry.close()
