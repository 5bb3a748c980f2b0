"""Just enough of a PNG decoder to count a screenshot's colours (8-bit RGB/RGBA, no interlace)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import numpy.typing as npt

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes) -> npt.NDArray[np.uint8]:
    """Pixels as an array of shape (height, width, channels)."""
    assert data.startswith(SIGNATURE), "not a PNG"
    position, idat = len(SIGNATURE), b""
    width = height = channels = 0
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        position += 12 + length
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, "unsupported PNG"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    rows = raw.reshape(height, 1 + width * channels)
    pixels = np.zeros((height, width * channels), dtype=np.uint8)
    previous = np.zeros(width * channels, dtype=np.uint8)
    for y in range(height):
        pixels[y] = _unfilter(int(rows[y, 0]), rows[y, 1:], previous, channels)
        previous = pixels[y]
    return pixels.reshape(height, width, channels)


def _unfilter(
    kind: int, line: npt.NDArray[np.uint8], up: npt.NDArray[np.uint8], bpp: int
) -> npt.NDArray[np.uint8]:
    if kind == 0:
        return line.copy()
    if kind == 2:
        return (line + up).astype(np.uint8)
    if kind == 1:  # Sub: a running sum per channel, modulo 256
        out = line.reshape(-1, bpp).cumsum(axis=0, dtype=np.uint8)
        return out.reshape(-1)
    out = np.zeros_like(line, dtype=np.int32)
    cur, above = line.astype(np.int32), up.astype(np.int32)
    for i in range(len(line)):
        left = out[i - bpp] if i >= bpp else 0
        upper_left = above[i - bpp] if i >= bpp else 0
        if kind == 3:
            predictor = (left + above[i]) // 2
        else:  # 4, Paeth
            p = left + above[i] - upper_left
            pa, pb, pc = abs(p - left), abs(p - above[i]), abs(p - upper_left)
            predictor = left if pa <= pb and pa <= pc else above[i] if pb <= pc else upper_left
        out[i] = (cur[i] + predictor) & 0xFF
    return out.astype(np.uint8)
