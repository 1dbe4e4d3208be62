"""Fixtures for the emulator's own tests: one real emulator process per test module."""

from __future__ import annotations

import pytest
import requests
from sodapy import Socrata

from portal_emulator.testing import run_emulator

COLUMNS = [
    {"fieldName": "permit_id", "name": "Permit ID", "dataTypeName": "text", "description": "Permit number"},
    {"fieldName": "amount", "name": "Amount", "dataTypeName": "number"},
    {"fieldName": "issued", "name": "Issued", "dataTypeName": "calendar_date"},
    {"fieldName": "active", "name": "Active", "dataTypeName": "checkbox"},
    {"fieldName": "site", "name": "Site", "dataTypeName": "point"},
]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    # Not strict whatever $PORTAL_EMULATOR_STRICT says: these tests pin the lenient behaviour.
    with run_emulator(tmp_path_factory.mktemp("emulator"), strict=False) as e:
        yield e


def sodapy_client(emu, role: str | None = "publisher", timeout: float = 10) -> Socrata:
    """Plain sodapy 2.2.0 pointed at the emulator (anonymous when role is None)."""
    if role is None:
        return Socrata(emu.host, "anon-token", session_adapter=emu.session_adapter(), timeout=timeout)
    name, password = emu.auth(role)
    return Socrata(
        emu.host,
        "test-app-token",
        username=name,
        password=password,
        session_adapter=emu.session_adapter(),
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def client(emu):
    with sodapy_client(emu) as c:
        yield c


@pytest.fixture(scope="module")
def anon(emu):
    with sodapy_client(emu, None) as c:
        yield c


def new_dataset(
    client: Socrata,
    name: str = "Building permits",
    row_identifier: str | None = "permit_id",
    columns=None,
    **kw,
) -> str:
    kwargs = {
        "description": f"{name} (test)",
        "columns": columns or COLUMNS,
        "category": "Housing",
        "tags": ["permits", "housing"],
        **kw,
    }
    if row_identifier:
        kwargs["row_identifier"] = row_identifier
    return client.create(name, **kwargs)["id"]


def make_public(emu, client: Socrata, dataset_id: str) -> None:
    client.publish(dataset_id)
    client.set_permission(dataset_id, "public")
    emu.review(dataset_id, "approved", notes="ok")


def http(emu, role: str | None = "publisher") -> requests.Session:
    return emu.session(role) if role else requests.Session()
