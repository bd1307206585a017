"""Shared by the delivery tests: event builders, a rule file, the CLI as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

SCRIPT = Path(sys.executable).parent / "tokentrail"
COMMAND = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "tokentrail.cli"]
ENV = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}

TOKEN_RULE = """\
title: Okta API token created
id: 7d1e0c1a-0000-4000-8000-0000000000a1
status: test
level: high
logsource:
  product: okta
detection:
  selection:
    eventType: system.api_token.create
  condition: selection
"""


def okta_event(n: int, event_type: str = "system.api_token.create", published: object = None,
               user: str = "alice@example.com") -> dict:
    """An Okta System Log record; ``n`` makes its uuid and (unless given) its time."""
    return {
        "uuid": f"okta-{n}",
        "published": published if published is not None else f"2024-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "eventType": event_type,
        "actor": {"id": "00u1", "type": "User", "alternateId": user},
        "client": {"ipAddress": "198.51.100.7"},
    }


def write_jsonl(path: Path, events: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def tokentrail(*args: object, **kw) -> subprocess.Popen:
    """``tokentrail ARGS`` as a real process with pipes."""
    return subprocess.Popen([*COMMAND, *map(str, args)], env=ENV, stdin=kw.pop("stdin", subprocess.DEVNULL),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def run(*args: object, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*COMMAND, *map(str, args)], env=ENV, capture_output=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def jsonl_ids(data: bytes) -> list[str]:
    """Alert ids of JSON lines; a torn last line (the writer was killed mid-line) is not one."""
    out = []
    for line in data.splitlines():
        try:
            out.append(orjson.loads(line)["id"])
        except orjson.JSONDecodeError:
            continue
    return out
