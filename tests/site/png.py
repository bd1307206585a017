"""A small PNG reader for the browser tests: enough of the format to decode Chromium's
screenshots (8-bit greyscale, RGB or RGBA, not interlaced) and measure how much they vary."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}


@dataclass(frozen=True)
class Image:
    """Decoded pixels: ``rows`` of bytes, ``channels`` bytes per pixel."""

    width: int
    height: int
    channels: int
    rows: tuple[bytes, ...]

    def grey(self, x: int, y: int) -> int:
        """The pixel's brightness, 0-255 (the mean of its colour channels)."""
        row, c = self.rows[y], self.channels
        colours = 1 if c <= 2 else 3
        return sum(row[x * c:x * c + colours]) // colours

    def spread(self, box: tuple[int, int, int, int] | None = None, step: int = 2) -> tuple[float, int]:
        """(variance of brightness, distinct brightness levels) over ``box`` (x0, y0, x1, y1)."""
        x0, y0, x1, y1 = box or (0, 0, self.width, self.height)
        values = [self.grey(x, y) for y in range(y0, min(y1, self.height), step)
                  for x in range(x0, min(x1, self.width), step)]
        mean = sum(values) / len(values)
        return sum((v - mean) ** 2 for v in values) / len(values), len(set(values))


def read_png(data: bytes) -> Image:
    """Decode ``data``; raises ValueError for what this reader does not handle."""
    if not data.startswith(_SIGNATURE):
        raise ValueError("not a PNG file")
    pos, idat, header = len(_SIGNATURE), [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if header is None:
        raise ValueError("no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}, interlace {interlace}")
    channels = _CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, previous = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        _unfilter(kind, line, previous, channels)
        previous = bytes(line)
        rows.append(previous)
    return Image(width, height, channels, tuple(rows))


def _unfilter(kind: int, line: bytearray, up: bytes, bpp: int) -> None:
    n = len(line)
    if kind == 0:
        return
    if kind == 1:
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:
        for i in range(n):
            line[i] = (line[i] + up[i]) & 0xFF
    elif kind == 3:
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + up[i]) >> 1)) & 0xFF
    elif kind == 4:
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b, c = up[i], up[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    else:
        raise ValueError(f"unknown PNG filter type {kind}")
