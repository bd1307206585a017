"""TokenTrail: find application-access-token theft and abuse in SaaS identity logs.

    from tokentrail import load_rules, scan
    rules = load_rules()                 # the bundled pack
    result = scan(["okta.jsonl"], rules)
    for alert in result.alerts: ...
"""

from tokentrail.api import load_rules, scan
from tokentrail.errors import TokenTrailError

__all__ = ["TokenTrailError", "load_rules", "scan"]
__version__ = "0.1.0"
