"""Where events come from: log files and streams (vendor API collectors come later)."""

from tokentrail.sources.files import LogReader, ReadStats, Record

__all__ = ["LogReader", "ReadStats", "Record"]
