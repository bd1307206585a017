"""Fixtures of the collector tests."""

from __future__ import annotations

import pytest

from collect_support import FakeTime


@pytest.fixture
def fake_time() -> FakeTime:
    """A clock that moves only when the code under test sleeps."""
    return FakeTime()
