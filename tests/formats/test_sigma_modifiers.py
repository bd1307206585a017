"""Sigma values, wildcards and modifiers: the IR they lower to, and what it matches."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from tokentrail.compile.python import compile_expr
from tokentrail.errors import RuleLoadError, UnsupportedFeature
from tokentrail.formats.sigma import SigmaFormat
from tokentrail.rules.ir import All, Cmp, Exists, FieldRef, Keywords, Not
from tokentrail.rules.ir import Any as AnyOf
from tokentrail.rules.loader import LoadContext


def lower(tmp_path: Path, detection: str, placeholders: dict | None = None):
    """The IR of a one-rule file with the given ``detection:`` body."""
    body = textwrap.indent(textwrap.dedent(detection).strip(), "    ")
    text = f"title: t\nid: r1\nlogsource:\n    product: okta\ndetection:\n{body}\n"
    path = tmp_path / "rule.yml"
    path.write_text(text)
    ctx = LoadContext(placeholders=placeholders or {})
    (rule,) = SigmaFormat().load(path, ctx)
    return rule.logic


def matcher(tmp_path: Path, detection: str, placeholders: dict | None = None):
    return compile_expr(lower(tmp_path, detection, placeholders))


def test_plain_value_is_case_insensitive_eq(tmp_path):
    expr = lower(tmp_path, "sel:\n    eventType: user.session.start\ncondition: sel")
    assert expr == Cmp("eventType", "eq", ("user.session.start",))
    m = compile_expr(expr)
    assert m({"eventType": "USER.Session.Start"})
    assert not m({"eventType": "user.session.end"})
    assert not m({})


@pytest.mark.parametrize(
    ("modifier", "op"), [("contains", "contains"), ("startswith", "startswith"), ("endswith", "endswith")]
)
def test_string_modifiers(tmp_path, modifier, op):
    expr = lower(tmp_path, f"sel:\n    a|{modifier}: oAuth\ncondition: sel")
    assert expr == Cmp("a", op, ("oAuth",))


def test_wildcards_reduce_to_cheap_operators(tmp_path):
    expr = lower(tmp_path, """
        sel:
            a: '*token*'
            b: 'api*'
            c: '*.exe'
            d: 'a*b?c'
        condition: sel
    """)
    assert expr == All((
        Cmp("a", "contains", ("token",)),
        Cmp("b", "startswith", ("api",)),
        Cmp("c", "endswith", (".exe",)),
        Cmp("d", "glob", ("a*b?c",)),
    ))
    m = compile_expr(expr)
    good = {"a": "my TOKEN here", "b": "API_key", "c": "x.EXE", "d": "AxxbZc"}
    assert m(good)
    assert not m({**good, "d": "abc"})  # ``?`` needs exactly one character


def test_escaped_wildcards_are_literal(tmp_path):
    expr = lower(tmp_path, r"""
        sel:
            a: 'what\?'
            b: 'lit\*eral*'
        condition: sel
    """)
    assert expr == All((Cmp("a", "eq", ("what?",)), Cmp("b", "startswith", ("lit*eral",))))
    m = compile_expr(expr)
    assert m({"a": "what?", "b": "lit*eral-x"})
    assert not m({"a": "whatx", "b": "lit*eral-x"})
    assert not m({"a": "what?", "b": "litXeral-x"})


def test_glob_keeps_escapes_and_backslashes(tmp_path):
    # ``\\*`` is a backslash then a wildcard; a backslash before other characters is literal.
    expr = lower(tmp_path, r"""
        sel:
            path: 'C:\Windows\\*\cmd?.exe'
        condition: sel
    """)
    assert expr == Cmp("path", "glob", (r"C:\\Windows\\*\\cmd?.exe",))
    m = compile_expr(expr)
    assert m({"path": r"c:\windows\system32\cmd1.exe"})
    assert not m({"path": r"c:\windows\system32\cmd.exe"})


def test_escaped_star_inside_glob_is_literal(tmp_path):
    expr = lower(tmp_path, r"""
        sel:
            a: 'x\*y*z'
        condition: sel
    """)
    assert expr == Cmp("a", "glob", (r"x\*y*z",))
    m = compile_expr(expr)
    assert m({"a": "x*y--z"})
    assert not m({"a": "xAy--z"})


def test_value_list_is_any_of(tmp_path):
    expr = lower(tmp_path, "sel:\n    a: [x, y, z]\ncondition: sel")
    assert expr == Cmp("a", "eq", ("x", "y", "z"))


def test_all_modifier(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|contains|all: [foo, bar]\ncondition: sel")
    assert expr == Cmp("a", "contains", ("foo", "bar"), all_values=True)
    m = compile_expr(expr)
    assert m({"a": "foo and bar"})
    assert not m({"a": "foo only"})


def test_cased(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|cased: Secret\ncondition: sel")
    assert expr == Cmp("a", "eq", ("Secret",), cased=True)
    m = compile_expr(expr)
    assert m({"a": "Secret"})
    assert not m({"a": "secret"})


def test_cased_contains(tmp_path):
    m = matcher(tmp_path, "sel:\n    a|contains|cased: Key\ncondition: sel")
    assert m({"a": "apiKey1"})
    assert not m({"a": "apikey1"})


def test_exists(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|exists: true\n    b|exists: false\ncondition: sel")
    assert expr == All((Exists("a"), Not(Exists("b"))))
    m = compile_expr(expr)
    assert m({"a": None})
    assert not m({"a": 1, "b": 2})
    assert not m({})


def test_null_matches_missing_or_null(tmp_path):
    expr = lower(tmp_path, "sel:\n    a: null\ncondition: sel")
    assert expr == Cmp("a", "eq", (None,))
    m = compile_expr(expr)
    assert m({}) and m({"a": None})
    assert not m({"a": "x"})


def test_neq_negates(tmp_path):
    expr = lower(tmp_path, "sel:\n    a: x\n    b|neq: y\ncondition: sel")
    assert expr == All((Cmp("a", "eq", ("x",)), Not(Cmp("b", "eq", ("y",)))))
    m = compile_expr(expr)
    assert m({"a": "x", "b": "z"})
    assert not m({"a": "x", "b": "Y"})


def test_windash(tmp_path):
    expr = lower(tmp_path, "sel:\n    cmd|windash|contains: ' -c '\ncondition: sel")
    assert isinstance(expr, Cmp) and expr.op == "contains"
    assert {" -c ", " /c "} <= set(expr.values) and len(expr.values) == 5
    m = compile_expr(expr)
    assert m({"cmd": "x.exe /c run"})
    assert m({"cmd": "x.exe -c run"})
    assert m({"cmd": "x.exe \u2013c run"})
    assert not m({"cmd": "x.exe +c run"})


def test_base64(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|base64: secret\ncondition: sel")
    assert expr == Cmp("a", "eq", (base64.b64encode(b"secret").decode(),))


@pytest.mark.parametrize("prefix", ["", "x", "xy"])
def test_base64offset_finds_encoded_substring(tmp_path, prefix):
    m = matcher(tmp_path, "sel:\n    a|base64offset|contains: client_secret\ncondition: sel")
    blob = base64.b64encode(f"{prefix}grant client_secret=abc".encode()).decode()
    assert m({"a": blob})
    other = base64.b64encode(f"{prefix}grant client_id=abc".encode()).decode()
    assert not m({"a": other})


@pytest.mark.parametrize(
    ("modifier", "encoding", "bom"),
    [("utf16le", "utf-16le", b""), ("wide", "utf-16le", b""), ("utf16be", "utf-16be", b""),
     ("utf16", "utf-16le", b"\xff\xfe")],
)
def test_utf16_with_base64offset(tmp_path, modifier, encoding, bom):
    m = matcher(tmp_path, f"sel:\n    a|{modifier}|base64offset|contains: ping\ncondition: sel")
    # With a byte order mark (utf16) the value can only be found at the start of the text.
    text = "ping now" if bom else "run ping now"
    encoded = base64.b64encode(bom + text.encode(encoding)).decode()
    assert m({"a": encoded})
    assert not m({"a": base64.b64encode("run pong now".encode(encoding)).decode()})


@pytest.mark.parametrize(
    ("flags", "text", "hit"),
    [("", "Token", False), ("|i", "Token", True), ("|m", "a\ntoken", True), ("|s", "tok\nen", True)],
)
def test_regex_flags(tmp_path, flags, text, hit):
    pattern = {"": "^token", "|i": "^token", "|m": "^token$", "|s": "tok.en"}[flags]
    expr = lower(tmp_path, f"sel:\n    a|re{flags}: '{pattern}'\ncondition: sel")
    assert isinstance(expr, Cmp) and expr.op == "regex"
    assert expr.values == ((f"(?{flags[1:]})" if flags else "") + pattern,)
    assert compile_expr(expr)({"a": text}) is hit


def test_regex_searches_unanchored(tmp_path):
    m = matcher(tmp_path, r"sel:\n    a|re: 'ab+c'\ncondition: sel".replace("\\n", "\n"))
    assert m({"a": "xxabbbcxx"})
    assert not m({"a": "ac"})


def test_regex_python_only_syntax_is_accepted(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|re: 'foo(?=bar)'\ncondition: sel")
    assert expr == Cmp("a", "regex", ("foo(?=bar)",), cased=True)
    m = compile_expr(expr)
    assert m({"a": "foobar"})
    assert not m({"a": "foobaz"})


def test_invalid_regex_is_a_load_error(tmp_path):
    with pytest.raises(RuleLoadError) as err:
        lower(tmp_path, "sel:\n    a|re: 'foo(['\ncondition: sel")
    assert err.value.file.endswith("rule.yml")
    assert err.value.line is not None


@pytest.mark.parametrize(
    ("modifier", "op", "hit", "miss"),
    [("lt", "lt", "5", 10), ("lte", "le", 10, "11"), ("gt", "gt", "10.5", 10), ("gte", "ge", 10, 9)],
)
def test_numeric_comparisons(tmp_path, modifier, op, hit, miss):
    expr = lower(tmp_path, f"sel:\n    n|{modifier}: 10\ncondition: sel")
    assert expr == Cmp("n", op, (10,))
    m = compile_expr(expr)
    assert m({"n": hit})
    assert not m({"n": miss})


def test_cidr_v4_and_v6(tmp_path):
    expr = lower(tmp_path, "sel:\n    ip|cidr: ['10.0.0.0/8', '2001:db8::/32']\ncondition: sel")
    assert expr == Cmp("ip", "cidr", ("10.0.0.0/8", "2001:db8::/32"))
    m = compile_expr(expr)
    assert m({"ip": "10.2.3.4"})
    assert m({"ip": "2001:db8:0:1::5"})
    assert not m({"ip": "2001:db9::1"})
    assert not m({"ip": "11.0.0.1"})
    assert not m({"ip": "not an ip"})


def test_invalid_cidr_is_a_load_error(tmp_path):
    with pytest.raises(RuleLoadError):
        lower(tmp_path, "sel:\n    ip|cidr: '10.0.0.0/33'\ncondition: sel")


def test_expand_with_placeholders(tmp_path):
    ctx = {"admins": ("alice@corp.com", "bob*")}
    expr = lower(tmp_path, "sel:\n    actor|expand: '%admins%'\ncondition: sel", ctx)
    assert expr == AnyOf((Cmp("actor", "eq", ("alice@corp.com",)), Cmp("actor", "startswith", ("bob",))))
    m = compile_expr(expr)
    assert m({"actor": "bob@corp.com"})
    assert m({"actor": "Alice@corp.com"})
    assert not m({"actor": "carol@corp.com"})


def test_expand_inside_a_value(tmp_path):
    expr = lower(tmp_path, "sel:\n    url|expand: 'https://%tenant%.okta.com/*'\ncondition: sel",
                 {"tenant": ("acme",)})
    assert expr == Cmp("url", "startswith", ("https://acme.okta.com/",))


def test_expand_without_value_is_unsupported(tmp_path):
    with pytest.raises(UnsupportedFeature) as err:
        lower(tmp_path, "sel:\n    actor|expand: '%admins%'\ncondition: sel")
    assert "%admins%" in str(err.value)
    assert err.value.line == 7  # the line of the detection item


def test_fieldref(tmp_path):
    expr = lower(tmp_path, "sel:\n    actor.id|fieldref: target.id\ncondition: sel")
    assert expr == FieldRef("actor.id", "target.id", "eq")
    m = compile_expr(expr)
    assert m({"actor": {"id": "U1"}, "target": [{"id": "U2"}, {"id": "u1"}]})
    assert not m({"actor": {"id": "U1"}, "target": [{"id": "U2"}]})


def test_fieldref_startswith(tmp_path):
    expr = lower(tmp_path, "sel:\n    a|fieldref|startswith: b\ncondition: sel")
    assert expr == FieldRef("a", "b", "startswith")


def test_booleans_and_numbers(tmp_path):
    expr = lower(tmp_path, "sel:\n    ok: true\n    code: 403\ncondition: sel")
    assert expr == All((Cmp("ok", "eq", (True,)), Cmp("code", "eq", (403,))))
    m = compile_expr(expr)
    assert m({"ok": True, "code": 403})
    assert m({"ok": "true", "code": "403"})
    assert not m({"ok": False, "code": 403})
    assert not m({"ok": "false", "code": 403})


def test_string_true_matches_json_true(tmp_path):
    m = matcher(tmp_path, "sel:\n    ok: 'true'\ncondition: sel")
    assert m({"ok": True})
    assert not m({"ok": False})


def test_dotted_field_through_okta_target_list(tmp_path):
    m = matcher(tmp_path, "sel:\n    target.type: AppInstance\ncondition: sel")
    event = {"target": [{"type": "User", "id": "1"}, {"type": "AppInstance", "id": "2"}]}
    assert m(event)
    assert not m({"target": [{"type": "User"}]})


def test_keywords(tmp_path):
    expr = lower(tmp_path, "keywords:\n    - client_secret\n    - 'refresh*token'\ncondition: keywords")
    assert expr == AnyOf((Keywords(("client_secret",)), Keywords(("*refresh*token*",), op="glob")))
    m = compile_expr(expr)
    assert m({"msg": {"deep": ["the CLIENT_SECRET was read"]}})
    assert m({"msg": "a refresh_token grant"})
    assert not m({"msg": "nothing"})


def test_keywords_all(tmp_path):
    expr = lower(tmp_path, "keywords:\n    '|all':\n        - secret\n        - export\ncondition: keywords")
    assert expr == Keywords(("secret", "export"), all_values=True)
    m = compile_expr(expr)
    assert m({"a": "secret", "b": {"c": "bulk export"}})
    assert not m({"a": "secret"})


def test_keyword_regex(tmp_path):
    expr = lower(tmp_path, "keywords:\n    '|re': 'tok[0-9]+'\ncondition: keywords")
    assert expr == Keywords(("tok[0-9]+",), op="regex", cased=True)


def test_timestamp_part_modifier_is_unsupported(tmp_path):
    with pytest.raises(UnsupportedFeature) as err:
        lower(tmp_path, "sel:\n    published|hour: 3\ncondition: sel")
    assert err.value.line == 7
    assert "hour" in str(err.value)


def test_unknown_modifier_names_line(tmp_path):
    with pytest.raises(UnsupportedFeature) as err:
        lower(tmp_path, "sel:\n    a: 1\n    b|frobnicate: x\ncondition: sel")
    assert err.value.line == 8
    assert "frobnicate" in str(err.value)
    assert err.value.file.endswith("rule.yml")
