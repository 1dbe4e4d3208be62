"""The shared services of a distributed run: PostgreSQL databases, the Redis broker's key
prefix, and the S3-compatible object store.

Every run has a token, and everything it creates is named after it: its databases
(``opendata_cluster_<token>_airflow`` and ``..._registry``), its Redis keys (the broker's global
key prefix ``opendata-<token>:``) and its Celery queues. Runs on one PostgreSQL server and one
Redis (a developer's, CI's, a colleague's test run) never see each other's data or steal each
other's tasks, and a run removes what it created when it stops.

The object store is moto's S3 server (``python -m moto.server``), a development requirement
(``requirements-dev.txt``; ``make setup-dev`` installs it): an S3 API kept in the server's memory,
enough for one run. A deployment uses a real store (docker-compose.yaml: MinIO; or S3, GCS, Azure).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from dataclasses import dataclass

import requests
from sqlalchemy.engine import URL, make_url


class ServiceError(RuntimeError):
    """A service the distributed run needs is missing or refused; the message says what to do."""


@dataclass(frozen=True)
class PostgresServer:
    """A PostgreSQL server on which the run creates (and later drops) its own databases."""

    url: str   # e.g. postgresql://postgres@127.0.0.1:5432 (any database name is ignored)

    def _url(self, database: str, driver: str = "psycopg") -> URL:
        return make_url(self.url).set(drivername=f"postgresql+{driver}", database=database)

    def sqlalchemy_url(self, database: str, driver: str = "psycopg") -> str:
        return self._url(database, driver).render_as_string(hide_password=False)

    def shown(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)

    def _admin(self, statement: str, database: str) -> None:
        """``statement`` with ``{}`` standing for ``database``, quoted as an identifier."""
        import psycopg
        from psycopg import sql

        url = self._url("postgres")
        try:
            with psycopg.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password,
                                 dbname="postgres", autocommit=True, connect_timeout=10) as conn:
                conn.execute(sql.SQL(statement).format(sql.Identifier(database)))
        except psycopg.OperationalError as exc:
            raise ServiceError(f"PostgreSQL at {self.shown()} refused: {' '.join(str(exc).split())[:300]} "
                               f"(start it, or name another server with OPENDATA_CLUSTER_POSTGRES)") from None

    def create(self, database: str) -> None:
        self._admin("CREATE DATABASE {}", database)

    def drop(self, database: str) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", database)


@dataclass(frozen=True)
class RedisBroker:
    """Redis as the Celery broker; the run's keys all start with ``prefix``."""

    url: str
    prefix: str

    def client(self):
        import redis

        return redis.Redis.from_url(self.url, socket_timeout=10, socket_connect_timeout=10)

    def check(self) -> None:
        import redis

        try:
            self.client().ping()
        except redis.RedisError as exc:
            raise ServiceError(f"Redis at {self.url} does not answer ({exc}); start it (redis-server), or name "
                               f"another with OPENDATA_CLUSTER_REDIS") from None

    def forget(self) -> int:
        """Delete the run's keys (its queues, results, worker mailboxes); returns how many."""
        import redis

        try:
            client = self.client()
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=500))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start:start + 500])
        except redis.RedisError:
            return 0
        return len(keys)


@dataclass(frozen=True)
class ObjectStore:
    """The S3-compatible store at ``endpoint`` (moto's server here), with the run's credentials."""

    endpoint: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"

    @staticmethod
    def server_command(port: int) -> list[str]:
        if importlib.util.find_spec("moto") is None:
            raise ServiceError("moto (the S3 server of the distributed run) is not installed: it is a development "
                               "requirement, run `make setup-dev` (or install requirements-dev.txt)")
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]

    def answers(self) -> str | None:
        """None once the server answers S3 requests."""
        response = requests.get(self.endpoint, timeout=5)
        return None if response.status_code < 500 else f"{self.endpoint} answered {response.status_code}"

    def client(self):
        import boto3  # type: ignore[import-untyped]  # no stubs installed

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key, region_name=self.region)

    def create_bucket(self, bucket: str) -> None:
        self.client().create_bucket(Bucket=bucket)

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        """Every key under ``prefix`` (what the run wrote there)."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def connection(self) -> str:
        """The Airflow connection (``AIRFLOW_CONN_...`` JSON) of the store: an ``aws`` connection whose
        extra names the endpoint, as the Amazon provider reads it for S3-compatible servers."""
        return json.dumps({"conn_type": "aws", "login": self.access_key, "password": self.secret_key,
                           "extra": {"endpoint_url": self.endpoint, "region_name": self.region}})
