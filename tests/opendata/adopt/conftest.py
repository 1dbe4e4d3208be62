"""The publication world of the lifecycle tests (emulator, mailbox, include and state folders),
on the lenient emulator unless a test asks for both modes (``portal_mode`` parametrized)."""

from __future__ import annotations

import pytest

from tests.opendata.lifecycle.conftest import world  # noqa: F401 - the fixture offered to these tests


@pytest.fixture
def portal_mode() -> str:
    return "lenient"
