"""A folder of hostile and broken dataset files, as Airflow's DAG processor and `opendata lint`
see it: the good DAGs always load, the project's own DAGs stay its own, and the import error
names each broken file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dags.test_dag_integrity import NOT_DATASET_DAGS, REPO, dagbag

SECRET = "s3cr3t-portal-password-0xDEADBEEF"
SAMPLES = ["building-permits", "restaurant-inspections", "service-requests-311"]
SANITATION = "datasets/sanitation/service-requests-311.yaml"
PERMITS = "datasets/building-and-safety/building-permits.yaml"


@pytest.fixture
def deployment(tmp_path, monkeypatch) -> Path:
    """A private include folder and state folder, as the DAG processor sees them."""
    include = tmp_path / "include"
    shutil.copytree(REPO / "include", include, ignore=shutil.ignore_patterns("sample_sources"))
    (include / "sample_sources").mkdir()
    monkeypatch.setenv("OPENDATA_INCLUDE_DIR", str(include))
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AIRFLOW_CONN_SOCRATA_DEFAULT", SECRET)
    return include


def variant(include: Path, dataset_id: str, *edits: tuple[str, str], sample: str = SANITATION) -> Path:
    """A copy of a sample under another id, with text edits: one mistake per file."""
    source = include / sample
    text = source.read_text().replace(f"id: {source.stem}", f"id: {dataset_id}", 1)
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = source.with_name(f"{dataset_id}.yaml")
    path.write_text(text)
    return path


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


SOURCE = "  path: sample_sources/service_requests_311.csv"


def broken_files(include: Path, outside: Path) -> list[Path]:
    """One file per kind of hostile or broken input."""
    datasets = include / "datasets" / "sanitation"
    (include / "sample_sources" / "passwd.csv").symlink_to("/etc/passwd")
    (outside / "secret.yaml").write_text(f"password: {SECRET}\n")
    files = [
        variant(include, "env-secret", (SOURCE, "  path: '${AIRFLOW_CONN_SOCRATA_DEFAULT}'")),
        variant(include, "etc-passwd", (SOURCE, "  path: /etc/passwd")),
        variant(include, "dot-dot", (SOURCE, "  path: ../../../../../etc/passwd")),
        variant(include, "linked-source", (SOURCE, "  path: sample_sources/passwd.csv")),
        variant(include, "query-escape", ("query_file: building_permits.sql", "query_file: ../../../etc/passwd"),
                sample=PERMITS),
        variant(include, "opendata_freshness_monitor"),
        variant(include, "duplicate-keys", ("coordinator: samuel-okafor\n", "coordinator: samuel-okafor\nname: X\n")),
        variant(include, "forged-key", ("coordinator: samuel-okafor\n",
                                        'coordinator: samuel-okafor\n"x\\n/etc/fake.yaml:1: forged": 1\n')),
    ]
    # A newcomer reusing an established id (first by path, so only the record keeps the other).
    twin = include / "datasets" / "building-and-safety" / "service-requests-311.yaml"
    files.append(write(twin, (include / SANITATION).read_text().replace("department: sanitation",
                                                                       "department: building-and-safety")))
    huge = datasets / "huge.yaml"
    with open(huge, "wb") as handle:
        handle.truncate(26 * 1024 * 1024)
    pipe = datasets / "pipe.yaml"
    os.mkfifo(pipe)
    folder = datasets / "folder.yaml"
    folder.mkdir()
    linked = datasets / "linked-outside.yaml"
    linked.symlink_to(outside / "secret.yaml")
    laughs = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    laughs += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    files += [huge, pipe, folder, linked,
              write(datasets / "laughs.yaml", "\n".join(laughs) + "\n"),
              write(datasets / "deep.yaml", "a: " + "[" * 999 + "]" * 999 + "\n"),
              write(datasets / "many-values.yaml", "a: [" + ", ".join(["1"] * 60_000) + "]\n"),
              write(datasets / "latin1.yaml", "name: caf\xe9\n".encode("latin-1")),
              write(datasets / "bidi.yaml", "id: bidi\nname: \u202eevil\n"),
              write(datasets / "huge-int.yaml", "a: 1" + "0" * 5000 + "\n"),
              write(datasets / "empty.yaml", ""),
              write(datasets / "syntax.yaml", "id: syntax\ntags: [\n"),
              write(datasets / "two-documents.yaml", "a: 1\n---\nb: 2\n"),
              write(include / "datasets" / "stray.yaml", "id: stray\n")]
    return files


def past_go_live(include: Path) -> Path:
    return variant(include, "past-go-live", ("\ncolumns:\n", "\npublication:\n  not_before: 2020-01-01T09:00:00-08:00"
                                             "\ncolumns:\n"))


@pytest.mark.timeout(300)
def test_lint_and_the_dagbag_handle_a_folder_of_broken_files_of_every_kind(deployment, tmp_path):
    # The established datasets were parsed before: the state folder knows which file holds each id.
    assert sorted(set(dagbag().dag_ids) - NOT_DATASET_DAGS) == SAMPLES
    outside = tmp_path / "outside"
    outside.mkdir()
    broken = broken_files(deployment, outside)
    warned = past_go_live(deployment)

    lint = subprocess.run([sys.executable, "-m", "opendata", "lint"], capture_output=True, text=True, timeout=240,
                          env=os.environ.copy())
    assert lint.returncode == 1
    reported = {line.removeprefix("warning: ").split(":", 1)[0] for line in lint.stderr.splitlines()}
    assert reported == {str(path) for path in broken} | {str(warned)}
    assert f"warning: {warned}:" in lint.stderr
    assert lint.stdout.startswith(f"4 dataset file(s) valid, 1 planned, {len(lint.stderr.splitlines()) - 1} "
                                  f"error(s) in {len(broken)} file(s), 1 warning(s)")

    bag = dagbag()
    # The good DAGs all load, the monitor is still the project's own, and the established
    # service-requests-311 is still built from its own file.
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == sorted(SAMPLES + ["past-go-live"])
    assert bag.dags["opendata_freshness_monitor"].fileloc.endswith("freshness_monitor.py")
    assert "department:sanitation" in bag.dags["service-requests-311"].tags
    assert "is in the past" in bag.dags["past-go-live"].doc_md
    # One import error, on dataset_file_errors.py, naming every broken file.
    assert list(bag.import_errors) == ["dataset_file_errors.py"]
    message = bag.import_errors["dataset_file_errors.py"]
    for path in broken:
        assert str(path) in message, path
    for text in (lint.stdout, lint.stderr, message):
        assert SECRET not in text
        assert not any(line.startswith("/etc/fake.yaml") for line in text.splitlines())


def test_a_dataset_id_cannot_replace_the_freshness_monitor(deployment):
    path = variant(deployment, "opendata_freshness_monitor")
    bag = dagbag()
    monitor = bag.dags["opendata_freshness_monitor"]
    assert monitor.fileloc.endswith("freshness_monitor.py")
    assert "plan" not in monitor.task_ids
    assert list(bag.import_errors) == ["dataset_file_errors.py"]
    assert f"{path}:2: id: 'opendata_freshness_monitor' is reserved" in bag.import_errors["dataset_file_errors.py"]
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == SAMPLES


def test_every_dag_the_project_defines_outside_dataset_files_has_a_reserved_id():
    from opendata.spec.reserved import is_reserved

    assert NOT_DATASET_DAGS and all(is_reserved(dag_id) for dag_id in NOT_DATASET_DAGS)
    assert all(is_reserved(dag_id) for dag_id in set(dagbag().dag_ids) - set(SAMPLES))


def test_a_newcomer_reusing_an_id_leaves_the_established_dag_in_airflow(deployment):
    established = deployment / SANITATION
    assert "department:sanitation" in dagbag().dags["service-requests-311"].tags
    twin = deployment / "datasets" / "building-and-safety" / "service-requests-311.yaml"
    twin.write_text(established.read_text().replace("department: sanitation", "department: building-and-safety")
                    .replace("coordinator: samuel-okafor", "coordinator: jorge-ramos"))

    bag = dagbag()
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == SAMPLES
    assert "department:sanitation" in bag.dags["service-requests-311"].tags
    assert (f"{twin}: id: dataset id 'service-requests-311' is already used by {established} (it held the id "
            "first), whose DAG keeps running") in bag.import_errors["dataset_file_errors.py"]


def test_an_oversized_file_is_named_and_every_other_dag_still_loads(deployment):
    huge = deployment / "datasets" / "sanitation" / "huge.yaml"
    with open(huge, "wb") as handle:
        handle.truncate(26 * 1024 * 1024)
    bag = dagbag()
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == SAMPLES
    assert (f"{huge}: (file): the file is 27,262,976 bytes, over the 1,048,576-byte limit for dataset files"
            in bag.import_errors["dataset_file_errors.py"])


def test_a_new_parse_takes_unchanged_files_from_the_cache(deployment, monkeypatch):
    from opendata.spec import cache as cache_module
    from opendata.spec.validate import YamlDocument

    monkeypatch.setattr(cache_module, "RACY_SECONDS", 0)  # the copies were just written
    assert sorted(set(dagbag().dag_ids) - NOT_DATASET_DAGS) == SAMPLES

    parse = YamlDocument.parse

    def no_parsing(path, text):
        if "datasets" in path.parts:  # governance.yaml is read on every parse; it is one small file
            raise AssertionError("an unchanged dataset file was parsed again")
        return parse(path, text)

    monkeypatch.setattr(YamlDocument, "parse", no_parsing)
    bag = dagbag()
    assert bag.import_errors == {}
    assert sorted(set(bag.dag_ids) - NOT_DATASET_DAGS) == SAMPLES
