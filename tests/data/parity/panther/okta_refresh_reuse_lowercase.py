"""A refresh token presented again after Okta rotated it: Okta refuses the grant and says why."""


def rule(event):
    return (
        event.get("eventType") == "app.oauth2.as.token.grant.refresh_token"
        and event.deep_get("outcome", "result") == "FAILURE"
        and "reuse" in (event.deep_get("outcome", "reason") or "")
    )


def title(event):
    return f"Refresh token reused from [{event.deep_get('client', 'ipAddress')}]"
