"""The bundled rule pack, briefs and data (files, not code)."""

from __future__ import annotations

from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent
RULES_DIR = CONTENT_DIR / "rules"


def default_rule_paths() -> list[Path]:
    """The bundled declarative rules (Sigma and Elastic). Bundled Python rules are left out: Python
    rules run only from paths the user names with ``-r``."""
    return [p for p in (RULES_DIR / "sigma", RULES_DIR / "elastic") if p.is_dir()]
