"""Computed fields of the Okta System Log data model."""


def get_api_token_id(event):
    """The API token that authenticated the request, when one did (Okta records it per request)."""
    token = event.deep_get("transaction", "detail", "requestApiTokenId")
    return token if token and token != "unknown" else None
