"""JUnit XML for rule test results (CI systems read it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def write_junit(results: Sequence[Any], path: Path) -> None:
    """One testsuite per rule, one testcase per test; failures carry the detail, skipped tests
    the reason they were not run."""
    by_rule: dict[str, list[Any]] = defaultdict(list)
    for r in results:
        by_rule[r.rule_id].append(r)
    root = ET.Element("testsuites", tests=str(len(results)),
                      failures=str(sum(1 for r in results if not r.passed)),
                      skipped=str(sum(1 for r in results if r.skipped)))
    for rule_id, items in by_rule.items():
        suite = ET.SubElement(root, "testsuite", name=rule_id, tests=str(len(items)),
                              failures=str(sum(1 for r in items if not r.passed)),
                              skipped=str(sum(1 for r in items if r.skipped)))
        for r in items:
            case = ET.SubElement(suite, "testcase", classname=rule_id, name=r.name, file=r.path)
            if r.skipped:
                ET.SubElement(case, "skipped", message=r.detail)
            elif not r.passed:
                failure = ET.SubElement(case, "failure",
                                        message=f"expected {r.expected}, got {r.actual}")
                failure.text = r.detail
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
