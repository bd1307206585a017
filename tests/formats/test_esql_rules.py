"""ES|QL rules run: the bundled ones alert on their groups in the streaming and DuckDB engines, and
Elastic's public Okta ES|QL rules load (or say why not) and the loaded ones fire.

Elastic's rules are read from ``$TOKENTRAIL_ELASTIC_RULES`` (a detection-rules checkout, or any
folder holding its ``rules/integrations/okta``), else /work/public-rules/elastic when present.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from pathlib import Path

import pytest

from tokentrail import load_rules, scan
from tokentrail.engine.batch import scan_batch

PACK = Path(__file__).resolve().parents[2] / "src" / "tokentrail" / "content" / "rules" / "elastic"
AGENTS_RULE = "86017426-bddf-45ca-b914-f81bddc9393d"
AUTH0_RULE = "fb85f1dc-fe08-4c13-853d-37148fc4e83d"
SCRIPT_RULE = "22bc4523-b304-4ccd-b77c-fd2e66bb44e2"


def _grant(n: int, client: str, agent: str, minute: int) -> dict:
    return {
        "uuid": f"grant-{client}-{n}", "published": f"2026-12-01T11:{minute:02d}:00.000Z",
        "eventType": "app.oauth2.as.token.grant.refresh_token",
        "actor": {"id": client, "type": "PublicClientApp"},
        "client": {"ipAddress": "203.0.113.9", "userAgent": {"rawUserAgent": agent}},
        "outcome": {"result": "SUCCESS"},
    }


def _write(tmp_path: Path, events: list[dict]) -> Path:
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    return path


def _alerts(rule_id: str, path: Path, rules, engine: str = "stream") -> list:
    result = scan([path], rules) if engine == "stream" else scan_batch([path], rules)
    assert not result.rule_errors
    return sorted((a.group_key, a.count, a.event_ids) for a in result.alerts if a.rule_id == rule_id)


@pytest.mark.parametrize("engine", ["stream", "duckdb"])
def test_tokens_from_several_user_agents_alert_once_per_client(tmp_path: Path, engine: str):
    rules = load_rules([PACK])
    events = [
        _grant(1, "0oaSTOLEN", "okhttp/4.12.0", 0),
        _grant(2, "0oaSTOLEN", "python-requests/2.31.0", 10),
        _grant(3, "0oaSTOLEN", "curl/8.5.0", 20),
        _grant(4, "0oaSTOLEN", "curl/8.5.0", 30),
        # Another client: three grants, but one user agent.
        *(_grant(n, "0oaSERVICE", "okhttp/4.12.0", n) for n in range(5, 8)),
        # Three agents, but the third grant comes after the hour has passed.
        _grant(8, "0oaLATE", "a/1", 0), _grant(9, "0oaLATE", "b/1", 5),
    ]
    late = _grant(10, "0oaLATE", "c/1", 0)
    late["published"] = "2026-12-01T12:30:00.000Z"
    alerts = _alerts(AGENTS_RULE, _write(tmp_path, [*events, late]), rules, engine)
    assert alerts == [(("0oaSTOLEN",), 4, tuple(f"grant-0oaSTOLEN-{n}" for n in range(1, 5)))]


@pytest.mark.parametrize("engine", ["stream", "duckdb"])
def test_client_credentials_from_three_networks_alert(tmp_path: Path, engine: str):
    rules = load_rules([PACK])

    def exchange(n: int, client: str, ip: str | None) -> dict:
        data = {"date": f"2026-12-01T12:{n:02d}:00.000Z", "type": "seccft", "client_id": client}
        if ip:
            data["ip"] = ip
        return {"log_id": f"9002026120100000000000000000000000000000000000{n:04d}", "data": data}

    events = [exchange(1, "m2mLEAKED", "192.0.2.1"), exchange(2, "m2mLEAKED", "198.51.100.2"),
              exchange(3, "m2mLEAKED", None), exchange(4, "m2mLEAKED", "203.0.113.3"),
              exchange(5, "m2mFINE", "192.0.2.50"), exchange(6, "m2mFINE", "192.0.2.50"),
              exchange(7, "m2mFINE", None), exchange(8, "m2mFINE", "192.0.2.51")]
    alerts = _alerts(AUTH0_RULE, _write(tmp_path, events), rules, engine)
    assert [(key, count) for key, count, _ in alerts] == [(("m2mLEAKED",), 3)]


def test_a_rule_without_stats_alerts_on_each_matching_event(tmp_path: Path):
    rules = load_rules([PACK])
    event = {"uuid": "t-1", "published": "2026-12-01T10:00:00.000Z", "eventType": "system.api_token.create",
             "client": {"userAgent": {"rawUserAgent": "PowerShell/7.4"}}, "outcome": {"result": "SUCCESS"}}
    other = {**event, "uuid": "t-2", "client": {"userAgent": {"rawUserAgent": "Mozilla/5.0 Firefox/121.0"}}}
    assert _alerts(SCRIPT_RULE, _write(tmp_path, [event, other]), rules) == [(("t-1",), 1, ("t-1",))]


# -- Elastic's public Okta ES|QL rules ---------------------------------------------------------

def _elastic_okta_esql() -> list[Path]:
    root = os.environ.get("TOKENTRAIL_ELASTIC_RULES") or "/work/public-rules/elastic"
    folder = Path(root) / "rules" / "integrations" / "okta"
    if not folder.is_dir():
        folder = Path(root)
    if not folder.is_dir():
        pytest.skip(f"Elastic's detection rules are not at {root} (set TOKENTRAIL_ELASTIC_RULES)")
    found = [p for p in sorted(folder.glob("*.toml"))
             if tomllib.loads(p.read_text(encoding="utf-8")).get("rule", {}).get("type") == "esql"]
    if not found:
        pytest.skip(f"no ES|QL rules under {folder}")
    return found


def _ecs(n: int, minute: int, **okta) -> dict:
    return {"@timestamp": f"2026-12-01T09:{minute:02d}:00.000Z",
            "event": {"dataset": "okta.system", "id": f"ecs-{n}", "action": "user.session.start",
                      "outcome": "success"},
            "data_stream": {"dataset": "okta.system"}, **okta}


def _native(n: int, second: int, event_type: str, user: str, ip: str, **extra) -> dict:
    return {"uuid": f"n-{n}", "published": f"2026-12-01T10:{second // 60:02d}:{second % 60:02d}.000Z",
            "eventType": event_type, "actor": {"id": "00u" + user, "alternateId": user, "type": "User"},
            "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": extra.pop("agent", "Mozilla/5.0")}},
            "outcome": {"result": "FAILURE", "reason": "INVALID_CREDENTIALS"},
            "debugContext": {"debugData": {"requestUri": "/api/v1/authn", **extra}}}


def _elastic_patterns() -> list[dict]:
    """Events enacting six of Elastic's Okta ES|QL patterns (ECS documents and native events)."""
    events = [
        _ecs(1, 0, okta={"actor": {"id": "00uTRAVEL", "alternate_id": "t@example.com"},
                         "security_context": {"is_proxy": False}}, client={"geo": {"country_name": "France"}}),
        _ecs(2, 5, okta={"actor": {"id": "00uTRAVEL", "alternate_id": "t@example.com"},
                         "security_context": {"is_proxy": False}}, client={"geo": {"country_name": "Brazil"}}),
    ]
    for n in range(21):  # one device token failing for many users
        events.append({
            "@timestamp": f"2026-12-01T10:00:{n:02d}.000Z",
            "event": {"dataset": "okta.system", "id": f"dt-{n}", "action": "user.authentication.sso"},
            "data_stream": {"dataset": "okta.system"},
            "okta": {"actor": {"id": f"00uVICTIM{n}", "alternate_id": "spray@example.com"},
                     "outcome": {"reason": "INVALID_CREDENTIALS"},
                     "debug_context": {"debug_data": {"dt_hash": "f00dcafe"}}},
        })
    for k in range(4):  # one session, four device tokens, two addresses
        events.append({
            "@timestamp": f"2026-12-01T10:20:0{k}.000Z",
            "event": {"dataset": "okta.system", "id": f"sess-{k}", "action": "user.session.access_admin_app"},
            "data_stream": {"dataset": "okta.system"},
            "okta": {"actor": {"alternate_id": "victim@example.com"},
                     "authentication_context": {"external_session_id": "102abc"},
                     "debug_context": {"debug_data": {"dt_hash": f"hash{k}"}},
                     "client": {"ip": f"203.0.113.{k % 2}", "user_agent": {"raw_user_agent": "Mozilla/5.0"}}},
        })
    # Credential stuffing from one address: 20 users, one or two attempts each (native events).
    n = 100
    for user in range(20):
        for _ in range(1 + user % 2):
            n += 1
            events.append(_native(n, 600 + n, "user.authentication.sso", f"stuffed{user}@example.com", "198.51.100.9"))
    # Twelve failures of one user from one address, never with a device token.
    events += [_native(200 + k, 1500 + k, "user.session.start", "forced@example.com", "192.0.2.200") for k in range(12)]
    return sorted(events, key=lambda e: e.get("published") or e["@timestamp"])


def test_elastic_okta_esql_rules_load_or_name_what_stops_them_and_the_loaded_ones_fire(tmp_path: Path):
    files = _elastic_okta_esql()
    folder = tmp_path / "rules"
    folder.mkdir()
    for path in files:
        shutil.copy(path, folder / path.name)
    result = load_rules([folder])
    assert not result.errors
    runnable = [r for r in result.rules if r.runnable]
    for rule in result.rules:
        if not rule.runnable:
            assert "ES|QL" in rule.unsupported and "file line" in rule.unsupported, rule.unsupported
    print(f"\nElastic Okta ES|QL rules: {len(runnable)} of {len(result.rules)} load and run")
    for rule in result.rules:
        print(f"  {'runs' if rule.runnable else 'not lowered'}: {rule.title}"
              + ("" if rule.runnable else f" -- {rule.unsupported}"))
    # At 14cf530 (Aug 2026) all ten load; before the aggregate queries two did.
    assert len(runnable) >= 9
    path = _write(tmp_path, _elastic_patterns())
    stream, batch = scan([path], runnable), scan_batch([path], runnable)
    assert not stream.rule_errors and not batch.rule_errors
    fired = {next(r.title for r in runnable if r.id == a.rule_id): a for a in stream.alerts}
    assert fired["Okta User Sessions Started from Different Geolocations"].group_key == ("00uTRAVEL", "t@example.com")
    assert fired["Potential Okta Credential Stuffing (Single Source)"].fields["Esql.unique_users"] == 20
    assert fired["Potential Okta Credential Stuffing (Single Source)"].count == 30
    assert fired["Multiple Device Token Hashes for Single Okta Session"].group_key == ("victim@example.com", "102abc")
    rotation = fired["Potential Okta Brute Force (Device Token Rotation)"]
    assert rotation.group_key == ("192.0.2.200", "forced@example.com")
    assert (rotation.fields["Esql.total_attempts"], rotation.fields["Esql.dt_coverage"]) == (12, 0.0)
    assert any("Device Token Hash" in title for title in fired)
    # The same alerts from DuckDB: every condition is evaluated by the one alerting code.
    assert sorted((a.id, a.event_ids, tuple(sorted(a.fields.items()))) for a in batch.alerts) == \
        sorted((a.id, a.event_ids, tuple(sorted(a.fields.items()))) for a in stream.alerts)


# -- the bundled rules that use aggregate queries, on a simulated day ---------------------------

BURST_RULE = "29b059e1-8288-420d-becb-3548b14823bd"  # conditional counts, an EVAL'd share
ANONYMIZER_RULE = "f7c1add3-9425-4447-80b2-9be7a6a1e50f"  # a second STATS
REUSE_RULE = "2309ace4-cae8-4df3-a62a-eeabc2d34b32"  # times of some rows compared, DATE_DIFF, OR
AGGREGATE_RULES = (BURST_RULE, ANONYMIZER_RULE, REUSE_RULE)


@pytest.fixture(scope="module")
def simulated_day(tmp_path_factory):
    from tokentrail.simulate import write_logs

    out = tmp_path_factory.mktemp("esql-day")
    paths = write_logs(out / "all", ["all"], 6000, 11)
    quiet = write_logs(out / "benign", ["benign"], 6000, 11)
    return out, [paths["okta"], paths["auth0"]], [quiet["okta"], quiet["auth0"]]


def _signature(alerts) -> list:
    return [(a.id, a.rule_id, a.window_start, a.event_ids, a.count, json.dumps(a.fields, sort_keys=True))
            for a in alerts]


def test_aggregate_rules_fire_once_on_their_attacks_and_duckdb_gives_the_same_alerts(simulated_day):
    _, files, _ = simulated_day
    rules = [r for r in load_rules([PACK]).rules if r.runnable]
    stream, batch = scan(files, rules, workers=1), scan_batch(files, rules)
    assert not stream.rule_errors and not batch.rule_errors
    assert _signature(batch.alerts) == _signature(stream.alerts)
    fired = {rid: [a for a in stream.alerts if a.rule_id == rid] for rid in AGGREGATE_RULES}
    assert {rid: len(found) for rid, found in fired.items()} == dict.fromkeys(AGGREGATE_RULES, 1)
    (burst,), (anonymized,), (reuse,) = fired[BURST_RULE], fired[ANONYMIZER_RULE], fired[REUSE_RULE]
    # The simulated burst: 24 refresh exchanges from one host, every eighth accepted.
    assert (burst.count, burst.fields["refused"], burst.fields["accepted"]) == (24, 21, 3)
    assert burst.fields["refused_share"] == 21 / 24
    assert anonymized.fields["networks"] >= 3 and anonymized.fields["proxied_networks"] >= 3
    assert reuse.fields["reuses"] == 1 and 0 <= reuse.fields["minutes"] <= 30


def test_aggregate_rules_stay_quiet_on_benign_traffic(simulated_day):
    _, _, quiet = simulated_day
    rules = [r for r in load_rules([PACK]).rules if r.id in AGGREGATE_RULES]
    assert len(rules) == 3 and all(r.runnable for r in rules)
    result = scan(quiet, rules, workers=1)
    assert result.stats.matches > 500  # the rules read plenty of benign grants and exchanges
    assert result.alerts == []


def test_scan_engine_duckdb_prints_the_stream_alerts_of_the_aggregate_rules(simulated_day):
    from typer.testing import CliRunner

    from tokentrail.cli import app

    out, _, _ = simulated_day
    folder = out / "aggregate-rules"
    folder.mkdir(exist_ok=True)
    for path in PACK.glob("*_esql.*"):
        shutil.copy(path, folder / path.name)

    def run(engine: str) -> list[dict]:
        result = CliRunner().invoke(app, ["scan", str(out / "all"), "-r", str(folder), "--format", "jsonl",
                                          "--engine", engine], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        return [json.loads(line) for line in result.stdout.splitlines()]

    stream = run("stream")
    assert {a["rule_id"] for a in stream} >= set(AGGREGATE_RULES)
    assert run("duckdb") == stream
