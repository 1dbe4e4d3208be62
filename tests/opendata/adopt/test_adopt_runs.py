"""`opendata adopt` against the emulator: a public dataset created outside the pipeline is taken
over by the command line, its file (TODOs replaced) builds a DAG, and real ``dag.test()`` runs
send only what changed, never create a dataset, and stop before any write on a column mismatch."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
import yaml

from opendata.cli import main
from opendata.registry import Stage
from opendata.scaffold.todo import is_todo
from opendata.spec.loader import load_catalog
from tests.opendata.adopt.support import bike_rows, create_public_dataset, write_csv

ADOPTER = "maria-alvarez"


def adopt(world, *args: str) -> int:
    return main(["adopt", *args, "--by", ADOPTER, "--include", str(world.include)])


def fill_todos(path: Path, answers: dict[str, object]) -> dict:
    """Replace the file's TODOs as a person would (``answers`` by dotted path); none may be left."""
    data = yaml.safe_load(path.read_text())

    def walk(node, where):
        if isinstance(node, dict):
            for key, value in node.items():
                here = f"{where}.{key}" if where else key
                node[key] = answers[here] if here in answers else walk(value, here)
        elif isinstance(node, list):
            return [answers.get(f"{where}[{i}]", walk(item, f"{where}[{i}]")) for i, item in enumerate(node)]
        elif is_todo(node):
            raise AssertionError(f"TODO left at {where}: {node}")
        return node

    walk(data, "")
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return data


def answers_for(source_csv: Path) -> dict[str, object]:
    return {
        "steward.email": "omar.haddad@ehd.lacity.example",
        "coverage.start_date": "2024-01-01",
        "coverage.geographic_coverage": "City of Los Angeles",
        "coverage.geographic_granularity": "address",
        "collection_frequency": "daily",
        "priority.level": "medium",
        "data_quality.rating": "high",
        "columns[3].description": "Riders the counter counted that day.",
        "source": {"kind": "file", "path": str(source_csv)},
    }


def emulator_requests(world, template: str) -> int:
    return sum(n for key, n in world.emu.stats()["requests"].items() if key.endswith(template))


def adopted_bikes(world, tmp_path, rows=None, **create):
    rows = rows if rows is not None else bike_rows(400)
    portal_id = create_public_dataset(world.emu, name="Bike Counts", rows=rows, **create)
    source = write_csv(tmp_path / "bikes.csv", rows)
    assert adopt(world, portal_id) == 0
    path = world.include / "datasets" / "environmental-health" / "bike-counts.yaml"
    return portal_id, source, path, rows


@pytest.mark.parametrize("portal_mode", ["lenient", "strict"])
def test_adopt_then_the_first_refresh_sends_only_the_changed_rows(world, tmp_path, capsys, portal_mode):
    portal_id, source, path, rows = adopted_bikes(world, tmp_path)
    out = capsys.readouterr().out
    assert any(line.startswith(f"adopted          {portal_id}  as bike-counts -> {path}") for line in out.splitlines())
    assert "TODO(s) to fill" in out and "columns[3].description: TODO:" in out

    # The file: everything the portal knows, mapped back; TODOs where a person must write.
    text = path.read_text()
    assert f"# Adopted from the portal: {world.emu.url}/d/{portal_id}" in text
    assert "\n# Update / Date Made Public: 12/31/2019\n" in text and "\n# Dataset Information / Agency: EHD\n" in text
    data = yaml.safe_load(text)
    assert (data["name"], data["department"], data["update_frequency"], data["coordinator"]) == (
        "Bike Counts", "environmental-health", "daily", "kevin-nguyen")
    assert data["classification"] == {"category": "public", "level": 1}
    assert data["existing_publication"] == {"published": True, "link": f"{world.emu.url}/d/{portal_id}"}
    assert data["publishing"]["license"] == "CC0_10" and data["publishing"]["row_identifier"] == "count_id"
    assert data["publishing"]["tags"] == ["bicycles", "counts"]
    assert data["steward"]["name"] == "Omar Haddad" and is_todo(data["steward"]["email"])
    assert [(c["field_name"], c["type"]) for c in data["columns"]] == [
        ("count_id", "text"), ("location", "text"), ("counted_on", "floating_timestamp"), ("riders", "number"),
        ("weekend", "checkbox")]
    assert is_todo(data["columns"][3]["description"]) and is_todo(data["source"])
    assert "bike-counts" not in [d.spec.id for d in load_catalog(world.include).datasets]  # TODOs left: no DAG

    # The registry: public (Stage 2) with its portal id, "adopted on ... by ...".
    state = world.registry().get_state("bike-counts")
    assert (state.stage, state.portal_id, state.adopted, state.adopted_by) == (
        Stage.STAGE_2, portal_id, True, "Maria Alvarez")
    (change,) = world.registry().history("bike-counts")
    assert change.notes == f"adopted on {dt.datetime.now(dt.UTC):%Y-%m-%d} by Maria Alvarez"

    # The TODOs replaced, the file loads; 3 of the 400 source rows change.
    fill_todos(path, answers_for(source))
    catalog = load_catalog(world.include)
    assert catalog.errors == [] and catalog.get("bike-counts").spec.publishing.row_identifier == "count_id"
    for n in (10, 200, 399):
        rows[n] = {**rows[n], "riders": rows[n]["riders"] + 1}
    write_csv(source, rows)
    world.emu.reset_stats()
    run = world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert run.state == "success"
    counted = world.emu.stats()["rows"][portal_id]
    assert (counted["received"], counted["created"], counted["updated"], counted["deleted"]) == (3, 0, 3, 0)
    assert emulator_requests(world, "/api/views.json") == 0   # nothing created
    rider = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"count_id": "C00200"}, timeout=10)
    assert rider.json()[0]["riders"] == str(rows[200]["riders"])
    state = world.registry().get_state("bike-counts")
    assert (state.stage, state.published_rows) == (Stage.REFRESHING, 400) and state.fingerprint_path

    # From then on the extract is compared with the confirmed fingerprint: nothing changed, nothing sent.
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).state == "success"
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0


def test_a_lost_answer_on_the_first_refresh_sends_nothing_twice(world, tmp_path):
    portal_id, source, path, rows = adopted_bikes(world, tmp_path)
    fill_todos(path, answers_for(source))
    world.set_in_dataset("bike-counts", "dag.retries", 0)
    rows[5] = {**rows[5], "location": "Sunset Blvd"}
    rows.append({**rows[0], "count_id": "C99999"})
    del rows[100]
    write_csv(source, rows)
    # Every upsert is applied and its answer lost, the transport's retries too: the task fails.
    world.emu.set_faults(rate=1.0, kinds=["502"], after_ratio=1.0, methods=["POST"], path_prefixes=["/resource/"],
                         count=8)
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)).state == "failed"
    world.emu.clear_faults()
    assert world.registry().get_state("bike-counts").fingerprint_path is None  # nothing recorded as confirmed
    # The next attempt compares with the portal's rows again, which hold the upserted rows already: they are
    # not sent again; only the deletion the failed attempt never reached goes.
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).state == "success"
    counted = world.emu.stats()["rows"][portal_id]
    assert (counted["received"], counted["created"], counted["updated"], counted["deleted"]) == (1, 0, 0, 1)
    assert emulator_requests(world, "/api/views.json") == 0
    held = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 1000, "$order": ":id"},
                        timeout=10).json()
    assert sorted(r["count_id"] for r in held) == sorted(r["count_id"] for r in rows)
    assert next(r for r in held if r["count_id"] == "C00005")["location"] == "Sunset Blvd"
    state = world.registry().get_state("bike-counts")
    assert (state.published_rows, state.stage) == (400, Stage.REFRESHING)


def test_a_column_mismatch_fails_before_any_write(world, tmp_path):
    portal_id, source, path, rows = adopted_bikes(world, tmp_path)
    data = fill_todos(path, answers_for(source))
    data["columns"][3]["type"] = "text"                       # riders: number on the portal
    data["columns"].append({"field_name": "notes", "display_name": "Notes", "type": "text",
                            "description": "Remarks of the counting team.", "source_column": "location"})
    data["refresh"] = {"max_deleted_share": 0.05}
    path.write_text(yaml.safe_dump({**data, "dag": {"retries": 0}}, sort_keys=False))
    rows[1] = {**rows[1], "riders": 9999}
    write_csv(source, rows)
    world.emu.reset_stats()
    run = world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC))
    assert run.state == "failed"
    failed = {ti.task_id for ti in run.get_task_instances() if ti.state == "failed"}
    assert failed & {"shrink_approval", "refresh"}
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0
    assert world.registry().get_state("bike-counts").fingerprint_path is None


def test_an_adopted_dataset_the_registry_lost_is_never_created(world, tmp_path):
    portal_id, source, path, rows = adopted_bikes(world, tmp_path)
    fill_todos(path, answers_for(source))
    world.set_in_dataset("bike-counts", "dag.retries", 0)
    import sqlalchemy as sa

    registry = world.registry()
    with registry.engine.begin() as conn:  # someone cleared its portal id by hand
        conn.execute(sa.text("UPDATE opendata_dataset_state SET portal_id = NULL WHERE dataset_id = 'bike-counts'"))
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)).state == "failed"
    with registry.engine.begin() as conn:  # ... or deleted its row: the file's link still says where it is
        conn.execute(sa.text("DELETE FROM opendata_dataset_state WHERE dataset_id = 'bike-counts'"))
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).state == "failed"
    assert emulator_requests(world, "/api/views.json") == 0
    assert world.emu.stats()["rows"].get(portal_id, {}).get("received", 0) == 0


def test_an_adopted_dataset_without_a_row_identifier_is_compared_as_a_whole(world, tmp_path):
    portal_id, source, path, rows = adopted_bikes(world, tmp_path, rows=bike_rows(120), row_identifier=None)
    data = fill_todos(path, answers_for(source))
    assert "row_identifier" not in data["publishing"]
    # The same content as the portal's: nothing is sent, no revision opened.
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)).state == "success"
    stats = world.emu.stats()
    assert stats["rows"].get(portal_id, {}).get("received", 0) == 0
    assert stats["revisions"].get(portal_id, {}).get("opened", 0) == 0
    assert world.registry().get_state("bike-counts").published_checksum is not None
    # One value changed: the whole dataset is replaced, atomically, through one revision.
    rows[7] = {**rows[7], "riders": rows[7]["riders"] + 1}
    write_csv(source, rows)
    world.emu.reset_stats()
    assert world.dag("bike-counts").test(logical_date=dt.datetime(2026, 12, 2, tzinfo=dt.UTC)).state == "success"
    revisions = world.emu.stats()["revisions"][portal_id]
    assert (revisions["opened"], revisions["applied"]) == (1, 1)
    assert emulator_requests(world, "/api/views.json") == 0
    held = requests.get(f"{world.emu.url}/resource/{portal_id}.json", params={"$limit": 1000}, timeout=10).json()
    assert len(held) == 120
