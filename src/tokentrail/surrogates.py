"""Lone surrogates: text no encoder accepts.

A JSON ``"\\ud800"`` escape with no partner decodes to a lone surrogate, a character UTF-8
cannot encode; one in a rule title would make every output fail. Front-ends replace them when
they load text (``json_safe``); writers do it when an encoder refuses a document. Shared by
every stage, so it sits beside ``errors``, outside the flow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD; other text is returned as it is."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def json_safe(value: Any) -> Any:
    """A copy of a JSON-like value whose strings (keys too) hold no lone surrogate."""
    if isinstance(value, str):
        return without_surrogates(value)
    if isinstance(value, Mapping):
        return {json_safe(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
