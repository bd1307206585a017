"""Which of Elastic's Okta ES|QL rules TokenTrail loads, and what stops the others.

Usage: python tools/esql_okta_report.py --rules-dir CHECKOUT/rules/integrations/okta [--json]

Reads every ``*.toml`` under the folder whose ``rule.type`` is ``esql``, loads each with
TokenTrail's Elastic loader, and prints one line per rule: ``loaded`` (it runs in every engine)
or ``error`` with the reason the loader gave (the ES|QL construct and its line). Run by hand
against a detection-rules checkout; CI has no network to fetch one.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from tokentrail import load_rules


def esql_files(folder: Path) -> list[Path]:
    """The rule files under ``folder`` whose rule type is ``esql``."""
    found = []
    for path in sorted(folder.rglob("*.toml")):
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            print(f"{path}: not read: {exc}", file=sys.stderr)
            continue
        if doc.get("rule", {}).get("type") == "esql":
            found.append(path)
    return found


def report(folder: Path) -> list[dict[str, str]]:
    """One row per ES|QL rule file: file, rule name, status (loaded/error) and reason."""
    rows = []
    for path in esql_files(folder):
        result = load_rules([path])
        if result.errors:
            rows.append({"file": path.name, "name": "", "status": "error", "reason": str(result.errors[0])})
            continue
        for rule in result.rules:
            rows.append({"file": path.name, "name": rule.title,
                         "status": "loaded" if rule.runnable else "error",
                         "reason": rule.unsupported or ""})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Print the report; exit 0 (an unsupported rule is a finding, not a failure)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules-dir", type=Path, required=True,
                        help="a folder of Elastic rules, e.g. detection-rules/rules/integrations/okta")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    if not args.rules_dir.is_dir():
        print(f"{args.rules_dir}: not a folder", file=sys.stderr)
        return 2
    rows = report(args.rules_dir)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        line = f"{row['status']:6}  {row['file']}"
        print(line + (f"\n        {row['reason']}" if row["reason"] else ""))
    loaded = sum(r["status"] == "loaded" for r in rows)
    print(f"{loaded} of {len(rows)} ES|QL rules load and run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
