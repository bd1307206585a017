"""A plan in parts: the merging statement reads only the event's time and id columns (the parts
give the digests' own values), and the scan still gives the streaming engine's alerts."""

from __future__ import annotations

from batch.test_batch_engine import OKTA
from batch.test_typed_parquet import as_parquet
from batch.test_typed_plan import START, four_ways
from tokentrail.engine.batch_parts import STATEMENT_UNITS, unit_parts
from tokentrail.rules.ir import Cmp
from tokentrail.rules.model import Grouping, OutputField, Rule

# Its digest reads the client's address and its outputs the actor: columns the merge never needs.
FROM_IP = Rule(id="ip", title="ip", format="sigma", logsource=OKTA,
               logic=Cmp("eventType", "eq", ("user.session.start",)),
               grouping=Grouping(group_by=("client.ipAddress",), window=600, threshold=2),
               output_fields=(OutputField("who", "actor.alternateId"),))


def test_merge_carries_only_time_and_id_columns(tmp_path):
    rows = [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:{i:02d}Z",
             "actor": {"alternateId": f"u{i % 2}@x.io"}, "client": {"ipAddress": f"10.0.0.{i % 3}"}}
            for i in range(12)]
    parquet, jsonl = as_parquet(tmp_path, rows)
    out, plans = four_ways(parquet, jsonl, [START, FROM_IP])
    assert out["parts"] == out["projected"] == out["stream"]
    assert out["stream"][0]  # alerts of both rules
    (parted, _), = plans["parts"]
    assert parted.merge is not None and {"actor", "client"} <= set(parted.columns)
    assert parted.carried == ("published", "uuid")


def test_a_pack_a_little_over_the_budget_is_one_part():
    assert unit_parts({"okta": list("abcde")}, 4) == [{"okta": (0, list("abcde"))}]
    assert unit_parts({"okta": list("abcdef")}, 4) == [{"okta": (0, list("abcd"))}, {"okta": (4, list("ef"))}]
    assert len(unit_parts({"okta": list(range(464))}, STATEMENT_UNITS)) == 1  # bundled + 200 synthetic rules
