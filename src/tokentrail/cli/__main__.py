"""``python -m tokentrail.cli``."""

from tokentrail.cli import app

app()
