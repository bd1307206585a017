"""Threat briefs and JSON Feed 1.1: Markdown briefs with front matter, linking to rules, seed 003
read as it is and written back unchanged, and built feeds with the required fields."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seed_docs import seed_text
from tokentrail import load_rules
from tokentrail.catalog.briefs import BriefError, load_briefs, parse_brief
from tokentrail.catalog.feed import VERSION, build_feed, feed_document, parse_feed, read_feed
from tokentrail.catalog.linking import link_rules
from tokentrail.cli import app
from tokentrail.content import RULES_DIR
from tokentrail.rules.loader import LoadContext

WIDE = {"COLUMNS": "300", "NO_COLOR": "1", "TERM": "dumb"}
REVOKED_ID = "6e94fd3d-76d2-4f8a-a24e-0e8f12c7908f"

BRIEF = """\
---
id: test-brief
title: A test brief
summary: Short.
date_published: 2025-04-01
tags: [token, test]
products: [Okta]
techniques: [T1528]
---
Tokens leak. Watch for `system.api_token.revoke` and <script>alert(1)</script>.

## Steps

- one
- two
"""


@pytest.fixture(scope="module")
def pack():
    loaded = load_rules([RULES_DIR], context=LoadContext(allow_python=True))
    assert not loaded.errors, [str(e) for e in loaded.errors]
    return loaded.runnable


def test_parse_brief_front_matter_and_body():
    brief = parse_brief(BRIEF, "b.md")
    assert (brief.id, brief.title, brief.summary) == ("test-brief", "A test brief", "Short.")
    assert brief.date_published == brief.date_modified == "2025-04-01T12:00:00Z"
    assert brief.tags == ("token", "test") and brief.techniques == ("T1528",)
    assert "<h2>Steps</h2>" in brief.content_html and "<li>one</li>" in brief.content_html
    assert "<code>system.api_token.revoke</code>" in brief.content_html
    assert "<script>" not in brief.content_html and "&lt;script&gt;" in brief.content_html
    assert brief.content_text.startswith("Tokens leak.")


@pytest.mark.parametrize(("text", "message", "line"), [
    ("no front matter\n", "no front matter", 1),
    ("---\nid: x\ntitle: [unclosed\n---\nbody\n", "not valid YAML", 3),
    ("---\ntitle: no id\n---\n", "lacks id", 2),
    ("---\nid: x\ntitle: t\ntechniques: [token-theft]\n---\n", "not ATT&CK technique ids", 2),
    ("---\nid: x\ntitle: t\ndate_published: someday\n---\n", "not a date", 2),
])
def test_bad_briefs_are_errors_with_file_and_line(text, message, line):
    with pytest.raises(BriefError, match=message) as info:
        parse_brief(text, "bad.md")
    assert (info.value.file, info.value.line) == ("bad.md", line)


def test_load_briefs_collects_errors_and_keeps_going(tmp_path):
    (tmp_path / "good.md").write_text(BRIEF)
    (tmp_path / "twin.md").write_text(BRIEF)
    (tmp_path / "bad.md").write_text("nothing here\n")
    found = load_briefs([tmp_path])
    assert [b.id for b in found.briefs] == ["test-brief"]
    assert sorted(Path(e.file).name for e in found.errors) == ["bad.md", "twin.md"]


def test_bundled_briefs_link_every_bundled_rule(pack):
    found = load_briefs()
    assert not found.errors, [str(e) for e in found.errors]
    linked = {}
    for brief in found.briefs:
        links = link_rules(brief, pack)
        assert links, f"{brief.id} links no rule"
        for link in links:
            linked.setdefault(link.rule_id, []).append(brief.id)
    assert {r.id for r in pack} <= set(linked), sorted({r.title for r in pack if r.id not in linked})
    revocation = next(b for b in found.briefs if b.id == "okta-api-token-revocation")
    assert [(x.rule_id, x.reason) for x in link_rules(revocation, pack)] == [
        (REVOKED_ID, "event type system.api_token.revoke")]


def test_evidence_links_respect_products(pack):
    okta = parse_brief(BRIEF.replace("Tokens leak.", "Also seccft and system.api_token.create."), "b.md")
    families = {link.title.split()[0] for link in link_rules(okta, pack)}
    assert families == {"Okta"}
    anywhere = parse_brief(BRIEF.replace("products: [Okta]\n", "").replace("Tokens leak.", "Also seccft."), "b.md")
    assert {link.title.split()[0] for link in link_rules(anywhere, pack)} == {"Okta", "Auth0"}


def test_technique_links_only_without_event_types(pack):
    brief = parse_brief(BRIEF.replace("Watch for `system.api_token.revoke` and", "Watch"), "b.md")
    links = link_rules(brief, pack)
    assert links and all(x.reason == "technique T1528" for x in links)
    assert all(x.title.startswith("Okta") for x in links)


def test_seed_003_loads_round_trips_and_links_the_revoked_rule(pack, tmp_path):
    text = seed_text("003")
    feed = parse_feed(text, "003.json")
    assert feed.title and len(feed.items) == 1
    item = feed.items[0]
    assert item.products == ("Okta",) and item.severities == ("medium",)
    assert item.extensions["_cs_tags"] == ["okta", "api", "token", "revocation", "identity"]
    assert feed_document(feed) == json.loads(text)
    assert [(x.rule_id, x.reason) for x in link_rules(item, pack)] == [
        (REVOKED_ID, "event type system.api_token.revoke")]
    rebuilt = build_feed(feed.items, pack, tag="token")
    assert [i.id for i in rebuilt.items] == [item.id]  # _cs_tags count as tags
    ours = rebuilt.items[0].extensions["_tokentrail"]
    assert [r["id"] for r in ours["rules"]] == [REVOKED_ID]
    assert rebuilt.items[0].extensions["_cs_type"] == "advisory"


def test_round_trip_keeps_extensions_without_the_seed(tmp_path):
    doc = {"version": VERSION, "title": "t", "_cs_origin": {"a": 1}, "icon": "https://x.test/i.png",
           "items": [{"id": "1", "content_text": "hi", "tags": ["a"], "_cs_exploited": True,
                      "authors": [{"name": "n"}], "_tokentrail": {"rules": [{"id": "r1"}], "techniques": ["T1528"]}}]}
    feed = parse_feed(json.dumps(doc))
    assert feed.items[0].rules == ("r1",) and feed.items[0].techniques == ("T1528",)
    assert feed_document(feed) == doc
    odd = {**doc, "items": [{"id": "2", "content_text": "x", "_tokentrail": {"rules": [{"title": "no id"}, 7],
                                                                             "techniques": "T1528"}}]}
    item = parse_feed(json.dumps(odd)).items[0]
    assert (item.rules, item.techniques) == (("7",), ())
    assert feed_document(parse_feed(json.dumps(odd))) == odd
    older = {"version": "https://jsonfeed.org/version/1", "title": "t", "author": {"name": "a"},
             "items": [{"id": "3", "content_html": "<p>x</p>", "tags": "not-a-list"}]}
    assert feed_document(parse_feed(json.dumps(older))) == older


def test_bad_feeds_are_one_error(tmp_path):
    for text, message in (("{", "not JSON"), ('{"title": "t", "items": []}', "jsonfeed.org version"),
                          (json.dumps({"version": VERSION, "title": "t", "items": [{"title": "x"}]}),
                           "items\\[0\\] has no id")):
        with pytest.raises(BriefError, match=message):
            parse_feed(text, "f.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    result = CliRunner().invoke(app, ["feed", "read", str(bad)], env=WIDE)
    assert result.exit_code == 2 and "bad.json" in result.output


def _check_json_feed_1_1(doc: dict) -> None:
    """The required fields of JSON Feed 1.1 and the shapes of the optional ones we write."""
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and doc["title"]
    assert isinstance(doc["items"], list)
    ids = [item["id"] for item in doc["items"]]
    assert all(isinstance(i, str) and i for i in ids) and len(set(ids)) == len(ids)
    for item in doc["items"]:
        assert item.get("content_html") or item.get("content_text")
        for key in ("date_published", "date_modified"):
            if key in item:
                assert datetime.fromisoformat(item[key].replace("Z", "+00:00")).tzinfo is not None
        assert isinstance(item.get("tags", []), list)
        assert all(not k.startswith("_") or k == "_tokentrail" for k in item)


def test_cli_feed_build_and_read(tmp_path):
    rules = [str(RULES_DIR)]
    out = tmp_path / "token.json"
    result = CliRunner().invoke(app, ["feed", "build", "--tag", "token", "-o", str(out), "-r", rules[0]], env=WIDE)
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    _check_json_feed_1_1(doc)
    bundled = load_briefs().briefs
    assert {i["id"] for i in doc["items"]} == {b.id for b in bundled if "token" in b.tags}
    revocation = next(i for i in doc["items"] if i["id"] == "okta-api-token-revocation")
    assert revocation["_tokentrail"]["rules"] == [
        {"id": REVOKED_ID, "title": "Okta API Token Revoked", "reason": "event type system.api_token.revoke"}]
    assert revocation["_tokentrail"]["techniques"] == ["T1528", "T1531"]
    dates = [i["date_published"] for i in doc["items"]]
    assert dates == sorted(dates, reverse=True)
    assert read_feed(out).items[0].rules  # the extension reads back as linked rules
    only = tmp_path / "auth0.json"
    assert CliRunner().invoke(app, ["feed", "build", "--tag", "auth0", "-o", str(only)]).exit_code == 0
    assert {i["id"] for i in json.loads(only.read_text())["items"]} == {"auth0-client-secrets", "auth0-refresh-tokens"}
    listing = CliRunner().invoke(app, ["feed", "read", str(out), "--format", "json"], env=WIDE)
    assert listing.exit_code == 0, listing.output
    items = {i["id"]: i for i in json.loads(listing.stdout)["items"]}
    assert [r["id"] for r in items["okta-api-token-revocation"]["rules"]] == [REVOKED_ID]
    # Python rules are not in the default pack: the feed's links to them are listed as not loaded.
    assert "TokenTrail.Okta.APIToken.UnfamiliarIP" in items["okta-session-hijack"]["rules_not_loaded"]
