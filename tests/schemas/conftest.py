"""Shared helpers for the log type tests: seed documents and sample events of every form."""

from __future__ import annotations

import pytest
import yaml

from seed_docs import seed_text


def _seed_text(prefix: str) -> str:
    return seed_text(prefix)


def _seed_yaml(prefix: str, start: str, end: str) -> dict:
    """The YAML block of a seed page between the ``start`` and ``end`` headings."""
    return yaml.safe_load(_seed_text(prefix).split(start, 1)[1].split(end, 1)[0])


@pytest.fixture(scope="session")
def seed000_rule() -> dict:
    """Seed 000: the Sigma rule for Auth0 (client secret read)."""
    return _seed_yaml("000", "Rule body yaml", "Stages and Predicates")


@pytest.fixture(scope="session")
def seed001_text() -> str:
    """Seed 001: the Elastic rule page for Okta API token creation."""
    return _seed_text("001")


@pytest.fixture(scope="session")
def seed002_rule() -> dict:
    """Seed 002: the Panther rule for Salesforce OAuth abuse, with its tests."""
    return _seed_yaml("002", "Rule body yaml", "Detection logic")


@pytest.fixture
def okta_event() -> dict:
    return {
        "uuid": "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11",
        "published": "2024-01-30T17:45:30.123Z",
        "eventType": "system.api_token.create",
        "displayMessage": "Create API token",
        "actor": {"id": "00u1", "type": "User", "alternateId": "admin@example.com"},
        "client": {"ipAddress": "203.0.113.7", "userAgent": {"rawUserAgent": "curl/8"}},
        "outcome": {"result": "SUCCESS"},
        "target": [{"id": "00T1", "type": "Token", "displayName": "ci-token"}],
        "debugContext": {"debugData": {"requestUri": "/api/v1/tokens"}},
    }


@pytest.fixture
def auth0_stream_event() -> dict:
    return {
        "log_id": "90020240130174530123000000000000001",
        "data": {
            "date": "2024-01-30T17:45:30.123Z",
            "type": "mgmt_api_read",
            "description": "Get client by ID",
            "client_id": "mgmt-client",
            "ip": "198.51.100.4",
            "user_id": "auth0|admin",
            "log_id": "90020240130174530123000000000000001",
            "details": {
                "accessedSecrets": ["client_secret"],
                "response": {"body": {"client_id": "critical-client_id-1"}},
            },
        },
    }


@pytest.fixture
def auth0_api_event(auth0_stream_event: dict) -> dict:
    return dict(auth0_stream_event["data"], _id="90020240130174530123000000000000001")


@pytest.fixture
def salesforce_event() -> dict:
    return {
        "EVENT_TYPE": "ApiTotalUsage",
        "TIMESTAMP": "20240201143045.456",
        "TIMESTAMP_DERIVED": "2024-02-01T14:30:45.456Z",
        "USER_ID": "0055f00000TzVEG",
        "SOURCE_IP": "192.168.1.100",
        "REQUEST_ID": "1JBUGf0UrFF5LFZ-EEBmZ-",
        "CONNECTED_APP_ID": "0H05f000000XzFsGGP",
    }


@pytest.fixture
def rtem_event() -> dict:
    return {
        "attributes": {"type": "LoginEvent", "url": "/services/data/v59.0/sobjects/LoginEvent/0Yw1"},
        "EventDate": "2024-02-01T14:30:45.456+0000",
        "EventIdentifier": "b1f2c3d4-0000-4000-8000-000000000001",
        "UserId": "0055f00000TzVEG",
        "Username": "integration.service@company.com",
        "SourceIp": "192.168.1.100",
        "LoginType": "Remote Access 2.0",
        "Application": "HighVolumeApp",
    }


@pytest.fixture
def ecs_okta_dotted() -> dict:
    return {
        "@timestamp": "2024-01-30T17:45:30.123Z",
        "event.dataset": "okta.system",
        "event.action": "system.api_token.create",
        "event.id": "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11",
        "source.ip": "203.0.113.7",
    }


@pytest.fixture
def ecs_okta_nested() -> dict:
    return {
        "@timestamp": "2024-01-30T17:45:30.123Z",
        "event": {
            "dataset": "okta.system",
            "module": "okta",
            "action": "system.api_token.create",
            "id": "3c7bd1a3-bf10-11ee-9a0c-2b5e1f6c8e11",
        },
        "source": {"ip": "203.0.113.7"},
    }
