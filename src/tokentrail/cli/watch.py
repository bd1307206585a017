"""``tokentrail watch``: pull the vendors' log APIs, run the rules, send alerts on, lose nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated

import typer

from tokentrail.cli.common import (
    FormatOpt,
    OutputFormat,
    RulesOpt,
    fail,
    load,
    note,
    report,
    ui,
    write_json_stdout,
)
from tokentrail.cli.help import Command, Group

app = typer.Typer(help="Watch tenants' log APIs continuously and send alerts to sinks.", no_args_is_help=True,
                  cls=Group)

TokenEnvOpt = Annotated[str | None, typer.Option(
    "--token-env", metavar="NAME", help="Environment variable holding the API token.")]
TokenFileOpt = Annotated[Path | None, typer.Option(
    "--token-file", metavar="PATH", help="File holding the API token (its first line).")]
StateOpt = Annotated[Path, typer.Option(
    "--state", metavar="FILE",
    help="SQLite state: checkpoints, alert ids sent, open windows (created if missing).")]
SinkOpt = Annotated[list[str] | None, typer.Option(
    "--sink", metavar="SPEC",
    help="Where alerts go (repeatable): jsonl:PATH, sqlite:PATH, webhook:URL or - (standard output). "
         "Default: -.")]
WebhookSecretOpt = Annotated[str | None, typer.Option(
    "--webhook-secret-env", metavar="NAME",
    help="Environment variable holding the secret that signs webhook bodies (X-TokenTrail-Signature).")]
OnceOpt = Annotated[bool, typer.Option(
    "--once", help="Poll until caught up, close open windows, then exit (cron mode).")]
IntervalOpt = Annotated[float, typer.Option(
    "--interval", metavar="SECONDS", help="Seconds between polls once caught up.")]
ClientIdEnvOpt = Annotated[str | None, typer.Option(
    "--client-id-env", metavar="NAME",
    help="Environment variable holding the app's client id (with --private-key-file: private-key JWT sign-in).")]
PrivateKeyOpt = Annotated[Path | None, typer.Option(
    "--private-key-file", metavar="PATH",
    help="The app's RSA private key (PEM) that signs the JWT assertion; needs --client-id-env.")]
SinceOpt = Annotated[str | None, typer.Option(
    "--since", metavar="TIME",
    help="ISO-8601 time to start from on the first run (later runs resume at the checkpoint).")]


def register(app_: typer.Typer) -> None:
    """Add ``watch`` to the app."""
    app_.add_typer(app, name="watch")


@app.command("okta", cls=Command)
def watch_okta(
    org_url: Annotated[str, typer.Option("--org-url", metavar="URL", help="The Okta org, e.g. https://acme.okta.com.")],
    state: StateOpt,
    token_env: TokenEnvOpt = None,
    token_file: TokenFileOpt = None,
    bearer: Annotated[bool, typer.Option(
        "--bearer", help="The token is an OAuth access token (Bearer), not an API token (SSWS).")] = False,
    client_id_env: ClientIdEnvOpt = None,
    private_key_file: PrivateKeyOpt = None,
    rules: RulesOpt = None,
    sink: SinkOpt = None,
    webhook_secret_env: WebhookSecretOpt = None,
    once: OnceOpt = False,
    interval: IntervalOpt = 30.0,
    since: SinceOpt = None,
    page_size: Annotated[int, typer.Option(
        "--page-size", metavar="N", help="Events per request (Okta's limit, at most 1000).")] = 1000,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Watch an Okta org's System Log (GET /api/v1/logs, polling); an API token, an OAuth access
    token, or a service app's client id and private key to get tokens (scope okta.logs.read)."""
    from tokentrail.live.tenants import SecretRef, Tenant

    if private_key_file is not None or client_id_env:
        token, client_id, key = SecretRef(), *_signed(client_id_env, private_key_file)
    else:
        token, client_id, key = _secret(token_env, token_file, "--token-env or --token-file"), SecretRef(), SecretRef()
    tenant = Tenant("okta", org_url, token=token, client_id=client_id, private_key=key, since=since,
                    interval=interval, scheme="Bearer" if bearer else "SSWS", page_size=page_size)
    run_watch([tenant], rules, state, sink, webhook_secret_env, once, fmt)


@app.command("auth0", cls=Command)
def watch_auth0(
    domain: Annotated[str, typer.Option("--domain", metavar="URL", help="The Auth0 tenant, e.g. https://acme.eu.auth0.com.")],
    state: StateOpt,
    token_env: TokenEnvOpt = None,
    token_file: TokenFileOpt = None,
    client_id_env: Annotated[str | None, typer.Option(
        "--client-id-env", metavar="NAME", help="Environment variable holding the M2M application's client id.")] = None,
    client_secret_env: Annotated[str | None, typer.Option(
        "--client-secret-env", metavar="NAME",
        help="Environment variable holding the M2M application's client secret.")] = None,
    rules: RulesOpt = None,
    sink: SinkOpt = None,
    webhook_secret_env: WebhookSecretOpt = None,
    once: OnceOpt = False,
    interval: IntervalOpt = 30.0,
    since: SinceOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Watch an Auth0 tenant's logs (GET /api/v2/logs, checkpoint paging); a Management API token,
    or client credentials to get one."""
    from tokentrail.live.tenants import Tenant

    token, client_id, client_secret = _credentials(token_env, token_file, client_id_env, client_secret_env)
    tenant = Tenant("auth0", domain, token=token, client_id=client_id, client_secret=client_secret, since=since,
                    interval=interval)
    run_watch([tenant], rules, state, sink, webhook_secret_env, once, fmt)


@app.command("salesforce", cls=Command)
def watch_salesforce(
    instance_url: Annotated[str, typer.Option(
        "--instance-url", metavar="URL", help="The Salesforce instance, e.g. https://acme.my.salesforce.com.")],
    state: StateOpt,
    token_env: TokenEnvOpt = None,
    token_file: TokenFileOpt = None,
    client_id_env: Annotated[str | None, typer.Option(
        "--client-id-env", metavar="NAME",
        help="Environment variable holding the connected app's consumer key (client credentials or JWT bearer).")] = None,
    client_secret_env: Annotated[str | None, typer.Option(
        "--client-secret-env", metavar="NAME",
        help="Environment variable holding the connected app's consumer secret.")] = None,
    username: Annotated[str | None, typer.Option(
        "--username", metavar="NAME", help="JWT bearer flow: the Salesforce user the connected app acts as.")] = None,
    private_key_file: PrivateKeyOpt = None,
    login_url: Annotated[str | None, typer.Option(
        "--login-url", metavar="URL",
        help="The login server tokens are asked of (<URL>/services/oauth2/token) and the JWT assertion's "
             "audience: https://login.salesforce.com, https://test.salesforce.com (sandboxes) or the My Domain "
             "URL. Default: the instance URL.")] = None,
    log_interval: Annotated[str, typer.Option(
        "--log-interval", metavar="Hourly|Daily", help="Which EventLogFiles to read.")] = "Hourly",
    objects: Annotated[list[str] | None, typer.Option(
        "--object", metavar="NAME",
        help="A Real-Time Event Monitoring storage object to query too, e.g. LoginEvent (repeatable).")] = None,
    rules: RulesOpt = None,
    sink: SinkOpt = None,
    webhook_secret_env: WebhookSecretOpt = None,
    once: OnceOpt = False,
    interval: IntervalOpt = 60.0,
    since: SinceOpt = None,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Watch a Salesforce org's EventLogFiles and real-time event storage objects; an access
    token, a connected app's client credentials, or its JWT bearer flow (consumer key, username,
    private key) to get one."""
    from tokentrail.live.tenants import SecretRef, Tenant

    key = SecretRef()
    if private_key_file is not None:
        if not username:
            fail("the JWT bearer flow needs --username")
        (client_id, key), token, client_secret = _signed(client_id_env, private_key_file), SecretRef(), SecretRef()
    else:
        token, client_id, client_secret = _credentials(token_env, token_file, client_id_env, client_secret_env)
    tenant = Tenant("salesforce", instance_url, token=token, client_id=client_id, client_secret=client_secret,
                    private_key=key, username=username, login_url=login_url,
                    since=since, interval=interval, log_interval=log_interval, objects=tuple(objects or ()))
    run_watch([tenant], rules, state, sink, webhook_secret_env, once, fmt)


@app.command("tenants", cls=Command)
def watch_tenants(
    config: Annotated[Path, typer.Option(
        "--config", metavar="FILE",
        help="tenants.yml: 'tenants:' listing each tenant's vendor, URL and the env/file names of its secrets.")],
    state: StateOpt,
    rules: RulesOpt = None,
    sink: SinkOpt = None,
    webhook_secret_env: WebhookSecretOpt = None,
    once: OnceOpt = False,
    fmt: FormatOpt = OutputFormat.table,
) -> None:
    """Watch several tenants in one process, as a tenants.yml lists them."""
    from tokentrail.errors import ConfigError
    from tokentrail.live.tenants import load_tenants

    try:
        tenants = load_tenants(config)
    except ConfigError as exc:
        fail(str(exc))
    run_watch(tenants, rules, state, sink, webhook_secret_env, once, fmt)


@app.command("demo", cls=Command)
def watch_demo(
    out_dir: Annotated[Path, typer.Option(
        "--out", "-o", metavar="DIR", help="Where the demo's state and alerts go.")] = Path("tokentrail-demo/live"),
    seconds: Annotated[float, typer.Option(
        "--seconds", metavar="SECONDS", help="How long to watch.")] = 5.0,
    seed: Annotated[int, typer.Option("--seed", metavar="N", help="Random seed (same seed, same logs).")] = 7,
) -> None:
    """Watch a local imitation of an Okta org whose log grows while it is watched, for a few
    seconds, and show the alerts (no account needed)."""
    from tokentrail.live.demo import run_live_demo
    from tokentrail.live.status import Rate, status_line
    from tokentrail.sinks.alert_store import AlertQuery, AlertStore

    rate = Rate()
    with status_display() as show:
        result = run_live_demo(out_dir, seconds=seconds, seed=seed, on_status=lambda sources: show(
            status_line(sources, rate.update(sum(s.events for s in sources)))))
    store = AlertStore(out_dir / "alerts.sqlite", create=False)
    try:
        found = list(store.query(AlertQuery()))
    finally:
        store.close()
    from tokentrail.cli.alerts import show_alerts

    show_alerts(found)
    finish_report(result.sources, result.errors, result.stopped, 0, OutputFormat.table)
    note(f"alerts in {out_dir / 'alerts.jsonl'}; query them with: tokentrail alerts list --store "
         f"{out_dir / 'alerts.sqlite'}")
    if result.errors:
        raise typer.Exit(1)


def _credentials(token_env: str | None, token_file: Path | None, client_id_env: str | None,
                 client_secret_env: str | None):
    """(token, client id, client secret) references: a token, or client credentials to get one."""
    from tokentrail.live.tenants import SecretRef

    if token_env or token_file:
        return _secret(token_env, token_file, ""), SecretRef(), SecretRef()
    if client_id_env and client_secret_env:
        return SecretRef(), SecretRef(env=client_id_env), SecretRef(env=client_secret_env)
    fail("give --token-env/--token-file, or --client-id-env and --client-secret-env")


def _signed(client_id_env: str | None, private_key_file: Path | None):
    """(client id, private key) references for a private-key JWT sign-in."""
    from tokentrail.live.tenants import SecretRef

    if not client_id_env or private_key_file is None:
        fail("private-key sign-in needs both --client-id-env and --private-key-file")
    return SecretRef(env=client_id_env), SecretRef(file=private_key_file)


def _secret(env: str | None, file: Path | None, missing: str):
    from tokentrail.live.tenants import SecretRef

    if env and file:
        fail("give --token-env or --token-file, not both")
    if not env and file is None:
        fail(f"the token is missing: give {missing or '--token-env or --token-file'}")
    return SecretRef(env=env, file=file)


def run_watch(tenants, rules: Sequence[Path] | None, state: Path, sink_specs: Sequence[str] | None,
              webhook_secret_env: str | None, once: bool, fmt: OutputFormat) -> None:
    """Build the collectors, run the loop until stopped (or caught up with ``once``), report."""
    from tokentrail.errors import TokenTrailError
    from tokentrail.live.runner import LiveRun
    from tokentrail.live.status import Rate, scrubber, status_line
    from tokentrail.live.tenants import build_collector

    specs = list(sink_specs or ["-"])
    if fmt is not OutputFormat.table and "-" in specs:
        fail("--format json/jsonl and --sink - would both write to standard output; pick one")
    secrets = [s for t in tenants for s in t.secrets()]
    webhook_secret = _webhook_secret(webhook_secret_env)
    if webhook_secret:
        secrets.append(webhook_secret.decode())
    scrub = scrubber(secrets)
    say = _error_line(scrub)
    try:
        collectors = [build_collector(t) for t in tenants]
    except TokenTrailError as exc:
        fail(scrub(str(exc)))
    loaded = load(rules)
    with live_or_fail(state, specs, webhook_secret, say) as session:
        rate = Rate()
        with status_display() as show:
            def on_status(sources) -> None:
                show(status_line(sources, rate.update(sum(s.events for s in sources))))

            try:
                run = LiveRun(loaded.rules, session.state, session.sinks, collectors, once=once, on_status=on_status,
                              on_error=say)
                with stop_on_signals() as stop:
                    result = run.run(stop)
            except TokenTrailError as exc:
                session.clean = False
                fail(scrub(str(exc)), 1)
            session.clean = not result.partial
    for error in result.errors:
        say(error)
    finish_report(result.sources, result.errors, result.stopped, session.left_in_outbox, fmt)
    if result.errors:
        raise typer.Exit(1)


def finish_report(sources, errors: Sequence[str], stopped: bool, left: int, fmt: OutputFormat) -> None:
    """The end-of-run summary: one line per source on stderr, or a JSON document on stdout."""
    if fmt is not OutputFormat.table:
        write_json_stdout({"sources": [s.to_dict() for s in sources], "errors": list(errors),
                           "stopped": stopped, "webhook_outbox": left})
        return
    for s in sources:
        note(f"{s.source}: {s.events} events read, {s.duplicates} duplicate(s) dropped, {s.rejected} unreadable, "
             f"{s.unknown} of no known log type, "
             f"{s.alerts} alert(s), "
             f"{s.batches} page(s)" + (", caught up" if s.caught_up else ""))
    if left:
        note(f"{left} alert(s) still in the webhook outbox; the next run sends them")


def _webhook_secret(env: str | None) -> bytes | None:
    if env is None:
        return None
    value = os.environ.get(env, "")
    if not value:
        fail(f"--webhook-secret-env: environment variable {env} is not set or empty")
    return value.encode()


def _error_line(scrub: Callable[[str], str]) -> Callable[[str], None]:
    def say(message: str) -> None:
        report("error", "red", scrub(message))

    return say


@contextlib.contextmanager
def live_or_fail(state: Path, specs: Sequence[str], webhook_secret: bytes | None, say):
    """``live_session`` with its errors (opening it, the last commit) as one line each."""
    from tokentrail.errors import ConfigError, StateError
    from tokentrail.live.session import live_session
    from tokentrail.sinks.base import SinkError

    with contextlib.ExitStack() as stack:
        try:
            session = stack.enter_context(live_session(state, specs, webhook_secret=webhook_secret, on_error=say))
        except StateError as exc:
            fail(f"--state {exc}")
        except SinkError as exc:
            fail(f"--sink {exc}")
        except ConfigError as exc:
            fail(str(exc))
        try:
            yield session
            stack.close()
        except StateError as exc:
            fail(f"--state {exc}", 1)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (the run finishes its page, commits and exits 0)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def status_display() -> Iterator[Callable[[str], None]]:
    """A live status line on stderr when it is a terminal; nothing otherwise."""
    if not ui.err.is_terminal:
        yield lambda line: None
        return
    from rich.live import Live
    from rich.text import Text

    with Live(Text(""), console=ui.err, refresh_per_second=4, transient=False) as live:
        yield lambda line: live.update(Text(line))
