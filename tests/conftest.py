from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

from fake_clock import thread_aware_mock_clock  # noqa: E402


@pytest.fixture
def autojump_clock():
    """pytest-trio's fake clock, except that it never jumps while a worker thread runs (tests/support/fake_clock.py)."""
    return thread_aware_mock_clock()
