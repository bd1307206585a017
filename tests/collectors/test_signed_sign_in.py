"""Sign-in with an app's private key against the imitations on 127.0.0.1, the assertions checked
for real: Okta service apps (private-key JWT client credentials) and Salesforce's JWT bearer flow.
Keys are generated here; none leaks into a message or a checkpoint."""

from __future__ import annotations

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from collect_support import FakeTime, ids, simulated, until_caught_up
from tokentrail.errors import ConfigError
from tokentrail.sources.collectors.assertions import (
    OKTA_LIFETIME,
    SigningKey,
    load_signing_key,
    okta_client_assertion,
    read_signing_key,
    salesforce_bearer_assertion,
)
from tokentrail.sources.collectors.http import CollectorAuthError
from tokentrail.sources.collectors.okta import OktaLogCollector
from tokentrail.sources.collectors.salesforce import SalesforceLogCollector
from tokentrail.sources.imitate import running
from tokentrail.sources.imitate.assertions import SignedApp
from tokentrail.sources.imitate.okta import okta_app, okta_key
from tokentrail.sources.imitate.salesforce import salesforce_app

OKTA_EVENTS = simulated("okta", 600)
SF_EVENTS = simulated("salesforce", 600)
CLIENT_ID = "0oa1serviceapp5d7"
CONSUMER_KEY = "3MVG9-jwt-connected-app"
USER = "integration@acme.example"


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY, OTHER_KEY = _rsa(), _rsa()


def private_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signing(key=KEY) -> SigningKey:
    return load_signing_key(private_pem(key), "test key")


def okta(url: str, fake: FakeTime, key=KEY, client_id: str = CLIENT_ID) -> OktaLogCollector:
    return OktaLogCollector(url, client_id=client_id, private_key=signing(key), timing=fake.timing(),
                            poll_interval=5.0, limit=200)


def okta_service(fake: FakeTime, **kw):
    return okta_app(OKTA_EVENTS, service_app=SignedApp(CLIENT_ID, public_pem(KEY)), clock=fake.clock, **kw)


def leaked(text: str, *secrets: str) -> bool:
    """Whether ``text`` shows a JWT (its base64 header starts ``eyJ``), a PEM block or a secret."""
    return "eyJ" in text or "PRIVATE KEY" in text or any(s and s in text for s in secrets)


def test_okta_service_app_signs_in_once_and_reads_the_whole_log(fake_time):
    app = okta_service(fake_time)
    with running(app) as srv:
        c = okta(srv.url, fake_time)
        batches = until_caught_up(c)
        assert app.state.tokens.issued == 1  # one token for the four pages
        tokens = c.secrets()
        assert len(tokens) == 2  # the access token and the assertion that got it
    assert ids(batches, "uuid") == [e["uuid"] for e in sorted(OKTA_EVENTS, key=okta_key)]
    assert all(not leaked(b.checkpoint + "".join(b.rejected), *tokens) for b in batches)


def test_okta_token_is_fetched_again_before_expiry_and_once_on_a_401(fake_time):
    app = okta_service(fake_time, token_ttl=3600)
    with running(app) as srv:
        c = okta(srv.url, fake_time)
        first = until_caught_up(c)
        fake_time.now += 3000
        until_caught_up(c, first[-1].checkpoint)
        assert app.state.tokens.issued == 1  # still cached
        fake_time.now += 600  # within the margin before its hour ends: a new one first
        until_caught_up(c, first[-1].checkpoint)
        assert app.state.tokens.issued == 2
        app.state.tokens.revoke_all()
        until_caught_up(c, first[-1].checkpoint)
        assert app.state.tokens.issued == 3  # the 401 got one new token, and the read went on


@pytest.mark.parametrize(("key", "client_id", "why"), [
    (OTHER_KEY, CLIENT_ID, "signature is invalid"),
    (KEY, "0oaSomeOtherApp", "issuer is not this app"),
])
def test_okta_refuses_a_wrong_assertion_without_leaking_it(fake_time, key, client_id, why):
    with running(okta_service(fake_time)) as srv:
        c = okta(srv.url, fake_time, key=key, client_id=client_id)
        with pytest.raises(CollectorAuthError, match=why) as caught:
            until_caught_up(c)
    assert "invalid_client" in str(caught.value) and not leaked(str(caught.value))


def test_okta_token_endpoint_checks_audience_expiry_lifetime_and_replay(fake_time):
    def post(srv, assertion: str, **form) -> httpx.Response:
        body = {"grant_type": "client_credentials", "scope": "okta.logs.read", "client_assertion": assertion,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", **form}
        return httpx.post(srv.url + "/oauth2/v1/token", data=body)

    def signed(srv, **claims) -> str:
        base = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": srv.url + "/oauth2/v1/token",
                "iat": int(fake_time.now), "exp": int(fake_time.now + 300), "jti": f"j{len(claims)}"}
        return jwt.encode({**base, **claims}, KEY, algorithm="RS256")

    with running(okta_service(fake_time)) as srv:
        good = okta_client_assertion(signing(), CLIENT_ID, srv.url + "/oauth2/v1/token", fake_time.now)
        answers = {
            "audience": post(srv, signed(srv, aud=srv.url + "/oauth2/default/v1/token", jti="a")),
            "expired": post(srv, signed(srv, exp=int(fake_time.now - 120), jti="b")),
            "too far": post(srv, signed(srv, exp=int(fake_time.now + 7200), jti="c")),
            "subject": post(srv, signed(srv, sub="someone", jti="d")),
            "good": post(srv, good),
            "replayed": post(srv, good),
            "scope": post(srv, signed(srv, jti="e"), scope="okta.users.read"),
        }
    refused = {k: (r.status_code, r.json()["error"], r.json()["error_description"]) for k, r in answers.items()
               if k != "good"}
    assert answers["good"].status_code == 200 and answers["good"].json()["token_type"] == "Bearer"
    assert refused == {
        "audience": (401, "invalid_client", "The client_assertion audience is invalid."),
        "expired": (401, "invalid_client", "The client_assertion is expired."),
        "too far": (401, "invalid_client", "The client_assertion expires too far in the future."),
        "subject": (401, "invalid_client", "The client_assertion subject is not allowed."),
        "replayed": (401, "invalid_client", "The client_assertion was already used."),
        "scope": (400, "invalid_scope", "The requested scope is invalid, unknown, or malformed."),
    }


def test_assertion_claims_follow_the_vendors_rules():
    now = 1_800_000_000.0
    decode = {"algorithms": ["RS256"], "options": {"verify_exp": False, "verify_aud": False, "verify_iat": False}}
    one, two = (jwt.decode(okta_client_assertion(signing(), CLIENT_ID, "https://a.okta.com/oauth2/v1/token", now),
                           public_pem(KEY), **decode) for _ in range(2))
    assert one["iss"] == one["sub"] == CLIENT_ID and one["aud"] == "https://a.okta.com/oauth2/v1/token"
    assert one["exp"] - one["iat"] == OKTA_LIFETIME <= 3600 and one["jti"] != two["jti"]
    sf = jwt.decode(salesforce_bearer_assertion(signing(), CONSUMER_KEY, USER, "https://login.salesforce.com", now),
                    public_pem(KEY), **decode)
    assert (sf["iss"], sf["sub"], sf["aud"]) == (CONSUMER_KEY, USER, "https://login.salesforce.com")
    assert 0 < sf["exp"] - now <= 180


def sf_app(fake: FakeTime, **kw):
    return salesforce_app(SF_EVENTS, signed_app=SignedApp(CONSUMER_KEY, public_pem(KEY), USER),
                          clock=fake.clock, **kw)


def salesforce(url: str, fake: FakeTime, key=KEY, username: str = USER, **kw) -> SalesforceLogCollector:
    return SalesforceLogCollector(url, client_id=CONSUMER_KEY, username=username, private_key=signing(key),
                                  timing=fake.timing(), poll_interval=5.0, **kw)


def test_salesforce_jwt_bearer_reads_every_file(fake_time):
    with running(sf_app(fake_time)) as srv:
        c = salesforce(srv.url, fake_time)
        batches = until_caught_up(c)
        tokens = c.token.secrets()
    assert sorted(ids(batches, "REQUEST_ID")) == sorted(e["REQUEST_ID"] for e in SF_EVENTS)
    assert all(not leaked(b.checkpoint + "".join(b.rejected), *tokens) for b in batches)


def test_salesforce_audience_must_be_what_the_login_server_expects(fake_time):
    with running(sf_app(fake_time, login_url="https://login.salesforce.com")) as srv, \
            pytest.raises(CollectorAuthError, match="audience is invalid"):
        until_caught_up(salesforce(srv.url, fake_time))


def test_salesforce_login_url_is_the_audience_and_the_token_endpoint(fake_time):
    app = sf_app(fake_time)
    with running(app) as instance, running(app.state.login_app) as login:
        assert instance.url != login.url  # two origins: the instance and its login server
        through_login = until_caught_up(salesforce(instance.url, fake_time, login_url=login.url + "/"))
        signed_in = list(app.state.sign_ins)
        until_caught_up(salesforce(instance.url, fake_time))  # no login URL: the instance signs in
        default = app.state.sign_ins[len(signed_in):]
    assert sorted(ids(through_login, "REQUEST_ID")) == sorted(e["REQUEST_ID"] for e in SF_EVENTS)
    jwt_grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    assert [(s.origin, s.grant_type, s.audience) for s in signed_in] == [(login.url, jwt_grant, login.url)]
    assert [(s.origin, s.audience) for s in default] == [(instance.url, instance.url)]


def test_salesforce_client_credentials_ask_the_login_url_too(fake_time):
    app = salesforce_app(SF_EVENTS, client=(CONSUMER_KEY, "consumer-secret-9f"), clock=fake_time.clock)
    with running(app) as instance, running(app.state.login_app) as login:
        c = SalesforceLogCollector(instance.url, client_id=CONSUMER_KEY, client_secret="consumer-secret-9f",
                                   login_url=login.url, timing=fake_time.timing(), poll_interval=5.0)
        assert len(ids(until_caught_up(c), "REQUEST_ID")) == len(SF_EVENTS)
    assert [(s.origin, s.grant_type, s.audience) for s in app.state.sign_ins] == \
        [(login.url, "client_credentials", None)]


@pytest.mark.parametrize(("login_url", "why"), [
    ("http://login.salesforce.com", "must use https"),
    ("https://acme.my.site.com/customers", "must be an origin"),
    ("https://login.salesforce.com?x=1", "must be an origin"),
    ("ftp://login.salesforce.com", "is not an http"),
])
def test_salesforce_login_url_must_be_an_https_origin(login_url, why):
    with pytest.raises(ConfigError, match=why):
        SalesforceLogCollector("https://acme.my.salesforce.com", client_id=CONSUMER_KEY, username=USER,
                               private_key=signing(), login_url=login_url)
    assert SalesforceLogCollector("https://acme.my.salesforce.com", client_id=CONSUMER_KEY, username=USER,
                                  private_key=signing(), login_url="test.salesforce.com").login_origin \
        == "https://test.salesforce.com"


@pytest.mark.parametrize(("kw", "why"), [
    ({"key": OTHER_KEY}, "assertion signature is invalid"),
    ({"username": "intruder@acme.example"}, "assertion subject is not allowed"),
])
def test_salesforce_refuses_a_wrong_assertion_without_leaking_it(fake_time, kw, why):
    with running(sf_app(fake_time)) as srv, pytest.raises(CollectorAuthError, match=why) as caught:
        until_caught_up(salesforce(srv.url, fake_time, **kw))
    assert "invalid_grant" in str(caught.value) and not leaked(str(caught.value))


def test_salesforce_refuses_an_expired_assertion(fake_time):
    with running(sf_app(fake_time)) as srv:
        late = salesforce_bearer_assertion(signing(), CONSUMER_KEY, USER, srv.url, fake_time.now - 600)
        answer = httpx.post(srv.url + "/services/oauth2/token",
                            data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": late})
    assert (answer.status_code, answer.json()) == (400, {"error": "invalid_grant",
                                                         "error_description": "assertion is expired"})


def test_private_key_files_that_are_not_rsa_pem_are_refused_by_name(tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n")
    ec_file = tmp_path / "ec.pem"
    ec_file.write_bytes(private_pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigError, match="garbage.pem: not an unencrypted PEM private key") as caught:
        read_signing_key(garbage)
    assert "base64" not in str(caught.value)
    with pytest.raises(ConfigError, match="must be RSA"):
        read_signing_key(ec_file)
    with pytest.raises(ConfigError, match="cannot read the private key"):
        read_signing_key(tmp_path / "absent.pem")
    good = tmp_path / "good.pem"
    good.write_bytes(private_pem(KEY))
    assert repr(read_signing_key(good)) == f"SigningKey(source={str(good)!r})"


def test_half_given_signed_credentials_are_configuration_errors():
    with pytest.raises(ConfigError, match="nor a service app's client id and private key"):
        OktaLogCollector("acme.okta.com", client_id=CLIENT_ID)
    with pytest.raises(ConfigError, match="needs the consumer key and a username"):
        SalesforceLogCollector("acme.my.salesforce.com", client_id=CONSUMER_KEY, private_key=signing())



def test_a_tenants_file_names_the_key_and_the_collector_signs_in_with_it(tmp_path, monkeypatch):
    from tokentrail.live.tenants import build_collector, load_tenants

    (tmp_path / "app.pem").write_bytes(private_pem(KEY))
    monkeypatch.setenv("SF_KEY_ID", CONSUMER_KEY)
    config = tmp_path / "tenants.yml"
    # real time on both sides: the collector is built as `watch tenants` builds it
    with running(salesforce_app(SF_EVENTS, signed_app=SignedApp(CONSUMER_KEY, public_pem(KEY), USER))) as srv:
        config.write_text(f"tenants:\n  - vendor: salesforce\n    instance_url: {srv.url}\n    client_id_env: SF_KEY_ID\n"
                          f"    username: {USER}\n    private_key_file: app.pem\n")
        tenant, = load_tenants(config)
        collector = build_collector(tenant)
        assert private_pem(KEY).decode().strip() in tenant.secrets()
        assert len(ids(until_caught_up(collector), "REQUEST_ID")) == len(SF_EVENTS)
    config.write_text("tenants:\n  - vendor: okta\n    org_url: https://acme.okta.com\n    private_key: x\n")
    with pytest.raises(ConfigError, match="private_key_env"):
        load_tenants(config)


def test_a_tenants_file_gives_the_salesforce_login_url(tmp_path, monkeypatch):
    from tokentrail.live.tenants import build_collector, load_tenants

    (tmp_path / "app.pem").write_bytes(private_pem(KEY))
    monkeypatch.setenv("SF_KEY_ID", CONSUMER_KEY)
    config = tmp_path / "tenants.yml"
    app = salesforce_app(SF_EVENTS, signed_app=SignedApp(CONSUMER_KEY, public_pem(KEY), USER))
    with running(app) as srv, running(app.state.login_app) as login:
        config.write_text(f"tenants:\n  - vendor: salesforce\n    instance_url: {srv.url}\n    client_id_env: SF_KEY_ID\n"
                          f"    username: {USER}\n    private_key_file: app.pem\n    login_url: {login.url}\n")
        tenant, = load_tenants(config)
        assert tenant.login_url == login.url
        assert len(ids(until_caught_up(build_collector(tenant)), "REQUEST_ID")) == len(SF_EVENTS)
    assert [(s.origin, s.audience) for s in app.state.sign_ins] == [(login.url, login.url)]
    config.write_text("tenants:\n  - vendor: okta\n    org_url: https://acme.okta.com\n    token_env: T\n"
                      "    login_url: https://login.salesforce.com\n")
    with pytest.raises(ConfigError, match="'login_url' is for salesforce tenants only"):
        load_tenants(config)
