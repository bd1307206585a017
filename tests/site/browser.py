"""Debian's Chromium, headless, driven from the command line (no Playwright, no npm): the DOM
after the page's scripts ran (``--dump-dom``) and screenshots (``--screenshot``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
from png import Image, read_png

NAMES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 120


def chromium() -> str:
    """The browser's path, or skip the test saying how to get one."""
    for name in NAMES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no headless Chromium on PATH (Debian: apt-get install -y chromium; .ci/run installs it)")


def _run(args: list[str]) -> subprocess.CompletedProcess:
    # A profile of its own per run: parallel test workers must not share Chromium's profile lock.
    with tempfile.TemporaryDirectory(prefix="tt-chromium-") as profile:
        return subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--hide-scrollbars", "--allow-file-access-from-files", f"--user-data-dir={profile}", *args],
            capture_output=True, timeout=TIMEOUT, check=False)


def dump_dom(url: str) -> str:
    """The page's DOM as HTML once loaded and its scripts have run."""
    proc = _run(["--virtual-time-budget=3000", "--dump-dom", url])
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    return proc.stdout.decode("utf-8")


def screenshot(url: str, out: Path, size: tuple[int, int] = (1024, 768)) -> Image:
    """A screenshot of the page at ``size``, decoded."""
    proc = _run([f"--window-size={size[0]},{size[1]}", "--virtual-time-budget=3000", f"--screenshot={out}", url])
    assert proc.returncode == 0 and out.exists(), proc.stderr.decode(errors="replace")[-2000:]
    return read_png(out.read_bytes())


class Elements(HTMLParser):
    """The elements of a page: (tag, attributes, text inside), with nesting kept for text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str], list[str]]] = []
        self._open: list[int] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, {k: v or "" for k, v in attrs}, []))
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._open.append(len(self.found) - 1)

    def handle_endtag(self, tag):
        while self._open:
            index = self._open.pop()
            if self.found[index][0] == tag:
                break

    def handle_data(self, data):
        for index in self._open:
            self.found[index][2].append(data)

    def all(self, tag: str, **attrs: str) -> list[tuple[dict[str, str], str]]:
        """(attributes, text) of every ``tag`` whose attributes include ``attrs``."""
        return [(a, "".join(t)) for name, a, t in self.found
                if name == tag and all(a.get(k.rstrip("_")) == v for k, v in attrs.items())]
