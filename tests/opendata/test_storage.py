"""The store (``opendata.storage``): on this machine's file system (the default: used in place,
no copies) and on S3 (moto's server, reached through Airflow's object storage and an ``aws``
connection given in the environment, as a deployment gives it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from opendata import storage

MIB = 1024 * 1024


@pytest.fixture
def local_store(tmp_path, monkeypatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("OPENDATA_STATE_DIR", str(state))
    monkeypatch.delenv("OPENDATA_STORAGE_URL", raising=False)
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(tmp_path / "scratch"))
    return state


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        for start in range(0, size, MIB):
            handle.write(os.urandom(min(MIB, size - start)))
    return path


# --- on this machine ------------------------------------------------------------------------------

def test_the_default_store_is_the_state_folder_and_its_files_are_used_in_place(local_store, tmp_path):
    where = storage.location("staging", "permits", "run_1", "extract.parquet")
    assert storage.is_local(where)
    assert storage.recorded(where) == str(local_store.absolute() / "staging/permits/run_1/extract.parquet")
    # A recorded location (what XCom and the registry carry) reads back as the same place.
    assert storage.recorded(storage.resolve(storage.recorded(where))) == storage.recorded(where)
    with storage.scratch() as scratch:
        written = storage.work_file(where)
        assert written == Path(where.path)  # no scratch copy for a local store
        written.parent.mkdir(parents=True)
        written.write_bytes(b"rows")
        storage.store(written, where)
        assert storage.local_copy(storage.recorded(where)) == written
        assert not scratch.folder.exists() or list(scratch.folder.iterdir()) == []
    assert storage.exists(where) and storage.size(where) == 4
    assert not (tmp_path / "scratch").exists() or list((tmp_path / "scratch").iterdir()) == []


def test_local_writes_are_atomic_and_deletes_tolerate_a_missing_file(local_store):
    where = storage.location("catalog", "data.json")
    storage.write_text(where, '{"a": 1}', public=True, durable=True)
    assert storage.read_text(where) == '{"a": 1}'
    assert oct(Path(where.path).stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in Path(where.path).parent.iterdir()] == ["data.json"]  # no temporary left
    storage.delete(where)
    storage.delete(where)
    assert not storage.exists(where)
    with pytest.raises(storage.StoredFileMissing, match="catalog/data.json"):
        storage.read_bytes(where)


def test_overrides_may_name_another_folder_or_store(local_store, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_ARCHIVE_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("OPENDATA_DATA_JSON_PATH", "s3://city-catalog/data.json")
    assert storage.archive_root().path == str(tmp_path / "elsewhere")
    assert storage.recorded(storage.data_json()) == "s3://city-catalog/data.json"
    assert storage.recorded(storage.staging_root()) == str(local_store.absolute() / "staging")


def test_names_inside_the_store_are_built_from_safe_parts_only(local_store):
    assert storage.safe_part("manual__2026-11-26T00:00:00+00:00") == "manual__2026-11-26T00_00_00_00_00"
    assert storage.safe_part("..") == "__" and storage.safe_part("a/../b") == "a_.._b"
    for bad in ("..", "a/b", "", "."):
        with pytest.raises(ValueError, match="not a safe name"):
            storage.location("staging", bad)


def test_a_link_out_of_a_local_folder_is_not_inside_it(local_store, tmp_path):
    base = storage.location("staging")
    Path(base.path).mkdir(parents=True)
    outside = tmp_path / "secret.html"
    outside.write_text("secret")
    os.symlink(outside, Path(base.path) / "report.html")
    assert not storage.is_within(storage.join(base, "report.html"), base)
    (Path(base.path) / "real.html").write_text("ok")
    assert storage.is_within(storage.join(base, "real.html"), base)


def test_the_scratch_folder_goes_when_the_work_ends_even_by_an_error(local_store, tmp_path):
    with pytest.raises(RuntimeError, match="boom"), storage.scratch() as scratch:
        (scratch.folder / "partial.parquet").write_bytes(b"x")
        with storage.scratch() as inner:  # nested: the task's own folder
            assert inner is scratch
        raise RuntimeError("boom")
    assert not scratch.folder.exists()


# --- on S3 (moto's server) --------------------------------------------------------------------------

def test_a_file_larger_than_a_chunk_goes_up_in_parts_and_comes_back_whole(s3_store, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(tmp_path / "scratch"))
    monkeypatch.setattr(storage, "CHUNK_BYTES", 5 * MIB)  # S3's smallest part
    source = _file(tmp_path / "extract.parquet", 12 * MIB + 123)
    where = storage.location("staging", "permits", "run_1", "extract.parquet")
    assert not storage.exists(where)
    storage.upload(source, where)
    assert storage.recorded(where) == f"s3://{s3_store.bucket}/opendata/staging/permits/run_1/extract.parquet"
    head = s3_store.client().head_object(Bucket=s3_store.bucket, Key="opendata/staging/permits/run_1/extract.parquet")
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload of three parts
    assert storage.exists(where) and storage.size(where) == source.stat().st_size
    with storage.scratch() as scratch:
        local = storage.local_copy(storage.recorded(where))
        assert local.is_relative_to(scratch.folder) and local.name == "extract.parquet"
        assert local.read_bytes() == source.read_bytes()
        # Once per task: the object may go, the task keeps its copy.
        s3_store.client().delete_object(Bucket=s3_store.bucket, Key="opendata/staging/permits/run_1/extract.parquet")
        assert storage.local_copy(where) == local
    assert not scratch.folder.exists()


def test_a_failed_upload_leaves_no_object_and_no_open_multipart_upload(s3_store, tmp_path, monkeypatch):
    monkeypatch.setattr(storage, "CHUNK_BYTES", 5 * MIB)
    where = storage.location("fingerprints", "permits.arrow")

    class Failing:
        sent = 0

        def read(self, size: int = -1) -> bytes:
            self.sent += 1
            if self.sent > 3:
                raise OSError("the disk went away")
            return os.urandom(5 * MIB)

    with pytest.raises(OSError, match="disk went away"):
        storage._stream_to(Failing(), where)  # type: ignore[arg-type]
    assert not storage.exists(where)
    uploads = s3_store.client().list_multipart_uploads(Bucket=s3_store.bucket)
    assert uploads.get("Uploads", []) == []


def test_small_files_copy_delete_and_listing_on_s3(s3_store, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENDATA_SCRATCH_DIR", str(tmp_path / "scratch"))
    report = storage.location("staging", "permits", "run_1", "report", "data-submission-checklist.html")
    storage.write_text(report, "<!DOCTYPE html>")
    assert s3_store.get("opendata/staging/permits/run_1/report/data-submission-checklist.html") == b"<!DOCTYPE html>"
    assert storage.read_text(storage.resolve(storage.recorded(report))) == "<!DOCTYPE html>"
    assert storage.files_under(storage.location("staging", "permits")) == {report.path}
    archived = storage.location("archive", "permits", "v1.parquet")
    storage.copy(report, archived)  # inside the store: the server copies
    assert storage.read_text(archived) == "<!DOCTYPE html>"
    storage.delete(archived)
    storage.delete(archived)
    assert not storage.exists(archived)
    assert storage.is_within(report, storage.staging_root())
    assert not storage.is_within(storage.resolve(f"s3://{s3_store.bucket}/other/x"), storage.staging_root())


def test_a_missing_object_and_an_unreachable_store_are_named_without_secrets(s3_store, tmp_path, monkeypatch):
    from tests.opendata.s3_support import SECRET_KEY

    missing = storage.location("staging", "permits", "nope", "extract.parquet")
    with pytest.raises(storage.StoredFileMissing, match=f"s3://{s3_store.bucket}/opendata/staging/permits/nope"):
        storage.read_bytes(missing)
    with storage.scratch(), pytest.raises(storage.StoredFileMissing):
        storage.local_copy(missing)

    # A store nobody listens at: a clear error naming the location, and no credentials in it.
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    conn_id = f"{s3_store.conn_id}_down"
    connection = json.loads(s3_store.connection())
    connection["extra"] = {**connection["extra"], "endpoint_url": f"http://127.0.0.1:{port}",
                           "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 1}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
    monkeypatch.setenv("OPENDATA_STORAGE_CONN_ID", conn_id)
    down = storage.location("staging", "x.parquet")
    with pytest.raises(storage.StorageError, match=f"s3://{s3_store.bucket}/opendata/staging/x.parquet") as failure:
        storage.write_bytes(down, b"x")
    assert SECRET_KEY not in str(failure.value)


def test_memory_stays_flat_whatever_the_size_of_the_file(s3_store, tmp_path):
    """Up and down again in a separate process (moto's server holds the objects in this one): the
    peak resident memory of a 160 MiB round trip is that of a 16 MiB one, give or take a chunk."""
    script = Path(__file__).resolve().parents[2] / "bench" / "storage_bench.py"
    env = {**os.environ, "OPENDATA_SCRATCH_DIR": str(tmp_path / "scratch")}
    answer = subprocess.run([sys.executable, str(script), "--sizes-mib", "16,160", "--json",
                             "--workdir", str(tmp_path / "work")],
                            env=env, capture_output=True, text=True, timeout=600, check=False)
    assert answer.returncode == 0, answer.stderr[-3000:]
    figures = json.loads(answer.stdout.strip().splitlines()[-1])
    small, large = figures["runs"]
    assert large["bytes"] == 10 * small["bytes"] and large["round_trip_equal"]
    # The file is 144 MiB larger; memory may grow by a few chunks at most.
    assert large["peak_rss_mib"] - small["peak_rss_mib"] < 4 * storage.CHUNK_BYTES / MIB, figures


def test_a_store_no_provider_serves_is_named_with_its_setting(local_store, monkeypatch):
    monkeypatch.setenv("OPENDATA_STORAGE_URL", "s4://city-bucket/pipeline")
    with pytest.raises(storage.StorageError, match=r"OPENDATA_STORAGE_URL='s4://city-bucket/pipeline': no file system"):
        storage.location("staging")
    monkeypatch.delenv("OPENDATA_STORAGE_URL")
    monkeypatch.setenv("OPENDATA_ARCHIVE_DIR", "s4://city-bucket/archive")
    with pytest.raises(storage.StorageError, match="OPENDATA_ARCHIVE_DIR="):
        storage.archive_root()
