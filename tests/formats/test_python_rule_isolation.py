"""Python rules cannot take the process down or corrupt output (issue 14, item 7): their prints
go to stderr, their exits and interrupts are rule errors, their import and their tests have the
time limit, and errors of their alert functions are reported. A real Ctrl-C still stops a scan."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import weakref
from pathlib import Path

import pytest

from tokentrail.api import scan
from tokentrail.engine.testing import run_rule_tests
from tokentrail.formats.panther import run_panther_tests
from tokentrail.rules import guard
from tokentrail.rules.guard import RuleCodeExit, call_guarded, count_interrupts, ctrl_c_stops
from tokentrail.rules.loader import load_rules


def okta_event(n: int, event_type: str = "system.api_token.create") -> dict:
    return {"uuid": f"e{n}", "published": f"2024-05-01T10:00:0{n}Z", "eventType": event_type,
            "actor": {"id": "u1", "type": "User", "alternateId": "a@example.com"}}


def panther_rule(root: Path, name: str, body: str, *, test_log: dict | None = None) -> Path:
    """A Panther rule ``name`` (YAML + Python) for Okta, with one test expecting a match."""
    folder = root / "rules"
    folder.mkdir(exist_ok=True)
    log = json.dumps(test_log or okta_event(1))
    (folder / f"{name}.yml").write_text(textwrap.dedent(f"""\
        AnalysisType: rule
        RuleID: Test.{name}
        DisplayName: {name}
        Enabled: true
        Filename: {name}.py
        LogTypes: [Okta.SystemLog]
        Severity: High
        Tests:
          - Name: fires
            ExpectedResult: true
            Log: {log}
        """))
    (folder / f"{name}.py").write_text(textwrap.dedent(body))
    return folder


def write_logs(root: Path, count: int = 3) -> Path:
    path = root / "okta.jsonl"
    path.write_text("".join(json.dumps(okta_event(n)) + "\n" for n in range(1, count + 1)))
    return path


GOOD = 'def rule(event):\n    return event.get("eventType") == "system.api_token.create"\n'


@pytest.mark.parametrize("body, said", [
    ("import sys\n\ndef rule(event):\n    sys.exit(3)\n", "called sys.exit(3)"),
    ("def rule(event):\n    raise KeyboardInterrupt\n", "raised KeyboardInterrupt"),
    ("import sys\nsys.exit('bye')\n\ndef rule(event):\n    return True\n", "called sys.exit('bye')"),
])
def test_exits_from_rule_code_are_rule_errors_and_the_scan_goes_on(tmp_path, body, said):
    rules = load_rules([panther_rule(tmp_path, "exits", body), panther_rule(tmp_path, "good", GOOD)])
    assert not rules.errors
    result = scan([write_logs(tmp_path)], rules)
    assert sorted({a.rule_id for a in result.alerts}) == ["Test.good"]
    problems = [str(e) for e in result.load_errors] + [e.summary for e in result.rule_errors]
    assert any(said in p for p in problems), problems


def test_alert_function_errors_are_reported(tmp_path):
    body = GOOD + "\ndef title(event):\n    return event['no_such_key']\n"
    result = scan([write_logs(tmp_path, 1)], load_rules([panther_rule(tmp_path, "titled", body)]))
    assert [a.rule_id for a in result.alerts] == ["Test.titled"]  # the alert is kept ...
    assert any("title()" in e.summary and "KeyError" in e.summary for e in result.rule_errors)  # ... and said


def test_import_that_loops_is_cut_at_the_time_limit(tmp_path):
    body = "while True:\n    pass\n\ndef rule(event):\n    return True\n"
    rules = load_rules([panther_rule(tmp_path, "slow_import", body), panther_rule(tmp_path, "good", GOOD)])
    started = time.perf_counter()
    result = scan([write_logs(tmp_path)], rules)
    assert time.perf_counter() - started < 10
    assert {a.rule_id for a in result.alerts} == {"Test.good"}
    assert any("import of" in str(e) and "limit" in str(e) for e in result.load_errors)


@pytest.mark.parametrize("runner", [run_rule_tests, run_panther_tests])
def test_a_looping_rule_in_a_test_fails_that_test_in_time(tmp_path, runner):
    body = "def rule(event):\n    while True:\n        pass\n"
    rules = load_rules([panther_rule(tmp_path, "loops", body), panther_rule(tmp_path, "good", GOOD)]).rules
    started = time.perf_counter()
    outcomes = runner(rules)
    assert time.perf_counter() - started < 10
    verdicts = {o.rule_id: o.passed for o in outcomes}
    assert verdicts == {"Test.loops": False, "Test.good": True}
    assert "limit" in next(o.detail for o in outcomes if o.rule_id == "Test.loops")


def test_sys_exit_in_a_test_fails_the_test(tmp_path):
    body = "import sys\n\ndef rule(event):\n    sys.exit(0)\n"
    (outcome,) = run_rule_tests(load_rules([panther_rule(tmp_path, "exit0", body)]).rules)
    assert not outcome.passed and "sys.exit(0)" in outcome.detail


def test_guard_sends_prints_to_stderr(capsys):
    def noisy():
        print("from the rule")
        return 7

    assert call_guarded(noisy, limit=None, what="rule()") == 7
    captured = capsys.readouterr()
    assert captured.out == "" and "from the rule" in captured.err


def test_guard_turns_exit_into_an_error():
    with pytest.raises(RuleCodeExit, match=r"rule\(\) called sys.exit\(5\)"):
        call_guarded(sys.exit, 5, limit=None, what="rule()")


def run_cli(*args: str, **kw) -> subprocess.Popen:
    """The installed ``tokentrail`` command (beside this Python), as a real process."""
    script = Path(sys.executable).with_name("tokentrail")
    if not script.exists():
        pytest.skip("the tokentrail command is not installed beside this Python")
    return subprocess.Popen([str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def test_print_in_a_rule_does_not_corrupt_json_output(tmp_path):
    body = GOOD.replace("return", "print('debugging', event.get('uuid'))\n    return")
    rules = panther_rule(tmp_path, "chatty", body)
    proc = run_cli("scan", str(write_logs(tmp_path)), "-r", str(rules), "--format", "json")
    out, err = proc.communicate(timeout=120)
    document = json.loads(out)  # stdout is JSON and nothing else
    assert document and "debugging e1" in err


SLEEPY = """\
import sys
import time
from pathlib import Path

def rule(event):
    Path({started!r}).touch()  # the scan is in its rule loop now
    {body}
    return False
"""


@pytest.mark.parametrize("body", [
    "time.sleep(0.05)",
    # A bare except in rule code (common in Panther rules) must not eat the user's Ctrl-C ...
    "try:\n        time.sleep(0.05)\n    except:\n        pass",
    # ... nor may a rule turn it into an exit, which alone would be a rule error.
    "try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        sys.exit(0)",
], ids=["sleeps", "swallows", "exits"])
def test_a_real_ctrl_c_still_stops_the_scan(tmp_path, body):
    started = tmp_path / "started"
    rules = panther_rule(tmp_path, "sleepy", SLEEPY.format(started=str(started), body=body))
    logs = write_logs(tmp_path, 9)
    with logs.open("a") as fh:  # enough events (repeats, kept) for about a minute of scanning
        for n in range(1200):
            fh.write(json.dumps(okta_event(n % 9)) + "\n")
    proc = run_cli("scan", str(logs), "-r", str(rules), "--format", "json", "--keep-duplicates",
                   start_new_session=True)
    # The Ctrl-C is sent once the rule runs (however long a loaded machine takes to start the
    # scan), then a little later, so that it lands in a rule call.
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert proc.poll() is None and started.exists(), proc.communicate()
    os.kill(proc.pid, signal.SIGINT)
    stopping = time.perf_counter()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the scan did not stop on SIGINT")
    assert proc.returncode != 0 and time.perf_counter() - stopping < 20
    assert out == ""  # stopped: no alerts document, as a scan that ran to its end writes


def lose_a_ctrl_c() -> None:
    """A real SIGINT whose KeyboardInterrupt Python drops, printing "Exception ignored": raised
    in a weakref callback, as happens when one lands in the import system's module-lock
    callback."""

    class Token:
        pass

    token = Token()
    ref = weakref.ref(token, lambda _: signal.raise_signal(signal.SIGINT))
    del token  # the callback runs here; its KeyboardInterrupt goes no further
    assert ref() is None


@pytest.fixture
def counted_ctrl_c():
    """Real SIGINTs in this test are counted by the guard's handler, which raises
    KeyboardInterrupt as Python's own does (never the default action: that would end pytest)."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are handled in the main thread only")
    count_interrupts()
    if signal.getsignal(signal.SIGINT) is not guard._on_sigint:
        pytest.skip("SIGINT has a handler of its own here")


def test_a_ctrl_c_the_rule_swallows_still_stops(counted_ctrl_c):
    def swallows():
        with contextlib.suppress(BaseException):
            signal.raise_signal(signal.SIGINT)
        return "went on"

    with pytest.raises(KeyboardInterrupt):
        call_guarded(swallows, limit=1.0, what="rule()")


def test_a_ctrl_c_the_rule_turns_into_an_exit_still_stops(counted_ctrl_c):
    def exits():
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:
            sys.exit(0)

    with pytest.raises(KeyboardInterrupt):
        call_guarded(exits, limit=1.0, what="rule()")


def test_an_interrupt_no_handler_could_count_is_taken_for_a_ctrl_c(counted_ctrl_c):
    """Python's own handler put back after the guard's was installed: a KeyboardInterrupt can no
    longer be told from a real Ctrl-C, and stopping is the safe side."""
    def interrupts():
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            call_guarded(interrupts, limit=1.0, what="rule()", interrupt=False)
    finally:
        signal.signal(signal.SIGINT, guard._on_sigint)
    with pytest.raises(RuleCodeExit, match="raised KeyboardInterrupt"):  # counted again: the rule's
        call_guarded(interrupts, limit=1.0, what="rule()", interrupt=False)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_between_rule_calls_stops_the_next_one(counted_ctrl_c):
    calls = []
    with pytest.raises(KeyboardInterrupt), ctrl_c_stops():
        call_guarded(calls.append, 1, limit=1.0, what="rule()")
        lose_a_ctrl_c()
        call_guarded(calls.append, 2, limit=1.0, what="rule()")
    assert calls == [1]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_after_the_last_rule_call_stops_at_the_end(counted_ctrl_c):
    ended = False
    with pytest.raises(KeyboardInterrupt), ctrl_c_stops():
        lose_a_ctrl_c()
        ended = True
    assert ended  # the block ran to its end, and its end raised


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_before_a_block_does_not_stop_it(counted_ctrl_c):
    lose_a_ctrl_c()  # as a Ctrl-C at a Python prompt, long before the scan
    with ctrl_c_stops():
        assert call_guarded(len, "abc", limit=1.0, what="rule()") == 3


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_scan_stops_on_a_ctrl_c_lost_outside_its_rules(tmp_path, counted_ctrl_c):
    """The scan's own code (here its ``on_match`` hook) loses the interrupt: the next Python
    rule call stops the scan, and a scan with no Python rule left stops at its end."""
    rules = load_rules([panther_rule(tmp_path, "good", GOOD)])
    logs = write_logs(tmp_path, 3)
    seen = []

    def on_match(match):
        seen.append(match.event_id)
        if len(seen) == 1:
            lose_a_ctrl_c()

    with pytest.raises(KeyboardInterrupt):
        scan([logs], rules, on_match=on_match)
    assert seen == ["e1"]  # the rule ran on no event after the Ctrl-C


def test_an_exit_is_reported_where_the_rule_made_it(tmp_path):
    body = "import sys\n\ndef rule(event):\n    sys.exit(3)\n"
    result = scan([write_logs(tmp_path, 1)], load_rules([panther_rule(tmp_path, "exits", body)]))
    (error,) = result.rule_errors
    assert error.summary.startswith("RuleCodeExit: rule() called sys.exit(3)")
    assert "(at exits.py:4 in rule)" in error.summary
