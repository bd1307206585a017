"""Running a rule's expression on one log type: renamed fields, folded ECS constants."""

from __future__ import annotations

from tokentrail.compile.python import compile_expr
from tokentrail.rules.ir import All, Any, Cmp, Const, Exists, Not
from tokentrail.rules.model import LogSource
from tokentrail.schemas import (
    detect_log_type,
    ecs_constants,
    fold_constants,
    get_log_type,
    log_types_for,
    log_types_for_names,
    specialize,
)


def _seed001_query() -> All:
    # event.dataset:okta.system and event.action:system.api_token.create (KQL keyword fields)
    return All(
        (
            Cmp("event.dataset", "eq", ("okta.system",), cased=True),
            Cmp("event.action", "eq", ("system.api_token.create",), cased=True),
        )
    )


def _seed000_selection(rule: dict) -> All:
    items = []
    for field, value in rule["detection"]["selection"].items():
        values = tuple(value) if isinstance(value, list) else (value,)
        items.append(Cmp(field, "eq", values))
    return All(tuple(items))


def _runs_on(expr, event) -> bool:
    lt = detect_log_type(event)
    ci = get_log_type(lt).case_insensitive_fields
    return compile_expr(specialize(expr, lt, "ecs"), ci_fields=ci)(event)


def test_seed_001_runs_on_native_and_ecs_okta(okta_event, ecs_okta_dotted, ecs_okta_nested):
    query = _seed001_query()
    assert _runs_on(query, okta_event)
    assert _runs_on(query, ecs_okta_dotted)
    assert _runs_on(query, ecs_okta_nested)
    assert not _runs_on(query, dict(okta_event, eventType="user.session.start"))
    assert not _runs_on(query, dict(ecs_okta_nested, event={"dataset": "okta.system", "action": "x"}))


def test_seed_001_cannot_match_other_vendors_native_events(seed001_text):
    assert "filebeat-*" in seed001_text
    query = _seed001_query()
    for lt in log_types_for_names(["filebeat-*"], "elastic"):
        if lt in ("auth0", "auth0.api"):
            assert specialize(query, lt, "ecs") == Const(False)
    assert specialize(query, "okta", "ecs") == All(
        (Cmp("eventType", "eq", ("system.api_token.create",), cased=True),)
    )


def test_seed_000_runs_on_stream_and_api_records(seed000_rule, auth0_stream_event, auth0_api_event):
    selection = _seed000_selection(seed000_rule)
    for event in (auth0_stream_event, auth0_api_event):
        lt = detect_log_type(event)
        assert lt in log_types_for(LogSource(**seed000_rule["logsource"]))
        assert compile_expr(specialize(selection, lt))(event)
    other = dict(auth0_api_event, details={"accessedSecrets": ["none"]})
    assert not compile_expr(specialize(selection, "auth0.api"))(other)


def test_native_dialect_does_not_fold_constants():
    query = _seed001_query()
    assert specialize(query, "auth0", "native") == query


def test_ecs_constants_only_for_native_log_types():
    assert ecs_constants("okta")["event.dataset"] == "okta.system"
    assert ecs_constants("ecs.okta") == {}
    assert ecs_constants("no.such") == {}


def test_folding_rules():
    consts = {"event.module": "okta"}
    keep = Cmp("event.action", "eq", ("x",))
    assert fold_constants(Cmp("event.module", "eq", ("OKTA",)), consts) == Const(True)
    assert fold_constants(Cmp("event.module", "eq", ("OKTA",), cased=True), consts) == Const(False)
    assert fold_constants(Cmp("event.module", "startswith", ("ok",)), consts) == Const(True)
    assert fold_constants(Exists("event.module"), consts) == Const(True)
    assert fold_constants(Not(Cmp("event.module", "eq", ("auth0",))), consts) == Const(True)
    assert fold_constants(Any((Cmp("event.module", "eq", ("auth0",)), keep)), consts) == Any((keep,))
    assert fold_constants(Any((Cmp("event.module", "eq", ("okta",)), keep)), consts) == Const(True)
    assert fold_constants(All((Cmp("event.module", "eq", ("okta",)),)), consts) == Const(True)
    untouched = All((keep, Not(keep)))
    assert fold_constants(untouched, consts) is untouched
