"""``tokentrail imitate``: a local imitation of the Okta, Auth0 or Salesforce log API."""

from __future__ import annotations

import os
import signal
import sys
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import orjson
import typer

from tokentrail.cli.common import fail, note, report
from tokentrail.cli.help import Command
from tokentrail.errors import TokenTrailError


class Vendor(StrEnum):
    okta = "okta"
    auth0 = "auth0"
    salesforce = "salesforce"


class ImitateFormat(StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    """Add the command to the app."""
    app.command(cls=Command)(imitate)


def _secret(name: str | None, what: str) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name, "")
    if not value:
        fail(f"{what}: environment variable {name} is not set or empty")
    return value


def imitate(
    vendor: Annotated[Vendor, typer.Argument(metavar="okta|auth0|salesforce", help="Which vendor's log API.")],
    port: Annotated[int, typer.Option("--port", "-p", metavar="PORT",
                                      help="Port on 127.0.0.1 (0: a free one, printed at start).")] = 0,
    events: Annotated[list[Path] | None, typer.Option(
        "--events", metavar="FILE", help="Serve the events of this log file (repeatable; any format scan reads). "
                                         "Default: simulated events.")] = None,
    simulate: Annotated[int, typer.Option("--simulate", "-n", metavar="N",
                                          help="Without --events: about this many simulated events.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Simulator seed.")] = 7,
    token_env: Annotated[str | None, typer.Option(
        "--token-env", metavar="NAME", help="Environment variable holding a token the API accepts.")] = None,
    client_id_env: Annotated[str | None, typer.Option(
        "--client-id-env", metavar="NAME", help="Auth0/Salesforce: variable holding the client id that may get tokens.")] = None,
    client_secret_env: Annotated[str | None, typer.Option(
        "--client-secret-env", metavar="NAME", help="Auth0/Salesforce: variable holding that client's secret.")] = None,
    public_key_file: Annotated[Path | None, typer.Option(
        "--public-key-file", metavar="PATH",
        help="Okta/Salesforce: the app's RSA public key (PEM) that checks its signed JWT assertions; "
             "the app's id comes from --client-id-env.")] = None,
    username: Annotated[str | None, typer.Option(
        "--username", metavar="NAME", help="Salesforce JWT bearer: the user the app may act as.")] = None,
    fail_rate: Annotated[float, typer.Option(
        "--fail-rate", metavar="P", help="Chance (0..1) a data request fails with one of --fail-kinds.")] = 0.0,
    fail_kinds: Annotated[str, typer.Option(
        "--fail-kinds", metavar="LIST", help="Comma-separated faults to draw from: 429, 5xx, cut (cut-off body).")] = "429,5xx,cut",
    slow_rate: Annotated[float, typer.Option(
        "--slow-rate", metavar="P", help="Chance (0..1) an answer waits --slow-seconds first.")] = 0.0,
    slow_seconds: Annotated[float, typer.Option("--slow-seconds", metavar="S", help="How long a slow answer waits.")] = 2.0,
    reset_after: Annotated[float, typer.Option(
        "--reset-after", metavar="S", help="Seconds from an injected 429 to the Reset it announces.")] = 1.0,
    fault_seed: Annotated[int, typer.Option("--fault-seed", metavar="N", help="Seed of the fault draws.")] = 0,
    rate_limit: Annotated[int, typer.Option(
        "--rate-limit", metavar="N", help="Requests allowed per minute (the rate-limit headers count down).")] = 1_000_000,
    fmt: Annotated[ImitateFormat, typer.Option(
        "--format", "-f", metavar="text|json", help="How to announce the address: a line on stderr, or one JSON line on stdout.")]
        = ImitateFormat.text,
) -> None:
    """Serve a local imitation of a vendor's log API until interrupted (paging, auth, rate-limit
    headers and injected faults as the real one); POST JSON lines to /_imitate/events to append."""
    from tokentrail.sources.imitate import FaultPlan, RunningImitation
    from tokentrail.sources.imitate.events import imitation_app, read_events, simulated_events

    token = _secret(token_env, "--token-env")
    client_id, client_secret = _secret(client_id_env, "--client-id-env"), _secret(client_secret_env, "--client-secret-env")
    signed = _signed_app(vendor, client_id, public_key_file, username)
    if signed is None and (client_id is None) != (client_secret is None):
        fail("--client-id-env and --client-secret-env go together")
    if token is None and client_id is None:
        fail("give --token-env (and for auth0 or salesforce, or instead, --client-id-env/--client-secret-env)")
    if client_id is not None and vendor is Vendor.okta and signed is None:
        fail("the Okta imitation takes API tokens (--token-env) or a service app (--client-id-env, --public-key-file)")
    try:
        plan = FaultPlan(fail_rate=fail_rate, kinds=tuple(k.strip() for k in fail_kinds.split(",") if k.strip()),
                         slow_rate=slow_rate, slow_seconds=slow_seconds, seed=fault_seed, reset_after=reset_after)
        stats = None
        if events:
            served, stats = read_events(vendor.value, events)
        else:
            served = simulated_events(vendor.value, simulate, seed)
        client = (client_id, client_secret) if client_id and client_secret else None
        app = imitation_app(vendor.value, served, tokens=[token] if token else [], client=client, faults=plan,
                            rate_limit=rate_limit, signed=signed)
        running = RunningImitation(app, port)
    except TokenTrailError as exc:
        fail(str(exc))
    errors = stats.skipped if stats is not None else 0
    for error in stats.errors if stats is not None else ():
        report("error", "red", error)
    size = len(app.state.store)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    if fmt is ImitateFormat.json:
        # one line, flushed: a parent reading the pipe needs the address now
        sys.stdout.buffer.write(orjson.dumps({"vendor": vendor.value, "url": running.url, "port": running.port,
                                              "events": size, "skipped": errors}) + b"\n")
        sys.stdout.flush()
    else:
        note(f"{vendor.value} imitation on {running.url} with {size} events"
             f"{f' ({errors} unreadable skipped)' if errors else ''}; Ctrl-C stops")
    try:
        stop.wait()
    finally:
        running.close()
    if errors:
        raise typer.Exit(1)


def _signed_app(vendor: Vendor, client_id: str | None, public_key_file: Path | None, username: str | None):
    """The app that may sign in with a private key, or None when no public key is given."""
    from tokentrail.sources.imitate.assertions import SignedApp

    if public_key_file is None:
        return None
    if vendor is Vendor.auth0 or client_id is None:
        fail("--public-key-file is for okta or salesforce, with --client-id-env")
    if vendor is Vendor.salesforce and not username:
        fail("the Salesforce JWT bearer flow needs --username")
    try:
        return SignedApp(client_id, public_key_file.read_bytes(), username)
    except OSError as exc:
        fail(f"cannot read {public_key_file}: {exc.strerror}")
