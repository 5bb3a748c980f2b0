"""Reads a data set out of an installed-or-extracted R package without R.

An R package's `data/` holds a lazy-load database: `Rdata.rdx` (an RDS index of name →
(offset, length)) and `Rdata.rdb` (the serialized objects, each chunk compressed on its own).
"""

from __future__ import annotations

import bz2
import lzma
import struct
import warnings
import zlib
from pathlib import Path
from typing import Any

import rdata

from budgetml.data.debian import package_dir
from budgetml.errors import TaskError


def read_r_dataset(data_dir: Path, name: str) -> Any:
    """The R object `name` from the lazy-load database in `data_dir`, converted to Python.

    Data frames become pandas DataFrames (factors as categoricals), vectors numpy arrays,
    named lists dicts.
    """
    index = _read_index(data_dir)
    if name not in index:
        known = ", ".join(sorted(index)[:20])
        raise TaskError(f"{data_dir} has no R data set {name!r} (it has {known}, ...)")
    offset, length = index[name]
    with (data_dir / "Rdata.rdb").open("rb") as database:
        database.seek(offset)
        chunk = database.read(length)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata warns that a bare chunk has no file header
        parsed = rdata.parser.parse_data(_decompress(chunk), extension=".rds")
        return rdata.conversion.convert(parsed)


def _read_index(data_dir: Path) -> dict[str, tuple[int, int]]:
    rdx = data_dir / "Rdata.rdx"
    if not rdx.is_file():
        raise TaskError(f"{data_dir} holds no R lazy-load database (Rdata.rdx is missing)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        index = rdata.conversion.convert(rdata.parser.parse_file(rdx, extension=".rds"))
    return {str(k): (int(v[0]), int(v[1])) for k, v in index["variables"].items()}


def _decompress(chunk: bytes) -> bytes:
    """A chunk is a 4-byte big-endian length, then a type byte: Z = raw LZMA2, 2 = bzip2,
    1 = zlib; older databases have no type byte and are plain zlib."""
    (size,) = struct.unpack(">I", chunk[:4])
    kind, body = chunk[4:5], chunk[5:]
    if kind == b"Z":
        data = lzma.decompress(body, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])
    elif kind == b"2":
        data = bz2.decompress(body)
    elif kind == b"1":
        data = zlib.decompress(body)
    else:
        data = zlib.decompress(chunk[4:])
    return data[:size]


def load_r_dataset(deb_package: str, r_package: str, name: str) -> Any:
    """Data set `name` of R package `r_package`, shipped in Debian package `deb_package`."""
    tree = package_dir(deb_package)
    found = sorted(tree.glob(f"usr/lib/R/*/{r_package}/data"))
    if not found:
        raise TaskError(f"the Debian package {deb_package} has no R package {r_package} data")
    return read_r_dataset(found[0], name)
