"""An S3-compatible store for tests: moto's server on a free port of this machine, one bucket,
and the Airflow connection a deployment would give (an ``aws`` connection whose extra names the
server's ``endpoint_url``), set as an ``AIRFLOW_CONN_<ID>`` environment variable."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

ACCESS_KEY = "opendata-test"
SECRET_KEY = "opendata-test-secret"


@dataclass(frozen=True)
class S3Store:
    endpoint: str
    bucket: str
    conn_id: str

    def url(self, prefix: str = "") -> str:
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def connection(self) -> str:
        return json.dumps({"conn_type": "aws", "login": ACCESS_KEY, "password": SECRET_KEY,
                           "extra": {"endpoint_url": self.endpoint, "region_name": "us-east-1"}})


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server in a thread of the test process, on a free port; its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_store(moto_server, monkeypatch) -> S3Store:
    """A fresh bucket, its connection in the environment under a fresh id (Airflow keeps one
    file system per connection id for the life of the process), and the store's settings
    pointing at it. The bucket's keys start with ``opendata/``."""
    store = S3Store(moto_server, f"opendata-{secrets.token_hex(4)}", f"opendata_store_{secrets.token_hex(4)}")
    store.client().create_bucket(Bucket=store.bucket)
    monkeypatch.setenv(f"AIRFLOW_CONN_{store.conn_id.upper()}", store.connection())
    monkeypatch.setenv("OPENDATA_STORAGE_URL", store.url("opendata"))
    monkeypatch.setenv("OPENDATA_STORAGE_CONN_ID", store.conn_id)
    return store
