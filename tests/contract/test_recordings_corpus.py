"""The recorded-response corpus is well formed and traceable, and its shape helpers work.

The mirror checks need the bare git mirrors under /work/.mirror (or CONTRACT_MIRROR_ROOT);
a CI clone without them skips those tests and runs the rest.
"""

from __future__ import annotations

import collections.abc
import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.contract import build_corpus
from tests.contract.recordings import (
    KINDS,
    RECORDINGS_DIR,
    KeyTracker,
    Recording,
    all_recordings,
    compare_shapes,
    extra_keys,
    key_paths,
    load,
    names,
    shape,
)

MIRROR_ROOT = Path(os.environ.get("CONTRACT_MIRROR_ROOT", "/work/.mirror"))
README = Path(__file__).resolve().parent / "README.md"
ALL = names()


def _mirror(repo: str) -> Path:
    return MIRROR_ROOT / repo.replace("/", "+") / "repo"


def _need_mirror(repo: str) -> Path:
    path = _mirror(repo)
    if not path.is_dir():
        pytest.skip(f"mirror of {repo} not available at {path}")
    return path


# ---------------------------------------------------------------------------------------------
# The corpus


def test_corpus_is_not_empty_and_names_are_files():
    assert len(ALL) >= 30
    assert ALL == sorted(p.stem for p in RECORDINGS_DIR.glob("*.json"))
    assert not [p for p in RECORDINGS_DIR.iterdir() if p.suffix != ".json"]


@pytest.mark.parametrize("name", ALL)
def test_recording_loads_and_is_well_formed(name):
    rec = load(name)
    assert isinstance(rec, Recording) and rec.name == name
    assert load(f"{name}.json").body == rec.body
    src = rec.source
    for key in ("repo", "path", "commit", "what", "kind"):
        assert isinstance(src.get(key), str) and src[key].strip(), f"source.{key} missing or empty"
    assert re.fullmatch(r"[0-9a-f]{40}", src["commit"]), src["commit"]
    assert re.fullmatch(r"[\w.-]+/[\w.-]+", src["repo"]), src["repo"]
    assert src["kind"] in KINDS
    assert rec.request["method"] in {"GET", "POST", "PUT", "PATCH", "DELETE"}
    assert rec.request["path"].startswith("/")
    assert isinstance(rec.request["query"], dict)
    assert rec.status is None or (isinstance(rec.status, int) and 100 <= rec.status < 600)
    assert isinstance(rec.headers, dict)
    assert rec.body is not None
    json.dumps(rec.body)  # plain JSON
    if src["kind"] == "recorded" and src["repo"] == "afeld/sodapy" and "cassettes" in src["path"]:
        assert rec.header("date"), "a cassette recording keeps its Date header"
        assert isinstance(src.get("interaction"), int)
    if src["kind"] == "documented-schema":
        assert src.get("pointer", "").startswith("#/"), "a schema skeleton cites its JSON pointer"


def test_load_returns_independent_copies_and_unknown_names_fail():
    a = load("views_get_uczf-rk3c")
    a.body["approvals"].clear()
    assert load("views_get_uczf-rk3c").body["approvals"], "load() must not share mutable bodies"
    with pytest.raises(FileNotFoundError):
        load("no_such_recording")


def test_all_recordings_matches_names():
    assert [r.name for r in all_recordings()] == ALL


def test_readme_lists_every_recording():
    text = README.read_text(encoding="utf-8")
    missing = [n for n in ALL if f"`{n}.json`" not in text]
    assert not missing, f"README.md table lacks {missing}"


@pytest.mark.parametrize("name", ALL)
def test_cited_path_exists_in_mirror_at_commit(name):
    src = load(name).source
    git_dir = _need_mirror(src["repo"])
    done = subprocess.run(
        ["git", "-C", str(git_dir), "cat-file", "-e", f"{src['commit']}:{src['path']}"], capture_output=True
    )
    assert done.returncode == 0, f"{src['repo']}@{src['commit'][:10]} has no {src['path']}"


def test_corpus_is_reproducible_from_the_mirrors(capsys):
    for repo in build_corpus.PINNED:
        _need_mirror(repo)
    assert build_corpus.main(["--check"]) == 0, capsys.readouterr().out


def test_builder_pins_the_commits_the_recordings_cite():
    cited = {(r.source["repo"], r.source["commit"]) for r in all_recordings()}
    assert cited == set(build_corpus.PINNED.items())


# Facts the contract tests rely on; each is stated in the recording's "what".


def test_view_metadata_recording_has_approvals_and_public_grant():
    view = load("views_get_uczf-rk3c")
    assert view.kind == "recorded" and view.request["path"] == "/api/views/uczf-rk3c.json"
    assert view.body["publicationStage"] == "published"
    assert {"flags": ["public"], "inherited": False, "type": "viewer"} in view.body["grants"]
    (approval,) = view.body["approvals"]
    assert approval["state"] == "approved" and approval["reviewedAutomatically"] is True
    assert "reviewer" not in approval and "notes" not in approval
    assert load("views_get_uczf-rk3c_approvals").body == view.body["approvals"]


def test_create_response_is_unpublished():
    created = load("views_create_foobar")
    assert (created.request["method"], created.request["path"]) == ("POST", "/api/views.json")
    assert [c["fieldName"] for c in created.request["request_body"]["columns"]] == ["foo", "bar"]
    assert created.body["publicationStage"] == "unpublished"
    assert created.body["metadata"]["rowIdentifier"] == created.body["rowIdentifierColumnId"]


def test_row_reports_and_errors():
    report_keys = {"Errors", "Rows Deleted", "Rows Updated", "By SID", "Rows Created", "By RowIdentifier"}
    assert set(load("resource_upsert_songs").body) == report_keys
    assert set(load("resource_replace_songs").body) == report_keys
    assert load("resource_upsert_403").status == 403
    view_404, rows_404 = load("views_get_missing_404"), load("resource_get_missing_404")
    assert (view_404.status, view_404.body["code"], view_404.header("X-Error-Code")) == (404, "not_found", "not_found")
    assert (rows_404.status, rows_404.body["code"], rows_404.header("X-Error-Code")) == (404, "dataset.missing", None)


def test_row_read_keeps_soda2_headers():
    rows = load("resource_get_uczf-rk3c")
    assert json.loads(rows.header("X-SODA2-Fields")) == ["countid", "id", "date", "counts", "status"]
    assert json.loads(rows.header("X-SODA2-Types"))[2] == "floating_timestamp"
    assert len(rows.body) == 5 and "first 5 of 1000" in rows.source["truncated"]


def test_discovery_recording_was_made_without_show_visibility():
    cat = load("catalog_v1_nyc_limit7")
    assert "show_visibility" not in cat.request["query"]
    assert all(set(r["metadata"]) == {"domain"} for r in cat.body["results"])
    schema = load("catalog_v1_show_visibility_schema")
    assert schema.kind == "documented-schema"
    assert {"is_public", "is_published", "is_hidden", "visible_to_anonymous"} <= set(
        schema.body["results"][0]["metadata"]
    )


def test_dsmapi_output_schema_documents_finished_at_not_completed_at():
    out = load("dsmapi_output_schema_schema").body["resource"]
    assert "finished_at" in out and "completed_at" not in out
    taskset = load("dsmapi_apply_taskset_schema").body["resource"]
    assert "key" not in taskset and "finished_at" in taskset


# ---------------------------------------------------------------------------------------------
# shape


def test_shape_of_scalars_objects_and_lists():
    assert shape("a") == "string"
    assert shape(1) == "number" and shape(1.5) == "number"
    assert shape(True) == "boolean", "bool must not be read as a number"
    assert shape(None) == "null"
    assert shape([]) == []
    assert shape({"a": [1, 2], "b": {"c": None}}) == {"a": ["number"], "b": {"c": "null"}}


def test_shape_of_a_list_is_the_union_of_its_items():
    assert shape([{"a": 1}, {"b": "x"}]) == [{"a": "number", "b": "string"}]
    assert shape([{"a": 1}, {"a": None}]) == [{"a": ("null", "number")}]
    assert shape([1, "x", None]) == [("null", "number", "string")]
    assert shape([[], [1]]) == [["number"]]
    assert shape([{"a": 1}, "x"]) == [("string", {"a": "number"})]


def test_shape_rejects_non_json_values():
    with pytest.raises(TypeError):
        shape({"a": object()})


# ---------------------------------------------------------------------------------------------
# compare_shapes and extra_keys


def test_compare_shapes_identical_and_superset_are_clean():
    rec = load("views_get_uczf-rk3c").body
    assert compare_shapes(rec, rec) == []
    assert compare_shapes(rec, {**rec, "brandNewKey": 1}) == []


def test_compare_shapes_reports_missing_keys_once_at_the_top():
    rec = {"a": 1, "b": {"c": 1, "d": {"e": 1}}}
    assert compare_shapes(rec, {"a": 1}) == ["missing key: b"]
    assert compare_shapes(rec, {"a": 1, "b": {"c": 1}}) == ["missing key: b.d"]


def test_compare_shapes_reports_type_differences_with_paths():
    approvals = load("views_get_uczf-rk3c_approvals").body
    emulated = copy.deepcopy(approvals)
    emulated[0]["reviewedAt"] = "2020-01-01T00:00:00Z"
    assert compare_shapes(approvals, emulated) == ["type differs at [].reviewedAt: recorded number, actual string"]
    assert compare_shapes({"x": {"y": 1}}, {"x": [1]}) == ["type differs at x: recorded object, actual array"]
    assert compare_shapes([1], {"a": 1}) == ["type differs at (root): recorded array, actual object"]


def test_compare_shapes_null_is_compatible_and_empty_lists_say_nothing():
    assert compare_shapes({"a": None}, {"a": "x"}) == []
    assert compare_shapes({"a": "x"}, {"a": None}) == []
    assert compare_shapes({"a": []}, {"a": [{"z": 1}]}) == []
    assert compare_shapes({"a": [{"z": 1}]}, {"a": []}) == []
    assert compare_shapes({"a": ["x", 1]}, {"a": [1]}) == [], "actual may use a subset of the recorded types"
    assert compare_shapes({"a": [1]}, {"a": [1, "x"]}) == ["type differs at a[]: recorded number, actual number|string"]


def test_compare_shapes_looks_inside_list_items():
    rec = {"approvals": [{"state": "approved", "submitter": {"id": "x"}}]}
    act = {"approvals": [{"state": "approved", "submitter": {}}]}
    assert compare_shapes(rec, act) == ["missing key: approvals[].submitter.id"]


def test_extra_keys_lists_only_keys_actual_adds():
    rec = {"approvals": [{"state": "approved"}], "id": "x"}
    act = {"approvals": [{"state": "approved", "reviewer": {"id": "r", "name": "n"}}], "id": "x", "new": {"k": 1}}
    assert extra_keys(rec, act) == ["approvals[].reviewer", "new"]
    assert extra_keys(act, rec) == []
    assert extra_keys(rec, rec) == []
    assert extra_keys({"a": []}, {"a": [{"b": 1}]}) == [], "nothing to compare against an empty recorded list"


def test_extra_keys_against_a_real_recording():
    view = load("views_get_uczf-rk3c").body
    emulated = copy.deepcopy(view)
    emulated["approvals"][0]["reviewer"] = {"id": "abcd-1234"}
    del emulated["tags"]
    assert extra_keys(view, emulated) == ["approvals[].reviewer"]
    assert compare_shapes(view, emulated) == ["missing key: tags"]


def test_key_paths():
    assert key_paths({"a": [{"b": 1}, {"c": {"d": 2}}], "e": []}) == ["a", "a[].b", "a[].c", "a[].c.d", "e"]
    assert key_paths([{"x": 1}]) == ["[].x"]
    assert key_paths("scalar") == []


def test_pick_follows_body_path():
    approvals = load("views_get_uczf-rk3c_approvals")
    whole = load("views_get_uczf-rk3c").body
    assert approvals.pick(whole) == whole["approvals"]
    view = load("views_get_uczf-rk3c")
    assert view.pick(whole) is whole
    with pytest.raises(KeyError):
        approvals.pick({"id": "x"})


# ---------------------------------------------------------------------------------------------
# KeyTracker


def _parse_view(view):
    """A stand-in for a parser: reads a few keys the way project code does."""
    out = {"stage": view.get("publicationStage"), "states": []}
    approvals = view.get("approvals")
    if isinstance(approvals, list):
        for rec in approvals:
            if isinstance(rec, collections.abc.Mapping):
                out["states"].append(rec["state"])
                out["who"] = rec.get("submitter", {}).get("displayName")
                out["has_reviewer"] = "reviewer" in rec
    return out


def test_key_tracker_records_reads_with_list_paths():
    view = load("views_get_uczf-rk3c").body
    tracker = KeyTracker(view)
    assert tracker.read_paths() == []
    parsed = _parse_view(tracker.value)
    assert parsed == {"stage": "published", "states": ["approved"], "who": "afinkel", "has_reviewer": False}
    assert tracker.read_paths() == [
        "approvals",
        "approvals[].reviewer",
        "approvals[].state",
        "approvals[].submitter",
        "approvals[].submitter.displayName",
        "publicationStage",
    ]
    assert tracker.missing_reads() == ["approvals[].reviewer"]
    unread = tracker.unread_paths()
    assert "approvals[].reviewedAt" in unread and "publicationStage" not in unread


def test_key_tracker_values_pass_isinstance_checks():
    tracker = KeyTracker({"a": {"b": [1, {"c": 2}]}})
    v = tracker.value
    assert isinstance(v, collections.abc.Mapping) and isinstance(v, dict)
    assert isinstance(v["a"]["b"], list) and isinstance(v["a"]["b"], collections.abc.Sequence)
    assert isinstance(v["a"]["b"][1], collections.abc.Mapping)
    assert tracker.read_paths() == ["a", "a.b"], "indexing a list is not a key read"


def test_key_tracker_iteration_reads_every_key():
    for read in (
        lambda d: list(d),
        lambda d: list(d.keys()),
        lambda d: list(d.items()),
        lambda d: list(d.values()),
        lambda d: dict(d),
        lambda d: {**d},
        lambda d: d.copy(),
        lambda d: [k for k in d],
    ):
        tracker = KeyTracker({"x": 1, "y": {"z": 2}})
        read(tracker.value)
        assert tracker.read_paths() == ["x", "y"], read


def test_key_tracker_contains_get_and_getitem_each_count():
    for read, expected in (
        (lambda d: "x" in d, ["x"]),
        (lambda d: d.get("missing"), ["missing"]),
        (lambda d: d["y"]["z"], ["y", "y.z"]),
        (lambda d: d.setdefault("x"), ["x"]),
        (lambda d: len(d), []),
        (lambda d: bool(d), []),
    ):
        tracker = KeyTracker({"x": 1, "y": {"z": 2}})
        read(tracker.value)
        assert tracker.read_paths() == expected, read
    tracker = KeyTracker({"x": 1})
    with pytest.raises(KeyError):
        tracker.value["nope"]
    assert tracker.missing_reads() == ["nope"]


def test_key_tracker_json_and_dict_round_trip():
    body = load("views_get_uczf-rk3c").body
    tracker = KeyTracker(body)
    with tracker.paused():
        text = json.dumps(tracker.value)
        plain = dict(tracker.value)
    assert tracker.read_paths() == [], "paused() keeps serialisation out of the log"
    assert json.loads(text) == body
    assert plain == body and set(plain) == set(body)
    json.dumps(tracker.value)
    assert set(tracker.read_paths()) == set(key_paths(body)), "json.dumps reads every key"
    assert tracker.unread_paths() == []
    tracker.reset()
    assert tracker.read_paths() == []


def test_key_tracker_copies_are_plain_and_raw_is_untouched():
    body = {"a": [{"b": 1}]}
    tracker = KeyTracker(body)
    tracker.value["a"][0]["b"] = 99
    assert body == {"a": [{"b": 1}]}, "the tracked value is a copy"
    clone = copy.deepcopy(tracker.value)
    assert type(clone) is dict and type(clone["a"]) is list and type(clone["a"][0]) is dict
    assert tracker.raw is body


def test_key_tracker_works_on_a_top_level_list():
    tracker = KeyTracker(load("resource_get_uczf-rk3c").body)
    assert [row["countid"] for row in tracker.value][:2] == ["19831896", "19831897"]
    assert tracker.read_paths() == ["[].countid"]
