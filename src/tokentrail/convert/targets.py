"""The names of the conversion targets, importable without the converters behind them (the CLI
lists them in its help; loading pySigma's backends for that would cost every command ~15 MB)."""

SIEM_TARGETS = ("splunk", "lucene", "esql", "eql", "kusto")  # convert/siem.py's TARGETS, in order
VENDOR_TARGETS = ("okta", "auth0")  # convert/vendor.py's TARGETS
SQL_DIALECTS = ("duckdb", "spark", "snowflake", "bigquery", "trino")
TARGETS: tuple[str, ...] = ("sigma", *SIEM_TARGETS, *(f"sql:{d}" for d in SQL_DIALECTS), *VENDOR_TARGETS)
SCHEMAS = ("native", "ecs")
