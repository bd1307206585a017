"""Byte-range reads in parallel workers keep the one-process reader's guarantees: over-size lines
are one error with the same line number, blank lines are skipped, a byte-order mark is stripped."""

import io

import orjson

from tokentrail import load_rules, scan
from tokentrail.content import default_rule_paths
from tokentrail.engine.parallel import ParallelFileScanner
from tokentrail.simulate import generate
from tokentrail.sources.limits import ReadLimits


def test_workers_and_one_process_agree_on_limits_blanks_and_bom(tmp_path, monkeypatch):
    monkeypatch.setattr("tokentrail.engine.parallel.CHUNK_BYTES", 32 << 10)  # many small ranges
    lines = [orjson.dumps(e) for e in generate(["all"], events=1500, seed=5)]
    lines.insert(300, b'{"pad": "' + b"x" * 200_000 + b'"}')
    lines[600:600] = [b""] * 5000 + [b"   \r"]
    path = tmp_path / "okta.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")
    rules = load_rules(default_rule_paths())
    limits = ReadLimits(max_line_bytes=100_000)
    split = []
    scan_file = ParallelFileScanner.scan_file
    monkeypatch.setattr(ParallelFileScanner, "scan_file", lambda self, p: split.append(p) or scan_file(self, p))
    results = []
    for workers in (1, 2):
        dead = io.BytesIO()
        result = scan([path], rules, workers=workers, min_parallel_bytes=0, limits=limits, dead_letter=dead)
        results.append((result, dead.getvalue()))
    (one, one_dead), (two, two_dead) = results
    assert split == [path]  # the second scan did go through the workers
    assert one.stats.events == two.stats.events == 1500
    assert [str(e) for e in one.read_errors] == [str(e) for e in two.read_errors] == [
        f"{path}:301: line longer than the 100000-byte limit"]
    assert one_dead == two_dead == lines[300] + b"\n"
    assert [a.to_dict() for a in one.alerts] == [a.to_dict() for a in two.alerts] and one.alerts
