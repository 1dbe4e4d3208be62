from __future__ import annotations

import pytest
import yaml

from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.write import write_dataset_file


def _data(dataset_id="trees", department="sanitation"):
    return {"id": dataset_id, "department": department, "name": "Street Trees", "schema_version": 1}


def test_writes_the_file_in_its_department_folder(include_dir):
    path = write_dataset_file(include_dir, _data(), comments={("name",): "from the table name"})
    assert path == include_dir / "datasets" / "sanitation" / "trees.yaml"
    assert yaml.safe_load(path.read_text()) == _data()
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in path.parent.iterdir()] == ["trees.yaml"]  # no temporary file left


def test_refuses_to_replace_a_file_unless_told(include_dir):
    path = write_dataset_file(include_dir, _data())
    with pytest.raises(ScaffoldError, match="already exists; give --overwrite"):
        write_dataset_file(include_dir, {**_data(), "name": "Other"})
    assert yaml.safe_load(path.read_text())["name"] == "Street Trees"
    write_dataset_file(include_dir, {**_data(), "name": "Other"}, overwrite=True)
    assert yaml.safe_load(path.read_text())["name"] == "Other"


def test_refuses_an_id_held_by_another_department(include_dir):
    held = write_dataset_file(include_dir, _data())
    with pytest.raises(ScaffoldError, match=f"already held by {held}"):
        write_dataset_file(include_dir, _data(department="building-and-safety"), overwrite=True)


@pytest.mark.parametrize("dataset_id", ["../../etc/passwd", "a/b", "..", "Trees", "", "x\n", "-x", "${HOME}",
                                        "a" * 101])
def test_hostile_ids_never_become_paths(include_dir, dataset_id):
    with pytest.raises(ScaffoldError, match="dataset id"):
        write_dataset_file(include_dir, _data(dataset_id=dataset_id))
    assert list((include_dir / "datasets").iterdir()) == []


def test_hostile_department_refused(include_dir):
    with pytest.raises(ScaffoldError, match="department"):
        write_dataset_file(include_dir, _data(department="../x"))
