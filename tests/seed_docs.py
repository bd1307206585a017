"""The seed documents (``../shared/seeds`` beside the clone): present in CI, absent in a user's
clone, where the tests that need them skip with a printed reason."""

from __future__ import annotations

from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def seed_text(prefix: str) -> str:
    """The text of the seed document whose name starts with ``prefix`` (``"000"``), or skip."""
    found = sorted(SEEDS.glob(f"{prefix}_*.txt")) if SEEDS.is_dir() else []
    if not found:
        pytest.skip(f"seed document {prefix} not found: {SEEDS} is absent (a plain clone); CI has it")
    return found[0].read_text(encoding="utf-8")
