"""A ``TODO:`` left in a dataset file (what `opendata new` writes where a person must) is one error
per TODO, at its field, and the file builds no DAG; the other files still load."""

from __future__ import annotations

from opendata.spec.loader import load_catalog
from tests.opendata.spec.conftest import GOOD_FILE, edit

SAMPLE_IDS = ["building-permits", "restaurant-inspections", "service-requests-311"]


def _with_todos(include):
    path = include / GOOD_FILE
    edit(path, "description: >-\n", "description: >-\n  TODO: describe in plain English\n  what a row is.\n  ")
    edit(path, "start_date: 2025-01-01", "start_date: 'TODO: the first day the data covers'")
    edit(path, "update_frequency: daily", "update_frequency: \"  TODO: how often\"")
    edit(path, "tags: [\"311\", service requests, sanitation]", "tags: [\"311\", \"TODO: a tag\"]")
    edit(path, "description: Open, Pending, Closed or Cancelled.", "description: 'TODO: what status means'")
    return path


def test_each_todo_is_one_error_at_its_field_and_nothing_else(include_copy):
    path = _with_todos(include_copy)
    catalog = load_catalog(include_copy)
    assert sorted(d.spec.id for d in catalog.datasets) == [i for i in SAMPLE_IDS if i != "service-requests-311"]
    assert [(e.field, e.message) for e in catalog.errors] == [
        # A long TODO is quoted up to 200 characters.
        ("description", "TODO left: describe in plain English what a row is. Service requests made through "
                        "MyLA311 (phone, app, web and e-mail) that LA Sanitation and Environment handles: bulky "
                        "item pickups, illegal dumping, graffiti ..."),
        ("coverage.start_date", "TODO left: the first day the data covers"),
        ("update_frequency", "TODO left: how often"),
        ("publishing.tags[1]", "TODO left: a tag"),
        ("columns[4].description", "TODO left: what status means"),
    ]
    lines = path.read_text().splitlines()
    assert [e.line for e in catalog.errors] == [
        next(i for i, line in enumerate(lines, 1) if line.startswith(key)) for key in
        ("description:", "  start_date:", "update_frequency:", "  tags:", "    description: 'TODO")]
    assert str(catalog.errors[1]) == f"{path}:{catalog.errors[1].line}: coverage.start_date: TODO left: " \
                                     f"the first day the data covers"


def test_a_todo_in_a_planned_file_is_an_error_too(include_copy):
    edit(include_copy / "datasets/building-and-safety/soft-story-retrofit-orders.yaml",
         "details: Compliance dates are keyed by inspectors; a few early orders have no priority group.",
         "details: 'TODO: say what is known'")
    catalog = load_catalog(include_copy)
    assert [(e.field, e.message) for e in catalog.errors] == [("data_quality.details",
                                                               "TODO left: say what is known")]
    assert catalog.planned == []


def test_text_that_mentions_a_todo_is_not_one(include_copy):
    edit(include_copy / GOOD_FILE, "description: Open, Pending, Closed or Cancelled.",
         "description: 'Status, no TODO: here. Open, Pending, Closed or Cancelled.'")
    catalog = load_catalog(include_copy)
    assert catalog.errors == [] and len(catalog.datasets) == 3


def test_cached_results_carry_the_todos(include_copy, tmp_path, monkeypatch):
    from opendata.spec import cache as cache_module
    from opendata.spec.cache import ParseCache

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)
    _with_todos(include_copy)
    state = tmp_path / "state"
    first = ParseCache.for_include(include_copy, state)
    expected = [(e.field, e.message, e.line) for e in load_catalog(include_copy, cache=first).errors]
    first.save()
    assert len(expected) == 5 and first.misses == 4
    again = ParseCache.for_include(include_copy, state)
    catalog = load_catalog(include_copy, cache=again)
    assert again.hits == 4 and again.misses == 0
    assert [(e.field, e.message, e.line) for e in catalog.errors] == expected
    assert "service-requests-311" not in [d.spec.id for d in catalog.datasets]
