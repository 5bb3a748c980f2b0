"""Debian packages as data: unpacked without dpkg, downloaded once, never installed."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from budgetml.data.debian import package_dir, unpack_deb
from budgetml.data.rpackage import load_r_dataset
from budgetml.errors import TaskError


def ar_member(name: str, body: bytes) -> bytes:
    header = f"{name + '/':<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(body):<10}`\n"
    return header.encode("ascii") + body + (b"\n" if len(body) % 2 else b"")


def fake_deb(path: Path, files: dict[str, bytes]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in files.items():
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    path.write_bytes(
        b"!<arch>\n"
        + ar_member("debian-binary", b"2.0\n")
        + ar_member("control.tar.gz", b"x")
        + ar_member("data.tar.gz", buffer.getvalue())
    )
    return path


pytestmark = pytest.mark.usefixtures("private_data_root")


def test_a_deb_is_unpacked_without_dpkg(tmp_path: Path) -> None:
    deb = fake_deb(tmp_path / "pkg.deb", {"usr/share/x/a.txt": b"hello"})
    unpack_deb(deb, tmp_path / "out")
    assert (tmp_path / "out/usr/share/x/a.txt").read_bytes() == b"hello"


def test_a_file_that_is_not_a_deb_is_refused_with_what_to_do(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.deb"
    bogus.write_bytes(b"<html>not found</html>")
    with pytest.raises(TaskError, match="not a Debian package .* delete it and retry"):
        unpack_deb(bogus, tmp_path / "out")


def test_a_deb_placed_by_hand_is_used_without_apt(private_data_root: Path) -> None:
    debs = private_data_root / "debs"
    debs.mkdir(parents=True)
    fake_deb(debs / "no-such-package_1.0_all.deb", {"data/x.csv": b"a,b\n"})
    tree = package_dir("no-such-package")
    assert (tree / "data/x.csv").read_bytes() == b"a,b\n"
    (debs / "no-such-package_1.0_all.deb").unlink()
    assert package_dir("no-such-package") == tree, "the unpacked tree is reused"


def test_an_unknown_package_is_a_one_line_error() -> None:
    with pytest.raises(TaskError, match="could not download the Debian package"):
        package_dir("budgetml-no-such-package")


def test_an_r_data_set_is_read_from_the_real_debian_package() -> None:
    titanic = load_r_dataset("r-cran-earth", "earth", "etitanic")
    assert titanic.shape == (1046, 6)
    assert list(titanic.columns) == ["pclass", "survived", "sex", "age", "sibsp", "parch"]


def test_an_unknown_r_data_set_names_the_ones_there() -> None:
    with pytest.raises(TaskError, match="no R data set 'nope' .*etitanic"):
        load_r_dataset("r-cran-earth", "earth", "nope")
