"""Fixtures for every test of the package: an S3-compatible store (``s3_support``)."""

from tests.opendata.s3_support import moto_server, s3_store  # noqa: F401 - fixtures offered to the tests
