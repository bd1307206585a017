"""The README's Python example runs as written, in a directory holding `my-rules/` and `logs/`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tokentrail import api
from tokentrail import simulate as sim
from tokentrail.content import RULES_DIR

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


def test_readme_python_example_runs_as_written(tmp_path, monkeypatch):
    if not README.exists():
        pytest.skip(f"README.md not found at {README}")
    blocks = python_blocks(README.read_text(encoding="utf-8"))
    assert len(blocks) == 1, "the README holds one Python example"
    shutil.copytree(RULES_DIR / "sigma", tmp_path / "my-rules")
    (tmp_path / "my-rules" / "broken.yml").write_text("title: broken\ndetection: [\n", encoding="utf-8")
    sim.write_logs(tmp_path / "logs", ["all"], events=600, seed=7)
    proc = subprocess.run([sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True, timeout=300,
                          check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    lines = proc.stdout.decode().splitlines()
    # Records without a vendor id (Azure) are named by file and line: scan the paths as the example does.
    monkeypatch.chdir(tmp_path)
    expected = api.scan([Path("logs")], api.load_rules([Path("my-rules")]))
    assert len(expected.alerts) > 5
    assert lines[0].startswith("not loaded: ") and "broken.yml" in lines[0]
    alert_lines = lines[1:-1]
    assert alert_lines == [f"{a.rule_id} {a.title} {a.event_ids}" for a in expected.alerts]
    assert lines[-1] == f"{expected.stats.events} events, {len(expected.alerts)} alerts"


def test_readme_and_docs_point_inside_the_repository():
    root = README.parent
    docs = [README, *sorted((root / "docs").glob("*.md"))]
    if not README.exists() or len(docs) < 2:
        pytest.skip(f"README.md or docs/ not found under {root}")
    assert (root / "docs" / "architecture.md") in docs
    for doc in docs:
        text = doc.read_text(encoding="utf-8")
        assert "shared/" not in text and "DESIGN.md" not in text, doc
        for target in re.findall(r"\]\(([^)#\s]+)", text):
            if re.match(r"[a-z]+://", target):
                continue
            resolved = (doc.parent / target).resolve()
            assert resolved.is_relative_to(root) and resolved.exists(), (doc.name, target)
    assert "docs/architecture.md" in README.read_text(encoding="utf-8")
