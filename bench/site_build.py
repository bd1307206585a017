"""Static site build time for a large rule set: ``tokentrail site build`` on the bundled pack
plus a synthetic Sigma pack, with coverage verified by simulation (as the command does).

    python bench/site_build.py [--rules 1000] [--rounds 3] [--no-verify]

Loading the rules is timed apart (it is the same for every command); the build is everything
``build_site`` does: simulation runs, coverage, Atomic results, indicator corpus, brief links,
every page and feed written. The median round is the result; prints a Markdown table. The goal:
under 10 s for 1,000 rules.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from synthetic_pack import write_pack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rules", type=int, default=1000, help="total rules (bundled pack + synthetic)")
    parser.add_argument("--rounds", type=int, default=3, help="builds to time; the median is reported")
    parser.add_argument("--no-verify", action="store_true", help="skip the coverage simulation")
    args = parser.parse_args()

    from tokentrail import api
    from tokentrail.catalog.site import build_site
    from tokentrail.content import default_rule_paths

    with tempfile.TemporaryDirectory(prefix="tt-site-bench-") as tmp:
        bundled = len(api.load_rules().rules)
        pack = write_pack(Path(tmp) / "pack", count=max(args.rules - bundled, 0), seed=5)
        started = time.perf_counter()
        loaded = api.load_rules([*default_rule_paths(), pack])
        load_s = time.perf_counter() - started
        if loaded.errors:
            raise SystemExit(f"{len(loaded.errors)} rule(s) failed to load: {loaded.errors[0]}")
        times, cpu, built = [], [], None
        for i in range(args.rounds):
            started = time.process_time()
            built = build_site(Path(tmp) / f"site{i}", loaded.rules, verify=not args.no_verify)
            cpu.append(time.process_time() - started)
            times.append(built.seconds)
    # CPU time beside wall time: on a shared machine the wall clock also counts other processes' turns.
    print(f"| rules | verified | load (s) | build, median of {args.rounds} (s) | builds (s) | CPU, median (s) | pages |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {len(loaded.rules)} | {'yes' if built.verified else 'no'} | {load_s:.2f} | "
          f"{statistics.median(times):.2f} | {' '.join(f'{t:.2f}' for t in times)} | {statistics.median(cpu):.2f} | "
          f"{built.pages} |")


if __name__ == "__main__":
    main()
