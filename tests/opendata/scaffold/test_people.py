from __future__ import annotations

import pytest

from opendata.scaffold.errors import ScaffoldError
from opendata.scaffold.people import load_department_people
from opendata.scaffold.todo import is_todo, todo


def test_the_departments_first_coordinator_and_its_name(include_dir):
    people = load_department_people(include_dir, "sanitation")
    assert people.coordinator == "samuel-okafor"
    assert people.department_name == "LA Sanitation and Environment"
    assert people.steward() == {"name": "Samuel Okafor", "email": "samuel.okafor@lasan.lacity.example"}
    assert people.contact()["email"] == "samuel.okafor@lasan.lacity.example"
    assert people.leadership == ("helen-wu",)


def test_unknown_department_names_it_and_hints(include_dir):
    with pytest.raises(ScaffoldError) as caught:
        load_department_people(include_dir, "sanitaton")
    assert "unknown department 'sanitaton'" in str(caught.value)
    assert caught.value.hint == "sanitation"


def test_todo_marker():
    assert todo("describe  the\nrows") == "TODO: describe the rows"
    assert is_todo("  TODO: x") and not is_todo("todo: x") and not is_todo(3) and not is_todo("A TODO: x")
