"""The target names the CLI lists without loading the converters are the converters' own."""

import subprocess
import sys

from tokentrail.convert import registry, siem, targets, vendor


def test_light_target_names_are_the_converters_targets():
    assert tuple(siem.TARGETS) == targets.SIEM_TARGETS
    assert tuple(vendor.TARGETS) == targets.VENDOR_TARGETS
    assert registry.TARGETS == targets.TARGETS


def test_the_cli_and_the_engine_import_no_siem_backend_nor_pyarrow():
    code = ("import sys, tokentrail.cli, tokentrail.engine.parallel; "
            "print(sorted(m for m in sys.modules if m.startswith('sigma.backends') or m in ('pyarrow', 'duckdb')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
