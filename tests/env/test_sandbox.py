import logging
import os
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from budgetml.config import SandboxConfig
from budgetml.env import bubblewrap, sandbox
from budgetml.env.sandbox import Sandbox, SandboxPolicy
from budgetml.errors import ConfigError

BWRAP_WORKS = sys.platform == "linux" and bubblewrap.unusable_reason() is None
ISOLATIONS = [
    "process",
    pytest.param(
        "bubblewrap",
        marks=pytest.mark.skipif(not BWRAP_WORKS, reason="bubblewrap cannot run here"),
    ),
]


def make(tmp_path: Path, isolation: str, limit: int = 2_000, **settings: object) -> Sandbox:
    config = SandboxConfig.model_validate({"isolation": isolation, **settings})
    return Sandbox(tmp_path / "scratch", limit, SandboxPolicy.from_config(config))


def run(
    tmp_path: Path, code: str, isolation: str = "process", timeout: float = 20, **settings: object
) -> sandbox.ScriptResult:
    (tmp_path / "script.py").write_text(code)
    box = make(tmp_path, isolation, **settings)
    return box.run([sys.executable, "script.py"], tmp_path, timeout)


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_output_and_exit_code_are_returned(tmp_path: Path, isolation: str) -> None:
    code = "import sys\nprint('out')\nprint('err', file=sys.stderr)\nsys.exit(3)"
    result = run(tmp_path, code, isolation)
    assert result.exit_code == 3
    assert "out" in result.output and "err" in result.output
    assert not result.timed_out and result.reason is None


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_secrets_are_not_in_the_child_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolation: str
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    monkeypatch.setenv("MY_TOKEN", "tok-secret")
    code = "import os\nprint(sorted(os.environ))\nprint('HOME=' + os.environ['HOME'])"
    result = run(tmp_path, code, isolation)
    assert "OPENAI_API_KEY" not in result.output
    assert "MY_TOKEN" not in result.output
    assert "sk-secret-value" not in result.output
    home = "/tmp" if isolation == "bubblewrap" else str(tmp_path / "scratch")
    assert f"HOME={home}\n" in result.output


def heartbeat(new_session: bool) -> str:
    """A script whose child appends to beat.txt every 0.1 s for 4 s, optionally in a session of
    its own (out of the script's process group)."""
    child = (
        "import os, time\n" + ("os.setsid()\n" if new_session else "") + "for _ in range(40):\n"
        "    open('beat.txt', 'a').write('x')\n"
        "    time.sleep(0.1)\n"
    )
    return (
        "import subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}])\n"
        "time.sleep(1)\n"
    )


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_timeout_kills_the_whole_process_tree(tmp_path: Path, isolation: str) -> None:
    started = time.monotonic()
    result = run(tmp_path, heartbeat(False) + "time.sleep(60)\n", isolation, timeout=2)
    assert result.timed_out and result.exit_code is None
    assert result.reason == "killed: wall-clock timeout after 2 s"
    assert time.monotonic() - started < 15
    assert_stopped(tmp_path / "beat.txt")


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_background_child_is_killed_when_the_script_ends(tmp_path: Path, isolation: str) -> None:
    result = run(tmp_path, heartbeat(False), isolation)
    assert result.exit_code == 0
    assert_stopped(tmp_path / "beat.txt")


@pytest.mark.skipif(not BWRAP_WORKS, reason="bubblewrap cannot run here")
def test_under_bubblewrap_even_a_child_in_its_own_session_dies(tmp_path: Path) -> None:
    result = run(tmp_path, heartbeat(True), "bubblewrap")
    assert result.exit_code == 0
    assert_stopped(tmp_path / "beat.txt")


def test_process_isolation_cannot_stop_a_child_in_its_own_session(tmp_path: Path) -> None:
    """The documented gap of the fallback: only a PID namespace catches a session leader."""
    result = run(tmp_path, heartbeat(True), "process")
    assert result.exit_code == 0
    size = (tmp_path / "beat.txt").stat().st_size
    time.sleep(0.5)
    assert (tmp_path / "beat.txt").stat().st_size > size
    time.sleep(3.5)  # it ends by itself


def test_long_output_keeps_head_and_tail_and_says_what_was_cut(tmp_path: Path) -> None:
    (tmp_path / "script.py").write_text(
        "print('FIRST')\nfor i in range(200000):\n    print('x' * 50)\nprint('LAST')"
    )
    result = make(tmp_path, "process", 1_000).run([sys.executable, "script.py"], tmp_path, 20)
    assert result.output.startswith("FIRST")
    assert result.output.rstrip().endswith("LAST")
    assert "bytes of output cut from the middle" in result.output
    assert len(result.output) < 1_200


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_a_signal_is_a_negative_exit_code_with_its_name(tmp_path: Path, isolation: str) -> None:
    result = run(tmp_path, "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)", isolation)
    assert result.exit_code == -15
    assert result.reason == "killed by signal SIGTERM"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_memory_limit_stops_a_large_allocation(tmp_path: Path, isolation: str) -> None:
    result = run(tmp_path, "x = bytearray(2 * 1024**3)", isolation, memory_mb=512)
    assert result.exit_code == 1
    assert result.reason == "memory limit reached (512 MB): an allocation failed"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_file_size_limit_stops_a_large_file(tmp_path: Path, isolation: str) -> None:
    code = "with open('big.bin', 'wb') as f:\n    f.write(b'x' * (3 * 1024 * 1024))"
    result = run(tmp_path, code, isolation, file_size_mb=1)
    assert result.exit_code == 1
    assert result.reason == "file size limit reached (1 MB per file)"
    assert (tmp_path / "big.bin").stat().st_size <= 1024 * 1024


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_cpu_limit_stops_a_busy_loop(tmp_path: Path, isolation: str) -> None:
    result = run(tmp_path, "while True:\n    pass", isolation, cpu_seconds=1)
    assert result.exit_code == -24  # SIGXCPU
    assert result.reason == "killed: exceeded the CPU time limit (1 s)"


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_process_limit_stops_a_script_that_starts_too_many(
    tmp_path: Path, isolation: str
) -> None:
    if isolation == "process" and os.geteuid() == 0:
        pytest.skip("the kernel never limits root's processes; only bubblewrap contains them")
    code = (
        "import subprocess, sys\n"
        "children = [subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
        "            for _ in range(40)]\n"
    )
    result = run(tmp_path, code, isolation, max_processes=20)
    assert result.exit_code == 1
    assert result.reason == "process limit reached (20 processes and threads)"


@pytest.mark.skipif(not BWRAP_WORKS, reason="bubblewrap cannot run here")
def test_under_bubblewrap_numpy_imports_and_hidden_paths_are_empty(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("hunter2")
    shown = secret / "shown"
    shown.mkdir()
    (shown / "data.txt").write_text("visible")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "script.py").write_text(
        "import os, numpy\n"
        f"print('listing', os.listdir({str(secret)!r}))\n"
        f"print(open({str(shown / 'data.txt')!r}).read())\n"
        "print(numpy.arange(3).sum())\n"
        "open('made.txt', 'w').write('ok')\n"
    )
    policy = SandboxPolicy.from_config(SandboxConfig(), hidden=[secret], readable=[shown])
    result = Sandbox(tmp_path / "scratch", 2_000, policy).run(
        [sys.executable, "script.py"], tmp_path / "ws", 60
    )
    assert result.exit_code == 0, result.output
    assert "listing ['shown']" in result.output
    assert "visible" in result.output and "\n3\n" in result.output
    made = tmp_path / "ws" / "made.txt"
    assert made.read_text() == "ok"
    assert made.stat().st_uid == os.geteuid()


def test_the_mount_plan_hides_first_then_binds_back(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "workspace").mkdir(parents=True)
    view = bubblewrap.View(writable=(run_dir / "workspace",), hidden=(run_dir,))
    argv = bubblewrap.command(view, tmp_size_mb=64, switch_uid=False)
    hide = argv.index(str(run_dir))
    bind = argv.index("--bind")
    assert argv[hide - 1] == "--tmpfs" and hide < bind
    assert argv[bind + 1 : bind + 3] == [str(run_dir / "workspace")] * 2
    assert argv.index("--remount-ro") > bind
    assert "--unshare-net" in argv or "--unshare-all" in argv


def test_bubblewrap_required_but_missing_is_a_one_line_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ConfigError) as error:
        make(tmp_path, "bubblewrap")
    message = str(error.value)
    assert "\n" not in message
    assert "bwrap is not installed" in message and "apt-get install bubblewrap" in message


def test_auto_without_bubblewrap_warns_once_and_falls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sandbox, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="budgetml.env.sandbox"):
        first, second = make(tmp_path, "auto"), make(tmp_path, "auto")
    assert first.isolation == second.isolation == "process"
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "without the bubblewrap sandbox" in warnings[0]


@pytest.mark.parametrize(
    "setting", [{"memory_mb": 0}, {"max_processes": -1}, {"isolation": "docker"}]
)
def test_sandbox_settings_are_validated(setting: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SandboxConfig.model_validate(setting)


def assert_stopped(beat: Path) -> None:
    """The heartbeat file has stopped growing: its writer is dead."""
    assert beat.exists()
    size = beat.stat().st_size
    time.sleep(0.5)
    assert beat.stat().st_size == size


@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_python_in_a_scripts_own_commands_is_budgetmls_interpreter(
    tmp_path: Path, isolation: str
) -> None:
    code = (
        "import subprocess\n"
        "print(subprocess.run(['python', '-c', 'import sys; print(sys.prefix)'],"
        " capture_output=True, text=True).stdout)\n"
    )
    result = run(tmp_path, code, isolation)
    assert result.exit_code == 0, result.output
    assert sys.prefix in result.output
