"""``tokentrail attack``: the shipped ATT&CK data (rebuild it from a newer MITRE STIX bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tokentrail.cli.common import fail, ui
from tokentrail.cli.help import Command, Group
from tokentrail.errors import TokenTrailError

app = typer.Typer(help="ATT&CK data derived from MITRE's STIX bundle.", no_args_is_help=True, cls=Group)


@app.command("update", cls=Command)
def attack_update(
    stix: Annotated[Path, typer.Argument(metavar="FILE", help="enterprise-attack.json (STIX bundle) or a directory of "
                                              "STIX object files (mitre/cti layout).")],
    out: Annotated[Path | None, typer.Option("-o", "--out", metavar="PATH", help="Where to write (default: the shipped "
                                                                  "content/attack/enterprise-attack.json).")] = None,
    version: Annotated[str | None, typer.Option("--version", metavar="TEXT", help="ATT&CK version, when the input has no "
                                                                  "collection object.")] = None,
) -> None:
    """Rebuild the ATT&CK data file from a STIX bundle: tactics, techniques, sub-techniques."""
    from tokentrail.catalog.attack import ATTACK_FILE, update_from_stix

    target = out or ATTACK_FILE
    try:
        data = update_from_stix(stix, target, version=version)
    except TokenTrailError as exc:
        fail(str(exc))
    subs = sum(1 for t in data.techniques.values() if t.parent)
    ui.out.print(f"{target}: ATT&CK {data.version}, {len(data.tactics)} tactics, "
                 f"{len(data.techniques) - subs} techniques, {subs} sub-techniques", markup=False)
