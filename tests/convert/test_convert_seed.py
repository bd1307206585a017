"""Seed 000 (an Auth0 Sigma rule whose page carries a Splunk search and an Auth0 tenant log search
written by people) converted by TokenTrail: the same searches, compared by meaning."""

from __future__ import annotations

import re
import shlex

import pytest

from seed_docs import seed_text
from tokentrail import convert, load_rules


def _seed_rule(tmp_path):
    lines = seed_text("000").splitlines()
    body = "\n".join(lines[lines.index("Rule body yaml") + 1:lines.index("Stages and Predicates")]) + "\n"
    path = tmp_path / "seed_000.yml"
    path.write_text(body, encoding="utf-8")
    loaded = load_rules([path])
    assert not loaded.errors, [str(e) for e in loaded.errors]
    (rule,) = loaded.rules
    return rule, body


def _seed_key(body: str, key: str) -> str:
    """A block scalar of the seed's rule (``splunk: |``), its lines unindented."""
    lines = body.splitlines()
    start = lines.index(f"{key}: |") + 1
    out = []
    for line in lines[start:]:
        if line and not line.startswith(" "):
            break
        out.append(line.strip())
    return "\n".join(out)


def splunk_terms(search: str) -> set[tuple[str, tuple[str, ...]]]:
    """The search terms of an SPL search before its first pipe, as (field, values) pairs: ``a=b``
    and ``"a"="b"`` and ``a IN (b, c)`` alike; quotes and case of values do not matter."""
    text = search.split("|", 1)[0]
    terms: set[tuple[str, tuple[str, ...]]] = set()
    for m in re.finditer(r'("?)([\w.{}]+)\1\s+IN\s+\(([^)]*)\)', text):
        values = tuple(sorted(v.lower() for v in shlex.split(m.group(3).replace(",", " "))))
        terms.add((m.group(2), values))
    text = re.sub(r'("?)([\w.{}]+)\1\s+IN\s+\(([^)]*)\)', " ", text)
    for token in shlex.split(text):
        field, sep, value = token.partition("=")
        assert sep, f"not a field=value term: {token!r}"
        terms.add((field, (value.lower(),)))
    return terms


def test_seed_000_to_splunk_means_the_seeds_own_search(tmp_path):
    rule, body = _seed_rule(tmp_path)
    human = _seed_key(body, "splunk")
    # The seed's search: the index and tenant are the reader's to fill in, the client id list is
    # written as a comment to enable, then come the display commands (after the first pipe).
    human = re.sub(r"```\s*Limit[^`]*```", "", human).replace("```", "")
    human_terms = {t for t in splunk_terms(human) if t[0] not in ("index", "data.tenant_name")}
    c = convert(rule, "splunk")
    assert c.status == "exact", c.caveats
    ours = splunk_terms(c.query)
    assert ours == human_terms
    assert ("data.details.accessedSecrets{}", ("client_secret",)) in ours
    assert ("data.details.response.body.client_id",
            ("critical-client_id-1", "critical-client_id-etc")) in ours


def _lucene_terms(query: str) -> set[tuple[str, str]]:
    return {(f, v) for f, v in re.findall(r'([\w.]+): "([^"]*)"', query)}


def test_seed_000_to_auth0_tenant_log_search_in_the_seeds_own_syntax(tmp_path):
    rule, body = _seed_rule(tmp_path)
    human = _seed_key(body, "tenant_logs")
    c = convert(rule, "auth0")
    assert c.status == "exact", c.caveats
    # Every term of the seed's search, written as the seed writes it, is in ours; ours also has
    # the rule's two other conditions, joined the same way.
    assert human.split(" AND ") == c.query.split(" AND ")[:2]
    assert _lucene_terms(c.query) >= _lucene_terms(human)
    assert ("details.accessedSecrets", "client_secret") in _lucene_terms(c.query)
    assert '(details.response.body.client_id: "critical-client_id-1" OR ' \
           'details.response.body.client_id: "critical-client_id-etc")' in c.query


@pytest.mark.parametrize("target", ["lucene", "esql", "eql"])
def test_seed_000_to_elastic_uses_the_ecs_names_of_auth0_logs(tmp_path, target):
    rule, _ = _seed_rule(tmp_path)
    c = convert(rule, target)
    assert c.status != "not_convertible", c.caveats
    assert "auth0.logs.data.details.accessedSecrets" in c.query and "{}" not in c.query
    assert "auth0.logs.data.type" in c.query and "event.dataset" in c.query
