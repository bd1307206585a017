"""Removing branch protection lets anyone with push rights rewrite the protected branch."""


def rule(event):
    return event.get("action") == "protected_branch.destroy"


def title(event):
    return f"[{event.get('actor')}] removed branch protection on [{event.get('repo')}]"
