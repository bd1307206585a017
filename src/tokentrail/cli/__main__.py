"""``python -m tokentrail.cli``."""

from tokentrail.cli import main

main()
