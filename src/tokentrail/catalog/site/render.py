"""Writing pages: the Jinja2 environment (every value escaped unless it is ``Markup``), the page
writer that gives each page its path back to the site's root, and the static files."""

from __future__ import annotations

import json
import shutil
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from tokentrail.catalog.site.paths import brief_page
from tokentrail.errors import TokenTrailError

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
STATIC_FILES = ("site.css", "site.js")


class SiteError(TokenTrailError):
    """A page or file of the site cannot be written."""


@cache
def environment() -> jinja2.Environment:
    """The templates' environment: autoescaped, strict about unknown names."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters["count"] = lambda n: f"{n:,}"
    env.filters["brief_page"] = brief_page
    return env


def json_script(data: Any) -> Markup:
    """``data`` as JSON that is safe inside a ``<script type="application/json">`` element: no
    ``<``, ``>`` or ``&`` appears in it (each is written as a JSON escape)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 - escaped above for the one context it is written in


class PageWriter:
    """Writes pages under ``out``; each template gets ``root``, the relative path to the site's
    root ("" or "../"), so links work from ``file://``."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.written = 0

    def page(self, path: str, template: str, **context: Any) -> None:
        """Render ``template`` to ``out/path``."""
        root = "../" * path.count("/")
        html = environment().get_template(template).render(root=root, page=path, **context)
        self.text(path, html)
        self.written += 1

    def text(self, path: str, text: str) -> None:
        """Write ``text`` (UTF-8) to ``out/path``, making folders as needed."""
        target = self.out / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise SiteError(f"cannot write: {exc.strerror or exc}", file=str(target)) from exc

    def static(self) -> None:
        """Copy the style sheet and script into ``out/static``."""
        folder = self.out / "static"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name in STATIC_FILES:
                shutil.copyfile(STATIC / name, folder / name)
        except OSError as exc:
            raise SiteError(f"cannot write: {exc.strerror or exc}", file=str(folder)) from exc
