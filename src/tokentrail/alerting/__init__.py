"""From matches to alerts: grouping, event-time windows, thresholds, new terms, correlations."""

from tokentrail.alerting.models import Alert, Match

__all__ = ["Alert", "Match"]
