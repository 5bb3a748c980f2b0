"""Shared fixtures: task folders and workspaces built from real files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from budgetml.env.actions import ActionContext
from budgetml.env.sandbox import Sandbox
from budgetml.env.workspace import Workspace

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def mlab_task(tmp_path: Path) -> Path:
    """A copy of an MLAgentBench-format task folder that is not ours (no task.yaml)."""
    target = tmp_path / "mlab-style"
    shutil.copytree(FIXTURES / "tasks" / "mlab-style", target)
    return target


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    root = tmp_path / "run" / "workspace"
    root.mkdir(parents=True)
    (root / "train.py").write_text("print('hello')\n")
    (root / "data.csv").write_text("a,b\n1,2\n")
    return Workspace(root, tmp_path / "run" / "backups", read_only=("data.csv",))


@pytest.fixture
def context(workspace: Workspace, tmp_path: Path) -> ActionContext:
    import sys

    sandbox = Sandbox(tmp_path / "run" / "scratch", output_limit_chars=2_000)
    return ActionContext(workspace, sandbox, sys.executable, script_timeout_s=20)


@pytest.fixture
def private_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root of the test's own (prepared task data, downloaded .debs, projects)."""
    monkeypatch.setenv("BUDGETML_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight llama GGUF of about 0.5 MB (see tests/llm/tiny_gguf.py); imported here,
    not at the top, so other tests do not need the gguf package."""
    from tests.llm.tiny_gguf import write_tiny_gguf

    return write_tiny_gguf(tmp_path_factory.mktemp("gguf") / "tiny.gguf")
