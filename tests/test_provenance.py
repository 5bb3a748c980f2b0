"""A run's trace names the code that produced it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from budgetml.provenance import code_commit


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_commit_names_head_and_marks_uncommitted_changes(tmp_path: Path) -> None:
    package = tmp_path / "src" / "pkg"
    package.mkdir(parents=True)
    (package / "code.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert code_commit(package) == head
    (tmp_path / "elsewhere.txt").write_text("untracked, outside the package")
    assert code_commit(package) == head
    (package / "code.py").write_text("x = 2\n")
    assert code_commit(package) == f"{head}+dirty"


def test_an_installed_copy_outside_git_has_no_commit(tmp_path: Path) -> None:
    assert code_commit(tmp_path) is None
