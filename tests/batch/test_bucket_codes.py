"""A row of the typed query is coded for only the units its anchor value can match
(``engine/batch_buckets.py``): the statement's list for a bucket holds that bucket's units and
the unanchored ones, and the engine's alerts, matches and stats stay the streaming engine's —
with anchors shared and not, several values per unit, unanchored units, unsure rows, parts."""

from __future__ import annotations

from functools import partial

import pyarrow as pa
import sqlglot
import sqlglot.expressions as sx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA
from batch.test_typed_parquet import as_parquet, assert_same
from batch.test_typed_plan import four_ways
from tokentrail.compile.sql_typed import TypedFieldTable, compile_typed
from tokentrail.engine.batch import BatchEngine, _settled
from tokentrail.engine.batch_buckets import BUCKET_COLUMN, bucket_field
from tokentrail.engine.batch_guard import GuardedLeaves
from tokentrail.rules.ir import All, Any, Cmp, Not
from tokentrail.rules.model import Grouping, Rule
from tokentrail.sources.files import LogReader

KINDS = ["user.session.start", "user.account.lock", "policy.rule.update", "zone.update"]
# Rows' event types: anchored ones, another case of one, one no rule pins, non-ASCII text (SQL
# is unsure of its lower case; the KELVIN SIGN's is "k", an anchor value's), and none.
ROW_KINDS = [*KINDS, "User.Session.Start", "system.other", "zoné.update", "user.account.loc\u212a", None]
SCHEMA = pa.schema([("eventType", pa.string()), ("uuid", pa.string()), ("published", pa.string()),
                    ("client", pa.struct([("ipAddress", pa.string())])),
                    ("outcome", pa.struct([("result", pa.string())]))])


def _rule(name: str, logic, grouping: Grouping | None = None) -> Rule:
    return Rule(id=name, title=name, format="sigma", logsource=OKTA, logic=logic, grouping=grouping or Grouping())


def _kind(*values: str) -> Cmp:
    return Cmp("eventType", "eq", values)


FAILED = Cmp("outcome.result", "eq", ("FAILURE",))
INTERNAL = Cmp("client.ipAddress", "cidr", ("10.0.0.0/8",))
PACK = [
    _rule("start", All((_kind("user.session.start"), FAILED))),
    _rule("start_or_lock", All((_kind("user.session.start", "user.account.lock"), INTERNAL))),
    _rule("lock", _kind("user.account.lock"), Grouping(group_by=("client.ipAddress",), window=600, threshold=2)),
    _rule("three", All((_kind("policy.rule.update", "zone.update", "user.account.lock"), Not(INTERNAL)))),
    _rule("failed_anywhere", FAILED),  # unanchored: coded on every row
    _rule("prefix", Cmp("eventType", "startswith", ("user.",))),  # unanchored too
]


def _events(kinds, results, addresses):
    out = []
    for i, (kind, result, address) in enumerate(zip(kinds, results, addresses, strict=True)):
        event = {"uuid": f"e{i}", "published": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                 "client": {"ipAddress": address}, "outcome": {"result": result}}
        if kind is not None:
            event["eventType"] = kind
        out.append(event)
    return out


def test_a_buckets_list_holds_its_units_and_the_unanchored_ones():
    engine = BatchEngine(PACK)
    units = engine.by_type["okta"]
    fields = TypedFieldTable(SCHEMA, lowered_prefix="__tt_lw")
    codes = engine._typed_codes(fields, GuardedLeaves("__tt_l"), engine.by_type, False)
    layout = codes.layouts["okta"]
    names = [u.rule.id for u in units]
    assert [names[p - 1] for p in layout.shared] == ["failed_anywhere", "prefix"]
    # Each bucket's own units: those anchored on its value (the none and unsure buckets last).
    own = [sorted(names[p - 1] for p in b.own) for b in layout.buckets]
    assert own[:4] == [["start", "start_or_lock"], ["lock", "start_or_lock", "three"], ["three"], ["three"]]
    assert own[4] == [] and sorted(own[5]) == sorted(set(names) - {"failed_anywhere", "prefix"})
    # In the SQL, a bucket's branch lists exactly its own units' codes, after the shared ones.
    tree = sqlglot.parse_one(f"SELECT {codes.sql}", read="duckdb")
    listed = {int(branch.this.expression.name): len(branch.args["true"].expressions)
              for branch in tree.find_all(sx.If)
              if isinstance(branch.this, sx.EQ) and branch.this.this.name == BUCKET_COLUMN
              and isinstance(branch.args["true"], sx.Array)}
    assert listed == {b.number: len(b.own) for b in layout.buckets if b.own}
    assert codes.bucket is not None and BUCKET_COLUMN not in codes.bucket


def test_a_field_that_may_hold_several_values_keeps_the_dense_list():
    index = BatchEngine(PACK).stream.plan.indexes["okta"]
    assert bucket_field(index, SCHEMA, False) == "eventType"
    assert bucket_field(index, SCHEMA, True) is None  # a literal dotted key could hold a value too
    listed = pa.schema([("eventType", pa.list_(pa.string()))])
    assert bucket_field(index, listed, False) is None
    assert bucket_field(index, pa.schema([("other", pa.string())]), False) is None


def test_the_pack_matches_as_streaming_in_every_way(tmp_path):
    n = 48
    rows = _events([ROW_KINDS[i % len(ROW_KINDS)] for i in range(n)],
                   [["FAILURE", "SUCCESS", None][i % 3] for i in range(n)],
                   [["10.1.2.3", "192.0.2.1", None, "10.9.9.9"][i % 4] for i in range(n)])
    parquet, jsonl = as_parquet(tmp_path, rows)
    out, plans = four_ways(parquet, jsonl, PACK)
    assert out["projected"] == out["parts"] == out["blocks"] == out["full"] == out["stream"]
    assert {a[1] for a in out["stream"][0]} == {r.id for r in PACK}
    stream, _batch = assert_same(parquet, jsonl, PACK)
    assert stream.stats.matches > 0


def test_rows_of_a_list_valued_anchor_field_match_as_streaming(tmp_path):
    rows = _events(KINDS, ["FAILURE"] * 4, ["10.1.2.3"] * 4)
    rows[0]["eventType"] = ["user.session.start", "user.account.lock"]  # a list: the column is text
    rows[1]["eventType"] = ["zone.update"]
    parquet, jsonl = as_parquet(tmp_path, rows)
    assert_same(parquet, jsonl, PACK)


residuals = st.sampled_from([FAILED, Not(FAILED), INTERNAL, Any((FAILED, INTERNAL)),
                             Cmp("client.ipAddress", "startswith", ("10.",)), Cmp("eventType", "endswith", ("lock",))])


@st.composite
def packs(draw):
    out = []
    for i in range(draw(st.integers(1, 7))):
        values = draw(st.lists(st.sampled_from(KINDS), min_size=0, max_size=3, unique=True))
        residual = draw(residuals)
        logic = All((_kind(*values), residual)) if values else residual
        grouping = draw(st.sampled_from([Grouping(), Grouping(group_by=("client.ipAddress",), window=600,
                                                              threshold=2)]))
        out.append(_rule(f"r{i}", logic, grouping))
    return out


@st.composite
def rows(draw):
    n = draw(st.integers(1, 30))
    return _events(draw(st.lists(st.sampled_from(ROW_KINDS), min_size=n, max_size=n)),
                   draw(st.lists(st.sampled_from(["FAILURE", "SUCCESS", None]), min_size=n, max_size=n)),
                   draw(st.lists(st.sampled_from(["10.1.2.3", "192.0.2.1", None]), min_size=n, max_size=n)))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(packs(), rows())
@example([_rule("r0", All((_kind("zone.update", "user.account.lock"), INTERNAL))), _rule("r1", FAILED)],
         _events(["zoné.update", "user.account.loc\u212a", None], ["FAILURE"] * 3, ["10.1.2.3"] * 3))
def test_generated_packs_match_as_streaming(tmp_path_factory, pack, event_list):
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("buckets"), event_list)
    out, _plans = four_ways(parquet, jsonl, pack)
    assert out["projected"] == out["parts"] == out["blocks"] == out["full"] == out["stream"]


def test_a_bucketed_statement_reads_the_bucket_where_it_runs(tmp_path):
    """The statement the scan prepares for such a schema picks buckets (it is not the dense one)."""
    rows = _events(KINDS, ["FAILURE"] * 4, ["10.1.2.3"] * 4)
    parquet, _jsonl = as_parquet(tmp_path, rows)
    engine = BatchEngine(PACK)
    plan = engine._typed_statement(engine._open_parquet(LogReader(), parquet).schema)
    (name,) = plan.statements
    assert f"AS {BUCKET_COLUMN}" in engine._texts[name]


def test_a_guarded_comparison_of_a_missing_field_is_a_constant_column():
    leaves = GuardedLeaves("__tt_l")
    fields = TypedFieldTable(SCHEMA)
    compiled = partial(compile_typed, fields=fields, leaves=leaves)
    held = leaves.read(compiled, _kind("zone.update"), None)
    leaves.read(compiled, Cmp("no.such.field", "eq", ("x",)), held)  # FALSE wherever it is read
    leaves.read(compiled, FAILED, held)
    settled = [c.sql("duckdb") for c in leaves.guarded_columns(partial(_settled, dotted=False))]
    assert settled[0] == "FALSE AS __tt_l1" and settled[1].startswith("CASE WHEN COALESCE(__tt_l0, TRUE)")
