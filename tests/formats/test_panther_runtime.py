"""Running Panther rules: detection API, caching helpers, errors and time limits."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from textwrap import dedent

import pytest

from tokentrail.engine.limits import RuleTimeLimitExceeded, TimeLimitedDetection
from tokentrail.errors import summarize_exception
from tokentrail.formats.panther import RuleReturnTypeError, configure_state
from tokentrail.formats.panther.detection import PantherDetection, RuleSpec
from tokentrail.formats.panther.imports import import_file
from tokentrail.formats.panther.shims.panther_detection_helpers import caching
from tokentrail.state import StateStore


def detection(tmp_path: Path, source: str, **spec) -> PantherDetection:
    path = tmp_path / f"rule_{abs(hash(source))}.py"
    path.write_text(dedent(source))
    defaults = {"rule_id": "R.1", "python_file": path, "display_name": "Display", "severity": "medium"}
    return PantherDetection(RuleSpec(**{**defaults, **spec}), import_file(path))


@pytest.fixture(autouse=True)
def fresh_cache():
    with caching.isolated_state() as store:
        yield store


def test_matches_wraps_the_raw_event(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        def rule(event):
            return event.deep_get("Actor", "Type") == "User" and event.get("EVENTTYPE") == "x"
    """,
    )
    assert det.matches({"actor": {"type": "User"}, "eventType": "x"}) is True
    assert det.matches({"actor": {"type": "App"}, "eventType": "x"}) is False


@pytest.mark.parametrize("value", ["None", "'yes'", "1"])
def test_rule_must_return_bool(tmp_path: Path, value: str) -> None:
    det = detection(tmp_path, f"def rule(event):\n    return {value}\n")
    with pytest.raises(RuleReturnTypeError, match="expected bool"):
        det.matches({})


def test_rule_errors_propagate_to_the_engine(tmp_path: Path) -> None:
    det = detection(tmp_path, "def rule(event):\n    return event['missing'] == 1\n")
    with pytest.raises(KeyError):
        det.matches({})


def test_module_without_rule_function(tmp_path: Path) -> None:
    with pytest.raises(RuleReturnTypeError, match="no rule"):
        detection(tmp_path, "def title(event):\n    return 'x'\n")


def test_describe_defaults(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        "def rule(event):\n    return True\n",
        description="D",
        runbook="RB",
        reference="REF",
        output_ids=("out-1",),
    )
    assert det.describe({}) == {
        "title": "Display",
        "dedup": "defaultDedupString:R.1",
        "severity": "medium",
        "context": {},
        "description": "D",
        "reference": "REF",
        "runbook": "RB",
        "destinations": ["out-1"],
    }


def test_describe_runs_every_function(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        def rule(event):
            return True
        def title(event):
            return "T " + event.get("user")
        def dedup(event):
            return "D " + event.get("user")
        def severity(event):
            return "critical" if event.get("admin") else "DEFAULT"
        def alert_context(event):
            return {"user": event.get("user"), "roles": event.get("roles"), "n": {"a": event.get("n")}}
        def description(event):
            return "desc"
        def reference(event):
            return "ref"
        def runbook(event):
            return "rb"
        def destinations(event):
            return ["pager"]
        def unique(event):
            return event.get("user")
    """,
    )
    out = det.describe({"user": "u", "admin": True, "roles": ["a", "b"], "n": 3})
    assert out == {
        "title": "T u",
        "dedup": "D u",
        "severity": "critical",
        "context": {"user": "u", "roles": ["a", "b"], "n": {"a": 3}},
        "description": "desc",
        "reference": "ref",
        "runbook": "rb",
        "destinations": ["pager"],
        "unique": "u",
    }
    assert type(out["context"]["roles"]) is list  # plain JSON, not our read-only wrappers
    assert det.describe({"user": "u"})["severity"] == "medium"  # DEFAULT -> the YAML severity


def test_dedup_falls_back_to_title(tmp_path: Path) -> None:
    det = detection(tmp_path, "def rule(event):\n    return True\ndef title(event):\n    return 'x' * 1500\n")
    out = det.describe({})
    assert out["dedup"] == out["title"] == "x" * 1000  # Panther's length limit


def test_describe_keeps_the_alert_when_a_function_fails(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        def rule(event):
            return True
        def title(event):
            return 1 / 0
        def severity(event):
            return "SEVERE"
        def alert_context(event):
            return {"s": {1, 2}}
    """,
    )
    out = det.describe({})
    assert out["title"] == "Display" and out["severity"] == "medium" and out["context"] == {}
    assert out["dedup"] == "defaultDedupString:R.1"
    assert len(out["errors"]) == 3
    assert out["errors"][0].startswith("title(): ZeroDivisionError")
    assert "SEVERE" in out["errors"][1]
    assert "not JSON-serialisable" in out["errors"][2]


def test_summarize_exception_is_one_line_and_points_at_rule_code(tmp_path: Path) -> None:
    det = detection(tmp_path, "def rule(event):\n    x = event['nope']\n    return True\n")
    with pytest.raises(KeyError) as err:
        det.matches({})
    summary = summarize_exception(err.value)
    assert "\n" not in summary
    assert summary.startswith("KeyError: 'nope'")
    assert f"(at {det.spec.python_file.name}:2 in rule)" in summary
    long = ValueError("line one\nline two " + "x" * 1000)
    assert "\n" not in summarize_exception(long) and len(summarize_exception(long)) < 400


def test_time_limit_interrupts_an_endless_rule(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        def rule(event):
            while event.get("loop"):
                try:
                    pass
                except Exception:
                    pass
            return True
    """,
    )
    limited = TimeLimitedDetection(det, limit=0.2)
    assert limited.interrupt  # pytest runs tests in the main thread
    assert limited.matches({}) is True
    started = time.perf_counter()
    with pytest.raises(RuleTimeLimitExceeded, match="disabled for the rest of the run"):
        limited.matches({"loop": True})
    assert time.perf_counter() - started < 2
    assert limited.disabled
    assert limited.matches({}) is False and limited.describe({}) == {}
    assert limited.spec.rule_id == "R.1"  # other attributes pass through


def test_time_limit_measures_outside_the_main_thread(tmp_path: Path) -> None:
    det = detection(tmp_path, "import time\ndef rule(event):\n    time.sleep(0.15)\n    return True\n")
    outcome: list[object] = []

    def worker() -> None:
        limited = TimeLimitedDetection(det, limit=0.05)
        try:
            limited.matches({})
        except RuleTimeLimitExceeded as exc:
            outcome.append((limited.interrupt, limited.disabled, str(exc)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    [(interrupt, disabled, message)] = outcome
    assert interrupt is False and disabled is True and "limit 0.05s" in message


# -- caching helpers ----------------------------------------------------------------------------
class _Event:
    def __init__(self, epoch: int | None) -> None:
        self.epoch = epoch

    def event_time_epoch(self) -> int | None:
        return self.epoch


def test_string_sets() -> None:
    assert caching.get_string_set("k") == set()
    assert caching.add_to_string_set("k", "a") == {"a"}
    assert caching.add_to_string_set("k", ["b", "c"]) == {"a", "b", "c"}
    assert caching.remove_from_string_set("k", "b") == {"a", "c"}
    caching.put_string_set("k", ["z"])
    assert caching.get_string_set("k") == {"z"}
    caching.put_string_set("k", [])
    assert caching.get_string_set("k") == set()
    with pytest.raises(TypeError):
        caching.add_to_string_set("k", [1])


def test_counters_and_dictionaries_share_a_key() -> None:
    assert caching.get_counter("k") == 0
    assert caching.increment_counter("k") == 1
    assert caching.increment_counter("k", 5) == 6
    caching.put_dictionary("k", {"a": [1, 2]})
    assert caching.get_dictionary("k") == {"a": [1, 2]}
    assert caching.get_counter("k") == 6
    caching.reset_counter("k")
    assert caching.get_counter("k") == 0 and caching.get_dictionary("k") == {"a": [1, 2]}
    with pytest.raises(TypeError):
        caching.put_dictionary("k", ["not", "a", "dict"])


def test_ttl_follows_event_time() -> None:
    caching.current_event = _Event(1_000)
    caching.put_string_set("ips", ["1.2.3.4"], epoch_seconds=1_500)
    caching.current_event = _Event(1_499)
    assert caching.get_string_set("ips") == {"1.2.3.4"}
    caching.current_event = _Event(1_500)
    assert caching.get_string_set("ips") == set()
    # an expired key starts afresh, without the old expiry
    assert caching.increment_counter("ips") == 1
    caching.current_event = _Event(10_000)
    assert caching.get_counter("ips") == 1


def test_set_key_expiration_and_wall_clock_fallback() -> None:
    caching.current_event = _Event(None)
    caching.increment_counter("c")
    caching.set_key_expiration("c", time.time() - 1)
    assert caching.get_counter("c") == 0


def test_evaluate_threshold() -> None:
    caching.current_event = _Event(0)
    assert [caching.evaluate_threshold("t", threshold=3, expiry_seconds=60) for _ in range(4)] == [
        False,
        False,
        True,
        False,
    ]
    caching.current_event = _Event(100)  # the window of the 4th hit has passed
    assert caching.evaluate_threshold("t", threshold=2, expiry_seconds=60) is False


def test_configure_state_uses_a_state_store(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    configure_state(store)
    caching.add_to_string_set("persisted", "x")
    assert store.get(caching.NAMESPACE, "persisted")["strings"] == ["x"]
    configure_state(None)
    assert caching.get_string_set("persisted") == set()  # back to a fresh default store
    store.close()


def test_rules_import_the_stand_in_when_the_real_package_is_absent(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        from panther_detection_helpers.caching import add_to_string_set
        import panther_detection_helpers.caching as cache_module

        def rule(event):
            seen = add_to_string_set("users", event.get("user"))
            return len(seen) > 1
    """,
    )
    assert sys.modules["panther_detection_helpers.caching"] is caching
    assert det.module.cache_module is caching
    assert det.matches({"user": "a"}) is False
    assert det.matches({"user": "a"}) is False
    assert det.matches({"user": "b"}) is True


def test_detection_sets_the_event_clock(tmp_path: Path) -> None:
    det = detection(
        tmp_path,
        """\
        from panther_detection_helpers.caching import get_counter, increment_counter

        def rule(event):
            if event.get("seed"):
                increment_counter("n", epoch_seconds=event.event_time_epoch() + 60)
                return False
            return get_counter("n") > 0
    """,
    )
    det.matches({"seed": True, "published": "2024-01-01T00:00:00Z"})
    assert det.matches({"published": "2024-01-01T00:00:59Z"}) is True
    assert det.matches({"published": "2024-01-01T00:01:00Z"}) is False
