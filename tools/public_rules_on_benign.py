"""Run rule sets on simulated benign traffic and on a run with every attack; count alerts per rule.

    .venv/bin/python tools/public_rules_on_benign.py RULES... [--events 30000] [--seed 7]

RULES are rule files or directories (for instance SigmaHQ's and Elastic's Okta rules, extracted
outside the repository). Prints a Markdown report: how many rules loaded and ran, which could not
run and why, and for every rule that raised an alert, its alerts on the benign-only run and on the
run with attacks. docs/public-rules-on-benign.md records one such report.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from tokentrail import load_rules, scan
from tokentrail.simulate import write_logs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rules", nargs="+", type=Path, help="rule files or directories")
    parser.add_argument("--events", "-n", type=int, default=30_000, help="events per simulated run")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    args = parser.parse_args(argv)

    loaded = load_rules(args.rules)
    runnable = loaded.runnable
    with tempfile.TemporaryDirectory() as work:
        counts = {}
        for run in ("benign", "all"):
            logs = Path(work) / run
            write_logs(logs, [run], args.events, args.seed)
            result = scan([logs], runnable)
            counts[run] = Counter(alert.rule_id for alert in result.alerts)

    by_id = {rule.id: rule for rule in runnable}
    print(
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; `simulate benign` and `simulate all`, "
        f"{args.events} events, seed {args.seed}.\n"
    )
    print(f"{len(loaded.rules)} rules loaded, {len(runnable)} ran, {len(loaded.errors)} failed to load.\n")
    for error in loaded.errors:
        print(f"- failed to load: {error}")
    for rule in loaded.unsupported:
        print(f"- not run: {rule.title} ({rule.unsupported})")
    fired = sorted(set(counts["benign"]) | set(counts["all"]), key=lambda r: by_id[r].title)
    print("\n| rule | format | alerts on benign | alerts with attacks |")
    print("|---|---|---|---|")
    for rule_id in fired:
        rule = by_id[rule_id]
        print(f"| {rule.title} | {rule.format} | {counts['benign'][rule_id]} | {counts['all'][rule_id]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
