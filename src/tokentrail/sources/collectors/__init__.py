"""Collectors: pull events from the vendors' log APIs, page by page, with a checkpoint per page."""

from tokentrail.sources.collectors.auth0 import Auth0LogCollector
from tokentrail.sources.collectors.base import Batch, Collector
from tokentrail.sources.collectors.http import Backoff, CollectorAuthError, CollectorError, Timing
from tokentrail.sources.collectors.okta import OktaLogCollector
from tokentrail.sources.collectors.salesforce import SalesforceLogCollector

__all__ = ["Auth0LogCollector", "Backoff", "Batch", "Collector", "CollectorAuthError", "CollectorError",
           "OktaLogCollector", "SalesforceLogCollector", "Timing"]
