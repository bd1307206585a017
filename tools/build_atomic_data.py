"""Rebuild src/tokentrail/content/atomic/atomic-tests.json from Atomic Red Team's atomics.

Usage: python tools/build_atomic_data.py ATOMICS_DIR [--earlier OLD_ATOMICS_DIR ...] [--commit SHA] [-o OUT]

ATOMICS_DIR is the atomics/ directory of redcanaryco/atomic-red-team (or the checkout holding it).
Only tests for cloud, SaaS and identity platforms are kept. --earlier names older checkouts: a
test they file under another technique keeps that technique as an earlier one (seed 004 lists the
Microburst Key Vault dump under T1528; Atomic Red Team has since moved it to T1555.006).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from tokentrail.catalog.atomic import ATOMIC_FILE, derive_atomic, write_atomic


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, rebuild the file, print a summary and any file that could not be read."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("atomics", type=Path)
    parser.add_argument("--earlier", type=Path, action="append", default=[],
                        help="an older atomics directory (repeatable)")
    parser.add_argument("--commit", help="the Atomic Red Team commit the directory was taken from")
    parser.add_argument("-o", "--out", type=Path, default=ATOMIC_FILE)
    args = parser.parse_args(argv)
    if not args.atomics.is_dir():
        print(f"error: {args.atomics}: not a directory", file=sys.stderr)
        return 1
    build = derive_atomic(args.atomics, earlier=args.earlier, commit=args.commit)
    for problem in build.problems:
        print(f"warning: {problem}", file=sys.stderr)
    tests = build.data["tests"]
    if not tests:
        print(f"error: {args.atomics}: no cloud, SaaS or identity tests found", file=sys.stderr)
        return 1
    write_atomic(build.data, args.out)
    platforms = Counter(p for t in tests for p in t["platforms"])
    print(f"{args.out}: {len(tests)} tests, {len({t['technique'] for t in tests})} techniques "
          f"({', '.join(f'{p} {n}' for p, n in platforms.most_common())}); "
          f"{len(build.problems)} file(s) skipped")
    return 1 if build.problems else 0


if __name__ == "__main__":
    sys.exit(main())
