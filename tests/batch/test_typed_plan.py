"""The typed (Parquet) plan read in fewer columns and run in parts gives exactly what one
statement over every column gives, and what the streaming engine gives: alerts, matches, stats."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from batch.test_batch_engine import OKTA, events, rules
from batch.test_typed_parquet import as_parquet
from tokentrail import api
from tokentrail.engine import batch_digest, batch_parquet, batch_parts
from tokentrail.engine.batch import BatchEngine, scan_batch
from tokentrail.engine.batch_parquet import ParquetScan
from tokentrail.engine.batch_parts import unit_parts
from tokentrail.rules.ir import Cmp, Keywords
from tokentrail.rules.model import Grouping, PythonLogic, Rule


class _TargetApp:
    """A Python rule reading a list of structs no declarative rule reads: it needs whole rows."""

    def matches(self, event):
        return any(isinstance(t, dict) and t.get("type") == "AppInstance" for t in event.get("target") or ())

    def describe(self, event):
        return {}


PYTHON = Rule(id="py", title="py", format="panther", logsource=OKTA, log_types=("okta",),
              logic=PythonLogic("target_app.py", load=_TargetApp))
# Keywords are decided in Python: every row SQL reaches with it comes back unsure, read whole.
KEYWORDS = Rule(id="kw", title="kw", format="sigma", logsource=OKTA, logic=Keywords(("a@x.io",)))
START = Rule(id="start", title="start", format="sigma", logsource=OKTA,
             logic=Cmp("eventType", "eq", ("user.session.start",)),
             grouping=Grouping(group_by=("actor.alternateId",), window=600, threshold=2))


def outcome(result):
    return ([(a.id, a.rule_id, a.event_ids, a.count, a.fields) for a in result.alerts],
            result.stats.matches, result.stats.events, result.stats.unknown_events, result.stats.duplicates)


def four_ways(parquet, jsonl, rule_list):
    """Streaming over the read-back JSON lines; the batch engine as it runs (projected, one
    statement), in parts of one unit, with each unit's SQL digest built apart (blocks of one),
    and reading every column. Each batch way's plans, too."""
    plans: dict[str, list] = {}
    original = BatchEngine._typed_statement

    def recorded(way):
        def statement(self, schema):
            plan = original(self, schema)
            plans.setdefault(way, []).append((plan, schema))
            return plan
        return statement

    out = {"stream": outcome(api.scan([str(jsonl)], rule_list, workers=1))}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchEngine, "_typed_statement", recorded("projected"))
        out["projected"] = outcome(scan_batch([str(parquet)], rule_list))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchEngine, "_typed_statement", recorded("parts"))
        mp.setattr(batch_parts, "STATEMENT_UNITS", 1)
        out["parts"] = outcome(scan_batch([str(parquet)], rule_list))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchEngine, "_typed_statement", recorded("blocks"))
        mp.setattr(batch_digest, "DIGEST_BLOCK", 1)
        out["blocks"] = outcome(scan_batch([str(parquet)], rule_list))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchEngine, "_typed_statement", recorded("full"))
        mp.setattr(BatchEngine, "_read_columns", lambda self, schema, used: None)
        out["full"] = outcome(scan_batch([str(parquet)], rule_list))
    return out, plans


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(rules(4), events(40), st.booleans())
@example([START], [{"eventType": "user.session.start", "uuid": f"e{i}", "published": f"2026-01-01T00:00:0{i}Z",
                    "actor": {"alternateId": "a@x.io"}, "target": [{"type": "AppInstance"}]} for i in range(3)], True)
def test_parts_and_projection_give_one_statements_results(tmp_path_factory, rule_list, event_list, python):
    rule_list = [*rule_list, PYTHON, KEYWORDS] if python else rule_list
    parquet, jsonl = as_parquet(tmp_path_factory.mktemp("plan"), event_list)
    out, plans = four_ways(parquet, jsonl, rule_list)
    assert out["projected"] == out["stream"]
    assert out["parts"] == out["stream"]
    assert out["blocks"] == out["stream"]
    assert out["full"] == out["stream"]
    # The ways differed as meant: parts ran one statement per unit (and a merge), and the full
    # read read every column.
    (parted, _), = plans["parts"]
    assert len(parted.statements) == sum(len(u) for u in BatchEngine(rule_list).by_type.values()) > 1
    assert parted.merge is not None
    (full, _), = plans["full"]
    assert full.columns is None and full.merge is None


@pytest.mark.parametrize("direct", [True, False])
def test_projection_leaves_unread_columns_and_reads_whole_rows_for_python(tmp_path, monkeypatch, direct):
    rows = [{"eventType": "user.session.start" if i % 3 else "app.other", "uuid": f"e{i}",
             "published": f"2026-01-01T00:00:{i:02d}Z", "actor": {"alternateId": "a@x.io"},
             "client": {"ipAddress": "10.0.0.1"},
             "target": [{"type": "AppInstance" if i % 2 else "User", "id": str(i)}]} for i in range(30)]
    # A row of no log type SQL knows (Okta's keys missing): the streaming engine decides it whole.
    rows.append({"client": {"ipAddress": "10.0.0.2"}, "target": [{"type": "AppInstance"}]})
    parquet, jsonl = as_parquet(tmp_path, rows)
    whole: list = []
    original = ParquetScan._with_whole_rows

    def spy(self, result, table, schema, path, first):
        out = original(self, result, table, schema, path, first)
        whole.append((table.column_names, out.column_names))
        return out

    # The file read by the statements (whole rows: ``_rows_read``), or as Arrow batches.
    monkeypatch.setattr(batch_parquet, "DIRECT_PARQUET", direct)
    for rule_list in ([START], [START, PYTHON], [START, KEYWORDS]):
        whole.clear()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ParquetScan, "_with_whole_rows", spy)
            out, plans = four_ways(parquet, jsonl, rule_list)
        assert out["projected"] == out["parts"] == out["blocks"] == out["full"] == out["stream"]
        (plan, schema), = plans["projected"]
        # No declarative rule reads the client or the targets: they are read only where needed.
        assert "client" not in plan.columns and "target" not in plan.columns
        # The group key is read from the projection, unless every Okta row is read whole for Python.
        assert "eventType" in plan.columns and ("actor" in plan.columns) == (PYTHON not in rule_list)
        if not direct:
            read, routed = whole[0]
            assert read == list(plan.columns) and routed == schema.names
    assert out["stream"][1] > 0  # the keywords rule matched, from whole rows


def test_units_are_cut_in_order_across_log_types():
    by_type = {"okta": list("abcde"), "auth0": [], "salesforce": list("fg")}
    parts = unit_parts(by_type, 2)
    assert parts == [{"okta": (0, ["a", "b"])}, {"okta": (2, ["c", "d"])},
                     {"okta": (4, ["e"]), "salesforce": (0, ["f"])}, {"salesforce": (1, ["g"])}]
    assert unit_parts(by_type, 10) == [{"okta": (0, list("abcde")), "salesforce": (0, ["f", "g"])}]
