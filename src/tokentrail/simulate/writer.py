"""Write a simulated run to log files: one JSON Lines file per source, and Salesforce as CSV too."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from tokentrail.simulate.salesforce import COLUMNS
from tokentrail.simulate.timeline import SOURCES, generate_items


def write_logs(
    out_dir: str | Path,
    scenarios: Sequence[str],
    events: int,
    seed: int,
    *,
    sources: Sequence[str] = SOURCES,
    salesforce_csv: bool = False,
) -> dict[str, Path]:
    """Generate a run and write ``<source>.jsonl`` files under ``out_dir``; with ``salesforce_csv``
    the Salesforce records also go to ``salesforce.csv`` (EventLogFile form) — the same events
    twice, so scan one or the other.

    Returns the written paths keyed by ``okta``, ``auth0``, ``salesforce`` and ``salesforce_csv``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = generate_items(scenarios, events=events, seed=seed, sources=sources)
    paths = {source: out / f"{source}.jsonl" for source in sources}
    handles: dict[str, IO[bytes]] = {}
    csv_file = None
    try:
        for source, path in paths.items():
            handles[source] = path.open("wb")
        csv_writer = None
        if salesforce_csv and "salesforce" in sources:
            paths_csv = out / "salesforce.csv"
            csv_file = paths_csv.open("w", newline="", encoding="utf-8")
            csv_writer = csv.DictWriter(csv_file, fieldnames=COLUMNS, restval="", extrasaction="raise")
            csv_writer.writeheader()
        dumps = orjson.dumps
        for _, source, event in items:
            handles[source].write(dumps(event) + b"\n")
            if csv_writer is not None and source == "salesforce":
                csv_writer.writerow(_csv_row(event))
    finally:
        for handle in handles.values():
            handle.close()
        if csv_file is not None:
            csv_file.close()
    if csv_file is not None:
        paths["salesforce_csv"] = out / "salesforce.csv"
    return paths


def _csv_row(record: dict[str, Any]) -> dict[str, Any]:
    return {k: ("" if v is None else v) for k, v in record.items()}
