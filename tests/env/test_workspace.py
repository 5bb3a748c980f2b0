import os
from pathlib import Path

import pytest

from budgetml.env.workspace import Workspace, WorkspaceError


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.txt", "outside the workspace"),
        ("sub/../../outside.txt", "outside the workspace"),
        ("/etc/passwd", "absolute path"),
        ("", "empty"),
        ("a\x00b", "NUL"),
    ],
)
def test_resolve_refuses_paths_that_leave_the_workspace(
    workspace: Workspace, path: str, reason: str
) -> None:
    with pytest.raises(WorkspaceError, match=reason):
        workspace.resolve(path)


def test_resolve_refuses_a_symlink_pointing_outside(workspace: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("key")
    os.symlink(secret, workspace.root / "link.txt")
    os.symlink(tmp_path, workspace.root / "dirlink")
    with pytest.raises(WorkspaceError, match="points outside"):
        workspace.resolve("link.txt")
    with pytest.raises(WorkspaceError, match="points outside"):
        workspace.resolve("dirlink/secret.txt")


def test_resolve_accepts_nested_and_dot_paths(workspace: Workspace) -> None:
    assert workspace.resolve(".") == workspace.root
    assert workspace.resolve("./a/b.txt") == workspace.root / "a" / "b.txt"


def test_read_only_files_cannot_be_written(workspace: Workspace) -> None:
    with pytest.raises(WorkspaceError, match="read-only"):
        workspace.write_text(workspace.resolve("data.csv"), "overwritten")
    assert (workspace.root / "data.csv").read_text() == "a,b\n1,2\n"


def test_undo_walks_back_through_every_write(workspace: Workspace) -> None:
    script = workspace.resolve("train.py")
    workspace.write_text(script, "v2\n")
    workspace.write_text(script, "v3\n")
    workspace.write_text(script, "v4\n", append=True)
    assert script.read_text() == "v3\nv4\n"
    workspace.undo(script)
    assert script.read_text() == "v3\n"
    workspace.undo(script)
    assert script.read_text() == "v2\n"
    workspace.undo(script)
    assert script.read_text() == "print('hello')\n"
    with pytest.raises(WorkspaceError, match="no change"):
        workspace.undo(script)


def test_undo_of_a_created_file_removes_it(workspace: Workspace) -> None:
    new = workspace.resolve("new.py")
    workspace.write_text(new, "x = 1\n")
    assert "did not exist" in workspace.undo(new)
    assert not new.exists()


def test_backups_live_outside_the_workspace(workspace: Workspace) -> None:
    workspace.write_text(workspace.resolve("train.py"), "changed\n")
    assert sorted(p.name for p in workspace.root.iterdir()) == ["data.csv", "train.py"]
    assert any(workspace.backup_dir.iterdir())


def test_a_write_that_changes_nothing_is_not_an_undo_step(workspace: Workspace) -> None:
    script = workspace.resolve("train.py")
    assert workspace.write_text(script, "broken\n")
    assert not workspace.write_text(script, "broken\n")  # an edit that returned the file as is
    assert not workspace.write_text(script, "", append=True)
    workspace.copy(script, script)
    workspace.undo(script)
    assert script.read_text() == "print('hello')\n"  # past the no-ops to the real change
    with pytest.raises(WorkspaceError, match="no change"):
        workspace.undo(script)


def test_a_copy_onto_an_identical_file_is_not_an_undo_step(workspace: Workspace) -> None:
    script, copy = workspace.resolve("train.py"), workspace.resolve("copy.py")
    workspace.copy(script, copy)
    workspace.copy(script, copy)
    assert "did not exist" in workspace.undo(copy)
    assert not copy.exists()
