"""Open Navigator layers in a running ATT&CK Navigator (headless Chromium) and print what it shows.

Usage: python tools/navigator_check.py --navigator-url URL [--upload] [--screenshots DIR] LAYER.json...

It drives Debian's Chromium over the DevTools protocol (``--remote-debugging-pipe``, no
Playwright, no websocket library) against a Navigator that is already served (this script does
not build or ship it). Each layer is served on 127.0.0.1 with CORS and opened by the
``#layerURL=`` fragment, or with ``--upload`` through the "Open Existing Layer" file input. From
the DOM it reads: the layer tab's title, any dialog, snack-bar or alert the Navigator raised,
its console errors, and for every technique entry of the layer the cell's background colour,
whether it is shown (parent expanded) and, for a sample of cells, the tooltip (score, comment,
metadata) and the context menu's links (the URL ``window.open`` would get). It exits 1 when any
check fails, 2 when the browser or page could not be driven.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import functools
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.error import HTTPError
from urllib.parse import quote, urlsplit
from urllib.request import urlopen

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--hide-scrollbars",
         "--remote-debugging-pipe")

# Runs in the page: the layer tabs, dialogs, snack-bars and every matrix cell with what it shows.
PAGE_STATE_JS = r"""
(() => {
  const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
  const tabs = [...document.querySelectorAll('.tab-title')].map((t) =>
    [...(t.querySelector('.mdc-tab__text-label') || t).childNodes].filter((n) => n.nodeType === 3)
      .map((n) => n.textContent).join('').trim());
  const dialogs = [...document.querySelectorAll('mat-dialog-container, .mat-mdc-dialog-container')].map(text);
  const snacks = [...document.querySelectorAll('.mat-mdc-snack-bar-container, snack-bar-container')].map(text);
  // Tactic headers read "TA0001 Initial Access" when IDs are shown: keep the name.
  const heads = [...document.querySelectorAll('table.matrix.side thead tr.tactic td.tactic.name')]
    .map((h) => text(h).replace(/^TA\d+\s*/, ''));
  const columns = [...document.querySelectorAll('table.matrix.side > tbody > tr > td.tactic')];
  const cells = [];
  columns.forEach((col, i) => {
    col.querySelectorAll('.technique-cell').forEach((cell) => {
      // The label is "T1078Valid Accounts" (ID and name split by a <div>), or the name alone
      // when the layer hides IDs; a sub-technique's parent label tells same-named ones apart.
      const label = text(cell.querySelector('span'));
      const row = cell.closest('.subtechnique') && cell.closest('tr.technique-row');
      const parent = row ? text(row.querySelector('td.technique .technique-cell span')) : '';
      cells.push({
        label, parent, column: i, tactic: heads[i] || '', classes: cell.className,
        background: getComputedStyle(cell).backgroundColor,
        shown: !cell.closest('.subtechniques.hidden'),
        sub: !!cell.closest('.subtechnique'),
      });
    });
  });
  return {tabs, dialogs, snacks, heads, cells, title: document.title};
})()
"""


class BrowserError(Exception):
    """Chromium could not be started or driven."""


class Chromium:
    """A headless Chromium spoken to over ``--remote-debugging-pipe`` (fd 3 in, fd 4 out)."""

    def __init__(self, executable: str, size: tuple[int, int]) -> None:
        self._profile = tempfile.mkdtemp(prefix="navcheck-chromium-")
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def wire_fds() -> None:
            # Move both ends above 4 first: a pipe end may itself be fd 3 or 4, and dup2 onto
            # itself would leave it close-on-exec.
            high_in = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        # preexec_fn runs before any thread of ours starts (the layer server starts later).
        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={size[0]},{size[1]}",
             "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=wire_fds, close_fds=False)  # noqa: PLW1509 - no threads exist yet
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._next_id = 0
        self._replies: dict[int, queue.Queue] = {}
        self.events: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._drain_stderr, daemon=True).start()

    def _drain_stderr(self) -> None:
        for _ in self.proc.stderr:
            pass

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_chrome, 1 << 20)
            if not chunk:
                return
            buf += chunk
            *messages, buf = buf.split(b"\0")
            for raw in messages:
                msg = json.loads(raw)
                if "id" in msg and msg["id"] in self._replies:
                    self._replies[msg["id"]].put(msg)
                else:
                    self.events.put(msg)

    def call(self, method: str, params: dict | None = None, session: str | None = None,
             timeout: float = 60.0) -> dict:
        """Send one DevTools command and wait for its result."""
        with self._lock:
            self._next_id += 1
            mid = self._next_id
            self._replies[mid] = queue.Queue()
        msg: dict[str, Any] = {"id": mid, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome, json.dumps(msg).encode() + b"\0")
        try:
            reply = self._replies[mid].get(timeout=timeout)
        except queue.Empty:
            raise BrowserError(f"{method}: no answer in {timeout:.0f} s") from None
        finally:
            del self._replies[mid]
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def close(self) -> None:
        """Ask the browser to quit, then make sure it has."""
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close", timeout=10)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self._profile, ignore_errors=True)


class Page:
    """One tab: evaluate JavaScript, send mouse events, collect console errors and alerts."""

    def __init__(self, browser: Chromium, size: tuple[int, int]) -> None:
        self.b = browser
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.target = target
        self.session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "DOM"):
            self.cmd(f"{domain}.enable")
        self.cmd("Emulation.setDeviceMetricsOverride",
                 {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
        self.console_errors: list[str] = []
        self.alerts: list[str] = []

    def cmd(self, method: str, params: dict | None = None, timeout: float = 60.0) -> dict:
        """A command in this tab's session."""
        return self.b.call(method, params, self.session, timeout)

    def pump(self) -> None:
        """Handle the events so far: record console errors/exceptions, accept alert() dialogs."""
        while True:
            try:
                ev = self.b.events.get_nowait()
            except queue.Empty:
                return
            if ev.get("sessionId") != self.session:
                continue
            method, params = ev.get("method"), ev.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = params.get("args", [])
                self.console_errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                self.console_errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
            elif method == "Page.javascriptDialogOpening":
                self.alerts.append(f"{params.get('type')}: {params.get('message')}")
                self.cmd("Page.handleJavaScriptDialog", {"accept": True})

    def eval(self, expression: str) -> Any:
        """The value of ``expression`` in the page (awaited when it is a promise)."""
        res = self.cmd("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        self.pump()
        if "exceptionDetails" in res:
            raise BrowserError(f"page script failed: {res['exceptionDetails'].get('text')}")
        return res["result"].get("value")

    def mouse(self, kind: str, x: float, y: float, button: str = "none") -> None:
        """One mouse event at (x, y) in CSS pixels."""
        params = {"type": kind, "x": x, "y": y, "button": button, "clickCount": 1 if button != "none" else 0}
        self.cmd("Input.dispatchMouseEvent", params)

    def screenshot(self, out: Path) -> int:
        """Save a PNG of the viewport; its size in bytes."""
        data = base64.b64decode(self.cmd("Page.captureScreenshot", {"format": "png"}, timeout=120)["data"])
        out.write_bytes(data)
        return len(data)

    def close(self) -> None:
        """Close the tab."""
        self.b.call("Target.closeTarget", {"targetId": self.target})


def serve_files(paths: list[Path]) -> tuple[ThreadingHTTPServer, dict[Path, str], Path]:
    """Serve copies of ``paths`` on 127.0.0.1 (ephemeral port) with CORS, so the Navigator may
    fetch them: the server, each path's URL, and the folder of copies."""
    root = Path(tempfile.mkdtemp(prefix="navcheck-layers-"))
    urls = {}
    for i, path in enumerate(paths):
        name = f"{i}-{path.name}"
        shutil.copyfile(path, root / name)
        urls[path] = name

    class Handler(SimpleHTTPRequestHandler):
        def end_headers(self) -> None:
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            super().end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    return server, {p: base + quote(n) for p, n in urls.items()}, root


def hex_to_rgb(color: str) -> str:
    """``#31a354`` as the browser's computed ``rgb(49, 163, 84)``."""
    c = color.lstrip("#")
    if len(c) == 3:
        c = "".join(ch * 2 for ch in c)
    r, g, b = (int(c[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


@dataclass
class Report:
    """What the Navigator showed for one layer, and the checks that failed."""

    layer: str
    lines: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def say(self, text: str) -> None:
        self.lines.append(text)

    def fail(self, text: str) -> None:
        self.failures.append(text)
        self.lines.append("FAIL " + text)


def wait_for_layer(page: Page, name: str, timeout: float) -> dict:
    """Poll until a tab titled ``name`` shows a rendered matrix whose cell count stopped changing."""
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    state: dict = {}
    while time.monotonic() < deadline:
        state = page.eval(PAGE_STATE_JS)
        count = len(state["cells"])
        if name in state["tabs"] and count:
            stable = stable + 1 if count == last else 0
            if stable >= 2:
                return state
        if state["dialogs"] and not count:
            return state  # a blocking dialog: report it rather than wait it out
        last = count
        time.sleep(1.0)
    return state


def open_by_upload(page: Page, navigator_url: str, layer: Path, timeout: float) -> None:
    """Load the Navigator, then give the layer file to its hidden ``#uploader`` input."""
    page.cmd("Page.navigate", {"url": navigator_url})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not page.eval("!!document.getElementById('uploader')"):
        time.sleep(1.0)
    doc = page.cmd("DOM.getDocument", {"depth": 0})
    node = page.cmd("DOM.querySelector", {"nodeId": doc["root"]["nodeId"], "selector": "#uploader"})["nodeId"]
    if not node:
        raise BrowserError("the Navigator page has no #uploader input")
    page.cmd("DOM.setFileInputFiles", {"nodeId": node, "files": [str(layer.resolve())]})


def cell_center(page: Page, index: int) -> tuple[float, float] | None:
    """Scroll the ``index``-th cell (in PAGE_STATE_JS's order) into view; a point on it that no
    other element covers, or None when it is not drawn."""
    js = """
    ((index, scroll) => {
      const cells = [...document.querySelectorAll('table.matrix.side > tbody > tr > td.tactic')]
        .flatMap((col) => [...col.querySelectorAll('.technique-cell')]);
      const cell = cells[index];
      if (!cell || cell.closest('.subtechniques.hidden')) return null;
      const target = cell.firstElementChild;
      if (scroll) target.scrollIntoView({block: 'center', inline: 'center', behavior: 'instant'});
      const r = target.getBoundingClientRect();
      const x = r.left + Math.min(r.width / 2, 40), y = r.top + r.height / 2;
      return target.contains(document.elementFromPoint(x, y)) ? [x, y] : 'covered';
    })"""
    call = f"{js}({index}, %s)"
    # Scroll once, then wait for the point to settle: scrolling re-lays out the sticky headers.
    last = page.eval(call % "true")
    for _ in range(8):
        time.sleep(0.3)
        pos = page.eval(call % "false")
        if pos is None:
            return None
        if pos != "covered" and pos == last:
            return tuple(pos)
        last = pos
    return None


TOOLTIP_JS = ("(() => { const t = document.querySelector('app-tooltip .tooltip');"
              " return t ? t.innerText.replace(/\\s+/g, ' ').trim() : null; })()")


def tooltip_text(page: Page, tid: str, x: float, y: float) -> str:
    """Hover at (x, y) and read the tooltip the Navigator shows there for ``tid``."""
    page.mouse("mouseMoved", 1, 1)
    for _ in range(10):
        if page.eval(TOOLTIP_JS) is None:
            break
        time.sleep(0.2)
    page.mouse("mouseMoved", x, y)
    found = ""
    for _ in range(15):
        found = page.eval(TOOLTIP_JS) or ""
        if f"({tid})" in found:
            return found
        time.sleep(0.3)
    return found


def context_links(page: Page, x: float, y: float) -> tuple[list[str], str | None]:
    """Right-click at (x, y): the link labels of the context menu, and the URL its first opens."""
    page.mouse("mouseMoved", x, y)
    page.mouse("mousePressed", x, y, "right")
    page.mouse("mouseReleased", x, y, "right")
    labels: list[str] = []
    for _ in range(15):
        labels = page.eval("[...document.querySelectorAll('app-contextmenu .link-container .contextMenu-button')]"
                           ".map((b) => b.textContent.trim())")
        if labels:
            break
        time.sleep(0.3)
    opened = None
    if labels:
        # window.open is replaced so the check sees the URL without leaving the page.
        opened = page.eval("""(() => { let got = null; const real = window.open;
            window.open = (u) => { got = new URL(u, location.href).href; return null; };
            document.querySelector('app-contextmenu .link-container .contextMenu-button').click();
            window.open = real; return got; })()""")
    page.eval("(() => { const c = document.querySelector('app-contextmenu .cover'); if (c) c.click(); })()")
    for _ in range(10):
        if not page.eval("!!document.querySelector('app-contextmenu')"):
            break
        time.sleep(0.2)
    return labels, opened


def link_status(url: str, opened: str | None) -> str:
    """What following a link gives: the HTTP status for a loopback URL (nothing else is fetched),
    and a note when the layer's URL is relative, so the Navigator resolves it against itself."""
    note = "(relative in the layer: resolved against the Navigator)" if "://" not in url else ""
    if opened and urlsplit(opened).hostname in ("127.0.0.1", "localhost", "::1"):
        try:
            with urlopen(opened, timeout=10) as resp:  # noqa: S310 - loopback only, checked above
                note += f" HTTP {resp.status}"
        except HTTPError as exc:
            note += f" HTTP {exc.code}"
        except OSError as exc:
            note += f" unreachable ({exc})"
    return note.strip()


def check_layer(browser: Chromium, args: argparse.Namespace, layer_path: Path, layer_url: str) -> Report:
    """Open one layer and compare what the Navigator shows with the layer file."""
    layer = json.loads(layer_path.read_text())
    report = Report(str(layer_path))
    page = Page(browser, (args.width, args.height))
    try:
        how = "upload" if args.upload else "layerURL"
        if args.upload:
            open_by_upload(page, args.navigator_url, layer_path, args.timeout)
        else:
            page.cmd("Page.navigate", {"url": f"{args.navigator_url}#layerURL={quote(layer_url, safe='')}"})
        state = wait_for_layer(page, layer["name"], args.timeout)
        report.say(f"opened by {how}; tabs: {state.get('tabs')}")
        _check_messages(report, page, state)
        if layer["name"] not in state.get("tabs", []):
            report.fail(f"no layer tab named {layer['name']!r}")
            return report
        resolve_ids(state["cells"])
        layer["techniques"] = per_tactic(layer["techniques"], state["cells"])
        _check_cells(report, layer, state)
        _check_popups(report, page, layer, state, args.samples)
        _check_legend(report, page, layer)
        if args.screenshots:
            args.screenshots.mkdir(parents=True, exist_ok=True)
            # Hovering scrolled the matrix's own scroll container: scroll everything back.
            page.eval("window.scrollTo(0, 0); document.querySelectorAll('*').forEach((e) => {"
                      " if (e.scrollTop || e.scrollLeft) { e.scrollTop = 0; e.scrollLeft = 0; } })")
            page.mouse("mouseMoved", 1, 1)
            time.sleep(1.0)
            out = args.screenshots / f"navigator-{layer_path.stem}.png"
            report.say(f"screenshot {out} ({page.screenshot(out) // 1024} KB)")
            _menu_screenshot(report, page, layer, state, args.screenshots / f"navigator-{layer_path.stem}-menu.png")
        page.pump()
        errors = [e for e in page.console_errors if e]
        report.say(f"console errors: {len(errors)}")
        for e in errors[:10]:
            report.say(f"  console: {e[:300]}")
        if errors:
            report.fail(f"{len(errors)} console error(s) while opening the layer")
        if page.alerts:
            report.fail(f"alert(s): {page.alerts}")
    finally:
        page.close()
    return report


def resolve_ids(cells: list[dict]) -> None:
    """Give each cell its ATT&CK ``id`` (from the label, or by name when IDs are hidden: a
    sub-technique by its parent's name and its own) and its ``index`` for cell_center."""
    by_name: dict[tuple[str, str], str] = {}
    for tech in _attack_data()["techniques"]:
        by_name[("", tech["name"])] = tech["id"]
        for sub in tech.get("subtechniques", []):
            by_name[(tech["name"], sub["name"])] = sub["id"]
    pattern = re.compile(r"^(T\d{4}(?:\.\d{3})?)")
    for i, cell in enumerate(cells):
        cell["index"] = i
        found = pattern.match(cell["label"])
        if found:
            cell["id"] = found.group(1)
            continue
        parent = pattern.sub("", cell["parent"]).strip()
        cell["id"] = by_name.get((parent, cell["label"]), cell["label"])


def per_tactic(entries: list[dict], cells: list[dict]) -> list[dict]:
    """The entries with one tactic each: an entry without ``tactic`` applies to the technique in
    every tactic, so it stands for each column the Navigator draws it in (or one unnamed column
    when it draws none, so the check reports it missing)."""
    out = []
    for entry in entries:
        if entry.get("tactic"):
            out.append(entry)
            continue
        columns = sorted({c["tactic"] for c in cells if c["id"] == entry["techniqueID"]}) or [""]
        out.extend({**entry, "tactic": column} for column in columns)
    return out


def _menu_screenshot(report: Report, page: Page, layer: dict, state: dict, out: Path) -> None:
    # The first drawn entry with links: its tooltip (score, comment) and context menu (links) in one picture.
    tactic_names = {t["shortname"]: t["name"] for t in _attack_tactics()}
    shown = {(c["id"], c["tactic"]): c["index"] for c in state["cells"] if c["shown"]}
    entry = next((e for e in layer["techniques"] if e.get("links") and e.get("enabled", True)
                  and (e["techniqueID"], tactic_names.get(e["tactic"], e["tactic"])) in shown), None)
    if entry is None:
        return
    pos = cell_center(page, shown[(entry["techniqueID"], tactic_names.get(entry["tactic"], entry["tactic"]))])
    if pos is None:
        return
    page.mouse("mouseMoved", *pos)
    page.mouse("mousePressed", *pos, "right")
    page.mouse("mouseReleased", *pos, "right")
    time.sleep(1.0)
    report.say(f"screenshot {out} ({page.screenshot(out) // 1024} KB): context menu of {entry['techniqueID']}")
    page.eval("(() => { const c = document.querySelector('app-contextmenu .cover'); if (c) c.click(); })()")


def _check_messages(report: Report, page: Page, state: dict) -> None:
    for text in state.get("dialogs", []):
        report.fail(f"dialog: {text[:300]}")
    for text in state.get("snacks", []):
        report.fail(f"snack-bar: {text[:300]}")
    if not state.get("dialogs") and not state.get("snacks"):
        report.say("no dialog, no snack-bar")
    report.say(f"tactic columns: {len(state.get('heads', []))}")


def _check_legend(report: Report, page: Page, layer: dict) -> None:
    # The legend panel is collapsed at first; open it (it stays open for the screenshot).
    page.eval("(() => { const bar = document.querySelector('.legendBar'); if (bar && !document.querySelector('.legend'))"
              " bar.click(); })()")
    time.sleep(0.5)
    items = page.eval("[...document.querySelectorAll('.legend .item')].map((i) => ["
                      "i.querySelector('mat-form-field input').value, getComputedStyle(i.querySelector('input'))"
                      ".backgroundColor])")
    want = [[i["label"], hex_to_rgb(i["color"])] for i in layer.get("legendItems", [])]
    report.say(f"legend: {items}")
    if items != want:
        report.fail(f"legend shows {items}, layer has {want}")


def _check_cells(report: Report, layer: dict, state: dict) -> None:
    tactic_names = {t["shortname"]: t["name"] for t in _attack_tactics()}
    cells = {(c["id"], c["tactic"]): c for c in state["cells"]}
    counts = {"colour ok": 0, "colour wrong": 0, "missing": 0, "disabled hidden": 0, "disabled shown": 0}
    for entry in layer["techniques"]:
        key = (entry["techniqueID"], tactic_names.get(entry["tactic"], entry["tactic"]))
        cell = cells.get(key)
        if entry.get("enabled", True) is False and layer.get("hideDisabled"):
            # A disabled entry of a hideDisabled layer must not be drawn (a parent of an enabled
            # sub-technique still is, greyed).
            subs_enabled = any(e["techniqueID"].startswith(key[0] + ".") and e.get("enabled", True)
                               and e["tactic"] == entry["tactic"] for e in layer["techniques"])
            if cell is None or subs_enabled:
                counts["disabled hidden"] += 1
            else:
                counts["disabled shown"] += 1
                report.fail(f"{key[0]} in {key[1]}: disabled in a hideDisabled layer, still drawn")
            continue
        if cell is None:
            counts["missing"] += 1
            report.fail(f"{key[0]} in {key[1]}: no cell in the matrix")
            continue
        want = hex_to_rgb(entry["color"]) if entry.get("color") else None
        if want and cell["background"] != want:
            counts["colour wrong"] += 1
            report.fail(f"{key[0]} in {key[1]}: background {cell['background']}, layer colour {want}")
        else:
            counts["colour ok"] += 1
        if "underlined" not in cell["classes"] and (entry.get("comment") or entry.get("links")):
            report.fail(f"{key[0]} in {key[1]}: annotated in the layer, not underlined in the matrix")
    report.say(f"technique entries: {len(layer['techniques'])}; cells drawn: {len(state['cells'])}; {counts}")
    # Which parents show their sub-techniques, per tactic column, against the layer's showSubtechniques.
    has_subs = {(c["id"].split(".")[0], c["tactic"]) for c in state["cells"] if c["sub"]}
    opened = {(c["id"].split(".")[0], c["tactic"]) for c in state["cells"] if c["sub"] and c["shown"]}
    wanted = {(e["techniqueID"], tactic_names.get(e["tactic"], e["tactic"])) for e in layer["techniques"]
              if e.get("showSubtechniques")} & has_subs
    report.say(f"parents with sub-techniques drawn: {len(has_subs)}; expanded: {len(opened)}; "
               f"layer expands: {sorted(f'{i} ({t})' for i, t in wanted)}")
    if opened - wanted:
        report.fail(f"expanded though the layer keeps them collapsed: {sorted(opened - wanted)}")
    if wanted - opened:
        report.fail(f"collapsed though the layer expands them: {sorted(wanted - opened)}")


def _check_popups(report: Report, page: Page, layer: dict, state: dict, samples: int) -> None:
    tactic_names = {t["shortname"]: t["name"] for t in _attack_tactics()}
    shown = {(c["id"], c["tactic"]): c["index"] for c in state["cells"] if c["shown"]}
    picked: dict[int, list[dict]] = {}
    seen: set[str] = set()
    for entry in layer["techniques"]:
        key = (entry["techniqueID"], tactic_names.get(entry["tactic"], entry["tactic"]))
        if entry.get("enabled", True) is False or key not in shown or key[0] in seen:
            continue
        if len(picked.setdefault(entry.get("score", -1), [])) < samples:
            picked[entry.get("score", -1)].append(entry)
            seen.add(key[0])
    checked = 0
    for entries in picked.values():
        for entry in entries:
            tactic = tactic_names.get(entry["tactic"], entry["tactic"])
            page.mouse("mouseMoved", 1, 1)  # the last tooltip may cover this cell
            pos = cell_center(page, shown[(entry["techniqueID"], tactic)])
            if pos is None:
                report.say(f"{entry['techniqueID']} ({tactic}): could not point at its cell; not hovered")
                continue
            tip = tooltip_text(page, entry["techniqueID"], *pos)
            if f"({entry['techniqueID']})" not in tip:
                pos = cell_center(page, shown[(entry["techniqueID"], tactic)]) or pos
                tip = tooltip_text(page, entry["techniqueID"], *pos)
            checked += 1
            want = [f"({entry['techniqueID']})"]
            want += [f"Score: {entry['score']}"] if "score" in entry else []
            want += [f"Comment: {entry['comment']}"] if entry.get("comment") else []
            want += [f"{m['name']}: {m['value']}" for m in entry.get("metadata", [])]
            missing = [w for w in want if w not in tip]
            if missing:
                report.fail(f"{entry['techniqueID']} tooltip lacks {missing}: {tip[:200]!r}")
            if entry.get("links"):
                labels, opened = context_links(page, *pos)
                want_labels = [link["label"] for link in entry["links"] if "label" in link]
                if labels != want_labels:
                    report.fail(f"{entry['techniqueID']} context-menu links {labels}, layer {want_labels}")
                else:
                    report.say(f"{entry['techniqueID']} ({tactic}): tooltip {tip[:160]!r}; links {labels}; "
                               f"first opens {opened} {link_status(entry['links'][0]['url'], opened)}")
            else:
                report.say(f"{entry['techniqueID']} ({tactic}): tooltip {tip[:160]!r}")
    report.say(f"tooltips checked: {checked}")


@functools.cache
def _attack_data() -> dict:
    # Tactic and technique names as the Navigator shows them, from our ATT&CK data (derived from
    # the same STIX bundle the Navigator is given).
    path = Path(__file__).resolve().parents[1] / "src/tokentrail/content/attack/enterprise-attack.json"
    return json.loads(path.read_text())


def _attack_tactics() -> list[dict]:
    return _attack_data()["tactics"]


def main(argv: list[str] | None = None) -> int:
    """Check each layer; print the findings; 0 when all passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layers", nargs="+", type=Path, metavar="LAYER.json")
    parser.add_argument("--navigator-url", required=True, help="the served Navigator, e.g. http://127.0.0.1:8000/")
    parser.add_argument("--upload", action="store_true", help="open through the file input, not #layerURL=")
    parser.add_argument("--screenshots", type=Path, help="write navigator-<layer>.png here")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for a layer to render")
    parser.add_argument("--samples", type=int, default=4, help="tooltips/menus checked per score value")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)
    for path in args.layers:
        if not path.is_file():
            print(f"error: {path}: no such file", file=sys.stderr)
            return 2
    if not Path(args.chromium).exists():
        print(f"error: no Chromium at {args.chromium} (Debian: apt-get install -y chromium)", file=sys.stderr)
        return 2
    browser = Chromium(args.chromium, (args.width, args.height))
    server, urls, served = serve_files(args.layers)
    failed = 0
    try:
        for path in args.layers:
            print(f"== {path}")
            try:
                report = check_layer(browser, args, path, urls[path])
            except BrowserError as exc:
                print(f"error: {path}: {exc}", file=sys.stderr)
                return 2
            for line in report.lines:
                print("  " + line)
            print(f"  {'PASS' if not report.failures else 'FAIL'}: {len(report.failures)} failed check(s)")
            failed += bool(report.failures)
    finally:
        server.shutdown()
        browser.close()
        shutil.rmtree(served, ignore_errors=True)
    print(f"{len(args.layers) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
