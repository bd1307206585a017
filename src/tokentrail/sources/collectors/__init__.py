"""Collectors: pull events from the vendors' log APIs, page by page, with a checkpoint per page."""

from tokentrail.sources.collectors.base import Batch, Collector

__all__ = ["Batch", "Collector"]
