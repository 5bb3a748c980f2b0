import os
import sys
import time
from pathlib import Path

import pytest

from budgetml.env.sandbox import Sandbox


def _run(tmp_path: Path, code: str, timeout: float = 20, limit: int = 2_000):
    script = tmp_path / "script.py"
    script.write_text(code)
    return Sandbox(tmp_path / "scratch", limit).run(
        [sys.executable, "script.py"], tmp_path, timeout
    )


def test_output_and_exit_code_are_returned(tmp_path: Path) -> None:
    result = _run(tmp_path, "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)")
    assert result.exit_code == 3
    assert "out" in result.output and "err" in result.output
    assert not result.timed_out


def test_secrets_are_not_in_the_child_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("MY_TOKEN", "tok-secret")
    result = _run(tmp_path, "import os\nprint(sorted(os.environ))\nprint(os.environ['HOME'])")
    assert "OPENAI_API_KEY" not in result.output
    assert "MY_TOKEN" not in result.output
    assert "sk-secret-value" not in result.output
    assert str(tmp_path / "scratch") in result.output


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"
    code = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    result = _run(tmp_path, code, timeout=2)
    assert result.timed_out and result.exit_code is None
    assert time.monotonic() - started < 15
    child_pid = int(marker.read_text())
    time.sleep(0.2)
    assert not _alive(child_pid)


def test_a_background_child_is_killed_when_the_script_ends(tmp_path: Path) -> None:
    marker = tmp_path / "daemon.pid"
    code = (
        "import subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
    )
    result = _run(tmp_path, code)
    assert result.exit_code == 0
    time.sleep(0.2)
    assert not _alive(int(marker.read_text()))


def test_long_output_keeps_head_and_tail_and_says_what_was_cut(tmp_path: Path) -> None:
    code = "print('FIRST')\nfor i in range(200000):\n    print('x' * 50)\nprint('LAST')"
    result = _run(tmp_path, code, limit=1_000)
    assert result.output.startswith("FIRST")
    assert result.output.rstrip().endswith("LAST")
    assert "bytes of output cut from the middle" in result.output
    assert len(result.output) < 1_200


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()
