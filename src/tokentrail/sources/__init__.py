"""Where events come from: log files and streams (vendor API collectors come later)."""

from tokentrail.sources.files import LogReader, ReadStats, Record
from tokentrail.sources.limits import ReadLimits

__all__ = ["LogReader", "ReadLimits", "ReadStats", "Record"]
