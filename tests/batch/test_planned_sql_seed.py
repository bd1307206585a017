"""The planned SQL of a rule set does not depend on the hash seed: a unit's anchor values come
from a set, and their buckets (so the units' order in both engines) follow the values sorted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Plans bundled + a synthetic pack over a Parquet schema, and prints both engines' SQL and the
# streaming plan's unit order.
PROGRAM = """
import sys
from pathlib import Path
import pyarrow as pa
import pyarrow.parquet as pq
sys.path.insert(0, sys.argv[1])
from synthetic_pack import write_pack
from tokentrail import api
from tokentrail.content import default_rule_paths
from tokentrail.engine.batch import BatchEngine
from tokentrail.sources.files import LogReader
pack = write_pack(Path(sys.argv[2]) / "pack", 200)
loaded = api.load_rules([*default_rule_paths(), pack])
engine = BatchEngine(loaded.rules)
path = Path(sys.argv[2]) / "one.parquet"
pq.write_table(pa.table({"eventType": ["user.session.start"], "uuid": ["e0"],
                         "published": ["2026-01-01T00:00:00Z"]}), path)
plan = engine._typed_statement(engine._open_parquet(LogReader(), path).schema)
print("\\n".join(engine._texts[name] for name in plan.statements))
print(engine._build_sql())
print([(u.rule.id, u.log_type) for u in engine.units])
"""


def _planned(seed: str, work: Path) -> str:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(ROOT / "bench"), str(work)], env=env, check=True,
                         stdout=subprocess.PIPE, text=True)
    return out.stdout


def test_planned_sql_is_the_same_under_two_hash_seeds(tmp_path):
    first = _planned("1", tmp_path / "a")
    second = _planned("2", tmp_path / "b")
    assert "eventType" in first and first == second
