"""The store's transfers (``opendata.storage``): upload and download speed and peak memory, by
file size, against an S3-compatible server.

Without ``OPENDATA_STORAGE_URL`` set to an ``s3://`` URL, the bench starts moto's S3 server in a
separate process on a free port (so its memory is not counted here) and stores in a fresh
bucket of it. Each file size is measured in a fresh process: the peak resident memory
(VmHWM) of a round trip is then that size's alone. Flat memory means the peak of a large
file is the peak of a small one.

    .venv/bin/python bench/storage_bench.py --sizes-mib 16,256,1024

Prints a table, or with ``--json`` one JSON line (``{"runs": [...]}``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from phases import peak_mb  # noqa: E402

MIB = 1024 * 1024


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(MIB)  # the same random block over and over: fast, and not compressible by S3
    with open(path, "wb") as handle:
        for start in range(0, size, MIB):
            handle.write(block[: min(MIB, size - start)])


def _same_bytes(a: Path, b: Path) -> bool:
    with open(a, "rb") as one, open(b, "rb") as two:
        while True:
            x, y = one.read(MIB), two.read(MIB)
            if x != y:
                return False
            if not x:
                return True


def measure(size_mib: int, workdir: Path) -> dict:
    """One size in this process: upload, then download into a scratch folder."""
    from opendata import storage

    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"extract-{size_mib}.parquet"
    _write_file(source, size_mib * MIB)
    where = storage.location("bench", secrets.token_hex(4), "extract.parquet")
    storage.exists(where)  # the connection and the file system, before the clock starts
    before = peak_mb()
    started = time.perf_counter()
    storage.upload(source, where)
    up = time.perf_counter() - started
    with storage.scratch():
        started = time.perf_counter()
        local = storage.local_copy(where)
        down = time.perf_counter() - started
        equal = _same_bytes(source, local)
    storage.delete(where)
    source.unlink()
    return {"size_mib": size_mib, "bytes": size_mib * MIB, "upload_s": round(up, 3), "download_s": round(down, 3),
            "upload_mib_s": round(size_mib / up, 1), "download_mib_s": round(size_mib / down, 1),
            "peak_rss_before_mib": round(before, 1), "peak_rss_mib": round(peak_mb(), 1),
            "round_trip_equal": equal, "chunk_mib": storage.CHUNK_BYTES // MIB}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def s3_environment() -> Iterator[dict[str, str]]:
    """The environment of the measuring processes: the configured store, or moto's server."""
    if os.environ.get("OPENDATA_STORAGE_URL", "").startswith("s3://"):
        yield dict(os.environ)
        return
    import boto3

    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench-secret")
        deadline = time.monotonic() + 30
        while True:
            try:
                client.create_bucket(Bucket="opendata-bench")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        connection = {"conn_type": "aws", "login": "bench", "password": "bench-secret",
                      "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
        yield {**os.environ, "OPENDATA_STORAGE_URL": "s3://opendata-bench/opendata",
               "OPENDATA_STORAGE_CONN_ID": "opendata_bench", "AIRFLOW_CONN_OPENDATA_BENCH": json.dumps(connection)}
    finally:
        server.terminate()
        server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", default="16,256", help="file sizes in MiB, comma-separated")
    parser.add_argument("--workdir", type=Path, default=None, help="where the files are written (default: a temp dir)")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--phase", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="storage-bench-"))
    if args.phase is not None:
        print(json.dumps(measure(args.phase, workdir)))
        return 0
    runs = []
    with s3_environment() as env:
        for size in (int(s) for s in args.sizes_mib.split(",")):
            out = subprocess.run([sys.executable, __file__, "--phase", str(size), "--workdir", str(workdir)],
                                 env=env, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps({"runs": runs}))
        return 0
    print(f"{'size':>9} {'up MiB/s':>9} {'down MiB/s':>11} {'peak RSS':>10} {'before':>8}")
    for run in runs:
        print(f"{run['size_mib']:>5} MiB {run['upload_mib_s']:>9} {run['download_mib_s']:>11} "
              f"{run['peak_rss_mib']:>6} MiB {run['peak_rss_before_mib']:>4} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
