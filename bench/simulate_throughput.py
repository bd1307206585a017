"""Simulator throughput: events per second that ``tokentrail.simulate.generate`` yields.

    python bench/simulate_throughput.py [--events 200000] [--seed 2] [--rounds 3] [--sources okta,auth0,salesforce]

Generates a day of every attack scenario inside benign traffic ``--rounds`` times and prints the
best and median rate as Markdown (the goal is more than 50,000 events/s on one core). Events
are built but not serialised, so this measures the simulator alone. Rates are per second of this
process's CPU time, which neighbours on a shared machine disturb far less than wall time.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sources", default="okta,auth0,salesforce", help="comma-separated sources")
    args = ap.parse_args()

    from tokentrail.simulate import generate_items

    sources = tuple(args.sources.split(","))
    rates = []
    per_source: Counter[str] = Counter()
    for _ in range(args.rounds):
        started = time.process_time()
        per_source = Counter(
            source
            for _, source, _ in generate_items(["all"], events=args.events, seed=args.seed, sources=sources)
        )
        rates.append(sum(per_source.values()) / (time.process_time() - started))
    rates.sort()
    mix = ", ".join(f"{s} {n:,}" for s, n in sorted(per_source.items()))
    print(f"{sum(per_source.values()):,} events ({mix}), {args.rounds} rounds\n")
    print("| best | median |")
    print("|---|---|")
    print(f"| {rates[-1]:,.0f} events/s | {rates[len(rates) // 2]:,.0f} events/s |")
    print("\n(goal: over 50,000 events/s)")


if __name__ == "__main__":
    main()
