"""Debian packages as data sources: download a `.deb` once, unpack it, never install it.

Installing the R data packages would pull in R itself; the data only needs the files.
A user without apt can drop the `.deb` files into `<data root>/debs/` by hand.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from budgetml.data.paths import data_root
from budgetml.errors import TaskError

_AR_MAGIC = b"!<arch>\n"


def package_dir(package: str) -> Path:
    """The unpacked file tree of Debian `package` (downloaded and unpacked on first use)."""
    target = data_root() / "debian" / package
    if (target / ".unpacked").is_file():
        return target
    deb = _find_or_download(package)
    partial = target.with_name(f"{package}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    unpack_deb(deb, partial)
    (partial / ".unpacked").write_text(deb.name + "\n", encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(partial, target)
    return target


def unpack_deb(deb: Path, destination: Path) -> None:
    """Extract the data member of a `.deb` (an ar archive) without dpkg."""
    blob = deb.read_bytes()
    if not blob.startswith(_AR_MAGIC):
        raise TaskError(f"{deb} is not a Debian package (no ar header); delete it and retry")
    position = len(_AR_MAGIC)
    while position + 60 <= len(blob):
        header = blob[position : position + 60]
        name = header[:16].decode("ascii").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = blob[position + 60 : position + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as archive:
                archive.extractall(destination, filter="data")
            return
        position += 60 + size + (size % 2)
    raise TaskError(f"{deb} has no data.tar member; delete it and retry")


def _find_or_download(package: str) -> Path:
    debs = data_root() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    if shutil.which("apt-get") is None:
        raise TaskError(
            f"the Debian package {package} is needed and apt-get is not available: download "
            f"{package}_*.deb from https://packages.debian.org/bookworm/{package} into {debs}"
        )
    with tempfile.TemporaryDirectory(dir=debs) as tmp:
        result = _apt_download(package, Path(tmp))
        if result.returncode != 0 and "Unable to locate package" in result.stderr:
            _apt_update(package)
            result = _apt_download(package, Path(tmp))
        downloaded = sorted(Path(tmp).glob(f"{package}_*.deb"))
        if result.returncode != 0 or not downloaded:
            why = result.stderr.strip().splitlines()[-1:] or ["no .deb file appeared"]
            raise TaskError(f"could not download the Debian package {package}: {why[0]}")
        final = debs / downloaded[0].name
        os.replace(downloaded[0], final)
    return final


def _apt_download(package: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["apt-get", "download", "-q", package],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )


def _apt_update(package: str) -> None:
    """apt's package lists are missing on a fresh machine; only root may fetch them."""
    if os.geteuid() != 0:
        raise TaskError(
            f"apt does not know the package {package}: run `sudo apt-get update` once, then retry"
        )
    result = subprocess.run(
        ["apt-get", "update", "-q"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        why = result.stderr.strip().splitlines()[-1:] or ["(no message)"]
        raise TaskError(f"`apt-get update` failed while looking for {package}: {why[0]}")
