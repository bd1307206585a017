"""TokenTrail: find application-access-token theft and abuse in SaaS identity logs.

    from tokentrail import load_rules, scan
    rules = load_rules()                 # the bundled pack
    result = scan(["okta.jsonl"], rules)
    for alert in result.alerts: ...
    query = convert(rules.rules[0], "splunk").query
"""

from tokentrail.api import load_rules, scan
from tokentrail.convert import convert  # the function; the package stays importable by its path
from tokentrail.errors import TokenTrailError

__all__ = ["TokenTrailError", "convert", "load_rules", "scan"]
__version__ = "0.1.0"
