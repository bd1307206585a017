"""Rebuild src/tokentrail/content/attack/enterprise-attack.json from MITRE's STIX data.

Usage: python tools/build_attack_data.py STIX [--version 18.1] [-o OUT]

STIX is enterprise-attack.json from mitre-attack/attack-stix-data, or the enterprise-attack/
directory of mitre/cti (one object per file). Same code as `tokentrail attack update`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tokentrail.catalog.attack import ATTACK_FILE, update_from_stix
from tokentrail.errors import TokenTrailError


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, rebuild the file, print a one-line summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stix", type=Path)
    parser.add_argument("--version", help="ATT&CK version, when the STIX input carries no collection object")
    parser.add_argument("-o", "--out", type=Path, default=ATTACK_FILE)
    args = parser.parse_args(argv)
    try:
        data = update_from_stix(args.stix, args.out, version=args.version)
    except TokenTrailError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    subs = sum(1 for t in data.techniques.values() if t.parent)
    print(f"{args.out}: ATT&CK {data.version}, {len(data.tactics)} tactics, "
          f"{len(data.techniques) - subs} techniques, {subs} sub-techniques")
    return 0


if __name__ == "__main__":
    sys.exit(main())
