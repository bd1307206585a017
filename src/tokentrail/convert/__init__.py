"""Rules to other languages: Sigma, SIEM queries, data-lake SQL and vendor log searches.

    from tokentrail import convert, load_rules
    for rule in load_rules().rules:
        c = convert(rule, "splunk")      # Conversion(query, status, caveats, ...)
"""

from tokentrail.convert.fidelity import portability
from tokentrail.convert.model import Conversion
from tokentrail.convert.registry import SCHEMAS, TARGETS, convert, convert_all

__all__ = ["SCHEMAS", "TARGETS", "Conversion", "convert", "convert_all", "portability"]
