"""Benchmark: Panther tests, on a synthetic repository or on a real one side by side with pat.

Synthetic (default): load and test a generated repository (1,000 rules, 3,500 tests).

The repository is generated in a temporary directory: rules in several families written the
way Panther content is (``deep_get``, global helpers, a data model, caching helpers replaced by
``Mocks``, title/dedup/severity/alert_context functions), half with three tests and half with
four. We time ``load_rules`` and ``run_panther_tests`` separately, twice: a cold run (no
bytecode cache) and a warm one (a fresh process would find ``__pycache__``).

    .venv/bin/python bench/panther_tests.py [--rules 1000] [--budget 5.0] [--keep DIR]

Real repository (``--repo``, e.g. a checkout of panther-labs/panther-analysis): time
``tokentrail test REPO --format json`` as a process, and ``pat test`` run in REPO when a ``pat``
executable is on PATH (or given with ``--pat``), alternating, ``--rounds`` times each; then
compare the verdicts case by case (every case pat runs must have TokenTrail's same verdict).

    .venv/bin/python bench/panther_tests.py --repo /work/pa [--pat /work/patvenv/bin/pat] [--rounds 2]

Scan agreement (``--repo REPO --scan-agreement``): for every test without Mocks of the rules in
the SaaS folders (Okta, Auth0, Salesforce, GitHub, Google Workspace, Slack, Zoom, Duo, OneLogin,
1Password, Entra ID sign-in), write its Log as one JSON line and scan it through the library
(reader, log-type detection, engine): the rule must match exactly when ExpectedResult is true.
Rules shipped disabled are enabled for this; scheduled rules (their events are query rows) and
tests with Mocks are left out and counted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tokentrail.formats.panther import run_panther_tests
from tokentrail.formats.panther.imports import module_name_for
from tokentrail.rules.loader import load_rules

HELPERS = '''\
"""Helpers shared by the benchmark rules."""

from collections.abc import Mapping


def deep_get(obj, *keys, default=None):
    for key in keys:
        if not isinstance(obj, Mapping):
            return default
        obj = obj.get(key)
        if obj is None:
            return default
    return obj


def is_private_ip(ip):
    return isinstance(ip, str) and ip.startswith(("10.", "192.168.", "172.16."))


def okta_alert_context(event):
    return {
        "actor": deep_get(event, "actor", "alternateId"),
        "ip": deep_get(event, "client", "ipAddress"),
        "event_type": event.get("eventType"),
        "outcome": deep_get(event, "outcome", "result"),
    }
'''

DATA_MODEL_YML = """\
AnalysisType: datamodel
DataModelID: Bench.Okta.SystemLog
Enabled: true
LogTypes: [Okta.SystemLog]
Mappings:
  - Name: actor_user
    Path: $.actor.alternateId
  - Name: source_ip
    Path: $.client.ipAddress
"""

OKTA_RULE = """\
import json

from bench_helpers import deep_get, is_private_ip, okta_alert_context
from panther_detection_helpers.caching import get_string_set

EVENT_TYPES = {event_types}
THRESHOLD_IPS = {threshold}


def rule(event):
    if event.get("eventType") not in EVENT_TYPES:
        return False
    if deep_get(event, "outcome", "result") != "{outcome}":
        return False
    ip = event.udm("source_ip")
    if is_private_ip(ip):
        return False
    known = get_string_set("bench:" + str(event.udm("actor_user")))
    if isinstance(known, str):  # a test's mock returns the JSON text as written
        known = json.loads(known)
    return ip not in known or len(known) > THRESHOLD_IPS


def title(event):
    return f"{title_prefix} by [{{event.udm('actor_user')}}] from [{{event.udm('source_ip')}}]"


def dedup(event):
    return str(event.udm("actor_user"))


def severity(event):
    if deep_get(event, "actor", "type") == "{admin_type}":
        return "HIGH"
    return "DEFAULT"


def alert_context(event):
    return okta_alert_context(event)
"""

AUTH0_RULE = """\
from bench_helpers import deep_get

TYPES = {types}
CLIENTS = {clients}


def rule(event):
    data = event.get("data") or event
    if data.get("type") not in TYPES:
        return False
    secrets = event.deep_walk("data", "details", "accessedSecrets", default=[])
    return data.get("client_id") in CLIENTS or "client_secret" in (secrets or [])


def title(event):
    return f"{title_prefix}: client [{{deep_get(event, 'data', 'client_id')}}]"


def alert_context(event):
    return {{"client_id": deep_get(event, "data", "client_id"), "ip": deep_get(event, "data", "ip")}}
"""

SALESFORCE_RULE = """\
from panther_detection_helpers.caching import increment_counter

EVENT_TYPES = {event_types}
LIMIT = {limit}


def rule(event):
    if event.get("EVENT_TYPE") not in EVENT_TYPES:
        return False
    calls = int(event.get("API_TOTAL_COUNT") or 0)
    return calls > LIMIT or int(increment_counter("bench:" + str(event.get("USER_ID")))) > {burst}


def title(event):
    return f"{title_prefix} for [{{event.get('USER_NAME')}}]"


def severity(event):
    return "CRITICAL" if int(event.get("API_TOTAL_COUNT") or 0) > LIMIT * 10 else "MEDIUM"


def dedup(event):
    return f"{{event.get('CONNECTED_APP_ID')}}:{{event.get('USER_ID')}}"


def alert_context(event):
    return {{k: event.get(k) for k in ("USER_ID", "USER_NAME", "SOURCE_IP", "API_TOTAL_COUNT")}}
"""


def _yaml_rule(rule_id: str, filename: str, log_type: str, severity: str, tests: list[dict]) -> str:
    # JSON is YAML, so test logs are written as JSON flow mappings: compact and exact.
    lines = [
        "AnalysisType: rule",
        f"RuleID: {rule_id}",
        f"DisplayName: Benchmark rule {rule_id}",
        "Enabled: true",
        f"Filename: {filename}",
        f"LogTypes: [{log_type}]",
        f"Severity: {severity}",
        "DedupPeriodMinutes: 60",
        "Threshold: 1",
        "Tags: [Benchmark, Token Theft]",
        "Reports:",
        "  MITRE ATT&CK:",
        "    - TA0006:T1528",
        "Description: >",
        "  A synthetic rule generated to measure loading and testing speed. It reads nested",
        "  fields, calls global helpers and uses the caching helpers through mocks.",
        "Runbook: Check the actor and the source IP against the inventory.",
        "Reference: https://example.com/runbooks/benchmark",
        "Tests:",
    ]
    for test in tests:
        lines.append(f"  - Name: {json.dumps(test['name'])}")
        lines.append(f"    ExpectedResult: {'true' if test['expected'] else 'false'}")
        if test.get("mocks"):
            lines.append("    Mocks:")
            for name, value in test["mocks"].items():
                lines.append(f"      - objectName: {name}")
                lines.append(f"        returnValue: {json.dumps(value)}")
        lines.append(f"    Log: {json.dumps(test['log'])}")
    return "\n".join(lines) + "\n"


def _okta(n: int, rng: random.Random, tests: int) -> tuple[str, str, list[dict]]:
    types = sorted(
        rng.sample(
            [
                "user.session.start",
                "system.api_token.create",
                "user.mfa.factor.deactivate",
                "app.oauth2.as.token.grant",
                "user.account.privilege.grant",
            ],
            2,
        )
    )
    code = OKTA_RULE.format(
        event_types=repr(set(types)),
        threshold=rng.randint(3, 9),
        outcome="SUCCESS",
        title_prefix=f"Okta activity {n}",
        admin_type="User",
    )

    def log(event_type: str, ip: str, outcome: str = "SUCCESS") -> dict:
        return {
            "eventType": event_type,
            "published": "2024-05-01T10:00:00.000Z",
            "actor": {"id": f"00u{n}", "type": "User", "alternateId": f"user{n}@example.com"},
            "client": {"ipAddress": ip, "userAgent": {"rawUserAgent": "Mozilla/5.0"}},
            "outcome": {"result": outcome},
            "debugContext": {"debugData": {"dtHash": f"h{n}"}},
        }

    cases = [
        {
            "name": "new IP",
            "expected": True,
            "mocks": {"get_string_set": '["198.51.100.1"]'},
            "log": log(types[0], "203.0.113.9"),
        },
        {
            "name": "known IP",
            "expected": False,
            "mocks": {"get_string_set": '["203.0.113.9"]'},
            "log": log(types[1], "203.0.113.9"),
        },
        {"name": "private IP", "expected": False, "log": log(types[0], "10.1.2.3")},
        {"name": "failed", "expected": False, "log": log(types[1], "203.0.113.9", "FAILURE")},
    ]
    return code, "Okta.SystemLog", cases[:tests]


def _auth0(n: int, rng: random.Random, tests: int) -> tuple[str, str, list[dict]]:
    types = sorted(rng.sample(["mgmt_api_read", "seccft", "sapi", "fcoa", "scoa"], 2))
    clients = [f"client{n}x{i}" for i in range(rng.randint(2, 5))]
    code = AUTH0_RULE.format(
        types=repr(set(types)), clients=repr(set(clients)), title_prefix=f"Auth0 client activity {n}"
    )

    def log(log_type: str, client: str, secrets: list[str]) -> dict:
        return {
            "log_id": f"9002024{n:08d}",
            "data": {
                "type": log_type,
                "date": "2024-05-01T10:00:00.000Z",
                "client_id": client,
                "ip": "203.0.113.7",
                "details": {"accessedSecrets": secrets, "request": {"path": f"/api/v2/clients/{client}"}},
            },
        }

    cases = [
        {"name": "watched client", "expected": True, "log": log(types[0], clients[0], [])},
        {"name": "secret read", "expected": True, "log": log(types[1], "other", ["client_secret"])},
        {"name": "other client", "expected": False, "log": log(types[0], "other", [])},
        {"name": "other type", "expected": False, "log": log("ssa", clients[0], ["client_secret"])},
    ]
    return code, "Auth0.Events", cases[:tests]


def _salesforce(n: int, rng: random.Random, tests: int) -> tuple[str, str, list[dict]]:
    types = sorted(rng.sample(["ApiTotalUsage", "ApiEvent", "BulkApiResult", "ReportEvent"], 2))
    limit = rng.choice([1000, 5000, 10000])
    code = SALESFORCE_RULE.format(
        event_types=repr(set(types)),
        limit=limit,
        burst=rng.randint(50, 200),
        title_prefix=f"Salesforce API burst {n}",
    )

    def log(event_type: str, calls: int) -> dict:
        return {
            "EVENT_TYPE": event_type,
            "TIMESTAMP_DERIVED": "2024-05-01 10:00:00.000",
            "USER_ID": f"005{n:012d}",
            "USER_NAME": f"api{n}@example.com",
            "SOURCE_IP": "198.51.100.4",
            "CONNECTED_APP_ID": f"0H0{n:012d}",
            "API_TOTAL_COUNT": calls,
        }

    cases = [
        {"name": "over limit", "expected": True, "log": log(types[0], limit + 1)},
        {"name": "burst", "expected": True, "mocks": {"increment_counter": "1000"}, "log": log(types[1], 1)},
        {"name": "under limit", "expected": False, "log": log(types[0], 1)},
        {"name": "other type", "expected": False, "log": log("LoginEvent", limit * 100)},
    ]
    return code, "Salesforce.ApiTotalUsage", cases[:tests]


def generate(root: Path, rules: int, seed: int = 7) -> int:
    """Write a synthetic Panther repository under ``root``; return the number of tests."""
    rng = random.Random(seed)
    (root / "global_helpers").mkdir(parents=True)
    (root / "global_helpers" / "bench_helpers.py").write_text(HELPERS)
    (root / "data_models").mkdir()
    (root / "data_models" / "okta.yml").write_text(DATA_MODEL_YML)
    families = [("okta", _okta), ("auth0", _auth0), ("salesforce", _salesforce)]
    severities = ["Info", "Low", "Medium", "High", "Critical"]
    total = 0
    for n in range(rules):
        family, make = families[n % len(families)]
        tests = 3 if n % 2 else 4
        code, log_type, cases = make(n, rng, tests)
        folder = root / "rules" / family
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{family}_rule_{n:04d}"
        (folder / f"{stem}.py").write_text(code)
        (folder / f"{stem}.yml").write_text(
            _yaml_rule(f"Bench.{family}.{n:04d}", f"{stem}.py", log_type, rng.choice(severities), cases)
        )
        total += len(cases)
    return total


def _forget_modules(root: Path) -> None:
    """Drop the imported rule modules so the next round imports them again."""
    for py in root.rglob("*.py"):
        sys.modules.pop(module_name_for(py), None)
    sys.modules.pop("bench_helpers", None)


def run_once(root: Path) -> tuple[float, float, int, int, int]:
    started = time.perf_counter()
    result = load_rules([root])
    loaded = time.perf_counter()
    outcomes = run_panther_tests(result.rules)
    finished = time.perf_counter()
    failed = sum(not o.passed for o in outcomes)
    return loaded - started, finished - loaded, len(result.rules), len(outcomes), failed + len(result.errors)


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_PAT_CASE = re.compile(r"^\t\[(PASS|FAIL)\] (.*)$")


def pat_verdicts(output: str) -> dict[tuple[str, str], bool]:
    """``(detection id, test name) -> passed`` from ``pat test``'s report: a detection id on a
    line of its own, then one ``\t[PASS] name`` line per test (deeper lines are its checks)."""
    verdicts: dict[tuple[str, str], bool] = {}
    current = None
    for raw in output.splitlines():
        line = _ANSI.sub("", raw)
        if line.startswith("-----"):
            break  # the summaries follow
        if line and not line[0].isspace() and " " not in line.strip() and ":" not in line:
            current = line.strip()
            continue
        m = _PAT_CASE.match(line)
        if m and current:
            verdicts[(current, m.group(2))] = m.group(1) == "PASS"
    return verdicts


def tokentrail_verdicts(output: str) -> tuple[dict[tuple[str, str], bool], int]:
    """``(rule id, test name) -> passed`` and the number skipped, from ``tokentrail test --format json``."""
    # Rules that print (until tests capture their output) write before the report.
    report = json.loads(output[re.search(r'^\{\s*"passed"', output, re.MULTILINE).start():])
    results = report["results"]
    verdicts = {(r["rule_id"], r["name"]): r["passed"] for r in results if not r.get("skipped")}
    return verdicts, sum(1 for r in results if r.get("skipped"))


def _timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one run of ``command``."""
    env = {**os.environ, "NO_COLOR": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def compare_repo(repo: Path, pat: str | None, rounds: int) -> int:
    """Time both tools on ``repo`` and compare their verdicts; 0 when TokenTrail agrees on every
    case pat runs."""
    ours = [sys.executable, "-m", "tokentrail.cli", "test", str(repo), "--format", "json"]
    tt_times: list[float] = []
    pat_times: list[float] = []
    tt_cpu: list[float] = []
    pat_cpu: list[float] = []
    tt_out = pat_out = ""
    for _ in range(rounds):
        if pat:
            seconds, cpu, pat_out = _timed([pat, "test"], repo)
            pat_times.append(seconds)
            pat_cpu.append(cpu)
        seconds, cpu, tt_out = _timed(ours, repo)
        tt_times.append(seconds)
        tt_cpu.append(cpu)
    mine, skipped = tokentrail_verdicts(tt_out)
    print(f"tokentrail test: {len(mine)} cases run, {sum(mine.values())} passing, "
          f"{len(mine) - sum(mine.values())} failing, {skipped} skipped; "
          f"wall {', '.join(f'{t:.2f}' for t in tt_times)} s (median {statistics.median(tt_times):.2f}), "
          f"CPU {', '.join(f'{t:.2f}' for t in tt_cpu)} s")
    if not pat:
        print("pat: not on PATH (give --pat), TokenTrail timed alone")
        return 0 if all(mine.values()) else 1
    theirs = pat_verdicts(pat_out)
    missing = [k for k in theirs if k not in mine]
    differ = [k for k in theirs if k in mine and mine[k] != theirs[k]]
    print(f"pat test: {len(theirs)} cases run, {sum(theirs.values())} passing; "
          f"wall {', '.join(f'{t:.2f}' for t in pat_times)} s (median {statistics.median(pat_times):.2f}), "
          f"CPU {', '.join(f'{t:.2f}' for t in pat_cpu)} s")
    print(f"speed-up, median pat / median tokentrail: wall "
          f"{statistics.median(pat_times) / statistics.median(tt_times):.1f}x, "
          f"CPU {statistics.median(pat_cpu) / statistics.median(tt_cpu):.1f}x")
    print(f"verdicts: {len(theirs) - len(missing) - len(differ)} of {len(theirs)} pat cases the same; "
          f"{len(missing)} not run by TokenTrail, {len(differ)} different; "
          f"{len(set(mine) - set(theirs))} run by TokenTrail only")
    for rule_id, name in (missing + differ)[:20]:
        print(f"  {rule_id} :: {name}: pat {theirs[(rule_id, name)]}, tokentrail {mine.get((rule_id, name))}")
    return 0 if not missing and not differ else 1


SAAS_FOLDERS = (
    "okta_rules",
    "auth0_rules",
    "salesforce_rules",
    "github_rules",
    "gsuite_activityevent_rules",
    "gsuite_reports_rules",
    "slack_rules",
    "zoom_operation_rules",
    "duo_rules",
    "onelogin_rules",
    "onepassword_rules",
    "azure_signin_rules",
)


def scan_agreement(repo: Path) -> int:
    """Scan each SaaS rule's test logs one line at a time; print the agreement per folder."""
    import dataclasses
    from collections import Counter

    from tokentrail import api
    from tokentrail.rules.loader import LoadContext
    from tokentrail.rules.model import PythonLogic

    folders = [repo / "rules" / f for f in SAAS_FOLDERS if (repo / "rules" / f).is_dir()]
    result = load_rules(folders, context=LoadContext(allow_python=True))
    counts: dict[str, list[int]] = {}
    left_out: Counter[str] = Counter()
    disagree: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tokentrail-panther-scan-") as tmp:
        line = Path(tmp) / "event.jsonl"
        for rule in result.rules:
            if rule.metadata.get("analysis_type") != "rule" or not isinstance(rule.logic, PythonLogic):
                left_out[str(rule.metadata.get("analysis_type"))] += len(rule.tests)
                continue
            folder = Path(rule.path).relative_to(repo / "rules").parts[0]
            scanned = dataclasses.replace(rule, enabled=True)
            for test in rule.tests:
                if test.mocks:
                    left_out["with Mocks"] += 1
                    continue
                line.write_text(json.dumps(test.event) + "\n")
                tally = counts.setdefault(folder, [0, 0, 0])
                tally[0] += 1
                if _scan_matches(api, line, scanned, None) is test.expected:
                    tally[1] += 1
                    tally[2] += 1
                    continue
                # A native export names no p_log_type: the user names the file's log type
                # (``scan --log-type``), here the rule's first Panther log type.
                named = rule.metadata.get("panther_log_types") or ()
                if "p_log_type" not in test.event and named and _scan_matches(api, line, scanned, named[0]) is test.expected:
                    tally[2] += 1
                else:
                    disagree.append(f"  {rule.id} :: {test.name}: expected {test.expected}")
    total = sum(c[0] for c in counts.values())
    agree = sum(c[1] for c in counts.values())
    named_agree = sum(c[2] for c in counts.values())
    print(f"scan agreement, log type detected: {agree} of {total} tests ({100 * agree / max(total, 1):.1f}%); "
          f"with the log type named where the Log has no p_log_type: {named_agree} "
          f"({100 * named_agree / max(total, 1):.1f}%); left out: {dict(left_out)}")
    for folder, (t, a, n) in sorted(counts.items()):
        print(f"  {folder}: {a}/{t} detected, {n}/{t} named")
    print("\n".join(disagree))
    return 0 if named_agree == total else 1


def _scan_matches(api, line: Path, rule, log_type: str | None) -> bool:
    matched: list[str] = []
    api.scan([line], [rule], on_match=lambda m: matched.append(m.rule_id), log_type=log_type)
    return rule.id in matched


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--budget", type=float, default=5.0, help="seconds allowed for a cold run")
    parser.add_argument("--keep", type=Path, help="generate into this directory and keep it")
    parser.add_argument("--repo", type=Path, help="a real Panther repository: time and compare with pat")
    parser.add_argument("--pat", help="the pat executable (default: pat on PATH)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each tool with --repo")
    parser.add_argument("--scan-agreement", action="store_true",
                        help="with --repo: scan the SaaS rules' test logs and compare with ExpectedResult")
    args = parser.parse_args(argv)
    if args.repo and args.scan_agreement:
        return scan_agreement(args.repo.resolve())
    if args.repo:
        return compare_repo(args.repo.resolve(), args.pat or shutil.which("pat"), args.rounds)
    root = args.keep or Path(tempfile.mkdtemp(prefix="tokentrail-panther-bench-"))
    try:
        tests = generate(root, args.rules)
        print(f"generated {args.rules} rules, {tests} tests in {root}")
        status = 0
        for label in ("cold", "warm"):
            load_s, test_s, n_rules, n_tests, problems = run_once(root)
            total = load_s + test_s
            print(
                f"{label}: load {load_s:.2f}s ({n_rules} items), tests {test_s:.2f}s ({n_tests} tests), "
                f"total {total:.2f}s, problems {problems}"
            )
            if problems or (label == "cold" and total > args.budget):
                status = 1
            _forget_modules(root)
        return status
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
