"""Write a shipped catalog data file: compact JSON with one list item per line, so diffs stay readable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def write_item_per_line(data: Mapping[str, Any], list_key: str, path: Path) -> Path:
    """Write ``data`` as JSON whose ``list_key`` list (written last) has one item per line."""
    head = {k: v for k, v in data.items() if k != list_key}
    lines = [json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in data[list_key]]
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
    text += f',"{list_key}":[\n' + ",\n".join(lines) + "\n]}\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
