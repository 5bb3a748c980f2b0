import shutil
import sys
from pathlib import Path

import pytest

from budgetml.env.sandbox import Sandbox
from budgetml.env.task import find_task, load_task
from budgetml.errors import TaskError

PYTHON = sys.executable


def sandbox(tmp_path: Path) -> Sandbox:
    return Sandbox(tmp_path / "scratch")


def test_a_folder_without_task_yaml_gets_defaults(mlab_task: Path) -> None:
    task = load_task(mlab_task)
    assert task.name == "mlab-style"
    assert task.spec.higher_is_better is True
    assert task.spec.baseline is None
    assert task.read_only == ("data.csv",)
    assert "validation accuracy" in task.research_problem


def test_speed_goals_are_lower_is_better(mlab_task: Path) -> None:
    (mlab_task / "scripts/research_problem.txt").write_text("Cut the runtime of train.py.")
    task = load_task(mlab_task)
    assert task.spec.higher_is_better is False
    assert task.spec.metric == "runtime"


def test_baseline_is_measured_by_running_the_starter_code(mlab_task: Path, tmp_path: Path) -> None:
    task = load_task(mlab_task)
    baseline = task.measure_baseline(sandbox(tmp_path), PYTHON, tmp_path / "run")
    assert baseline.value == pytest.approx(0.6)
    assert "running train.py" in baseline.source


def test_baseline_from_task_yaml_is_not_measured(mlab_task: Path, tmp_path: Path) -> None:
    (mlab_task / "task.yaml").write_text("name: t\nmetric: accuracy\nbaseline: 0.75\n")
    (mlab_task / "env/train.py").write_text("raise SystemExit('must not run')\n")
    baseline = load_task(mlab_task).measure_baseline(sandbox(tmp_path), PYTHON, tmp_path)
    assert (baseline.value, baseline.source) == (0.75, "task.yaml")


def test_a_failing_starter_gives_an_unknown_baseline_with_the_reason(
    mlab_task: Path, tmp_path: Path
) -> None:
    (mlab_task / "env/train.py").write_text("raise RuntimeError('CUDA not available')\n")
    baseline = load_task(mlab_task).measure_baseline(sandbox(tmp_path), PYTHON, tmp_path)
    assert baseline.value is None
    assert "train.py failed (exit code 1)" in baseline.source
    assert "CUDA not available" in baseline.source


def test_score_reads_the_workspace_and_reports_eval_errors(mlab_task: Path, tmp_path: Path) -> None:
    task = load_task(mlab_task)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    missing = task.score(workspace, sandbox(tmp_path), PYTHON)
    assert missing.value is None and "FileNotFoundError" in (missing.error or "")
    (workspace / "submission.csv").write_text("0.9\n")
    assert task.score(workspace, sandbox(tmp_path), PYTHON).value == pytest.approx(0.9)
    (workspace / "submission.csv").write_text("nan\n")
    assert "non-finite" in (task.score(workspace, sandbox(tmp_path), PYTHON).error or "")


def test_scoring_uses_a_private_copy_of_the_scripts(mlab_task: Path, tmp_path: Path) -> None:
    eval_file = mlab_task / "scripts/eval.py"
    eval_file.write_text(
        "def get_score(folder):\n    open(__file__, 'w').write('tampered')\n    return 1.0\n"
    )
    original = eval_file.read_text()
    task = load_task(mlab_task)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    assert task.score(workspace, sandbox(tmp_path), PYTHON).value == 1.0
    assert eval_file.read_text() == original


def test_builtin_tasks_are_found_by_name() -> None:
    task = find_task("vectorization")
    assert task.spec.higher_is_better is False
    assert (task.scripts_dir / "eval.py").is_file()


@pytest.mark.parametrize(
    ("remove", "message"),
    [
        ("scripts/research_problem.txt", "scripts/research_problem.txt is missing"),
        ("scripts/eval.py", "scripts/eval.py is missing"),
        ("env", "env is missing"),
    ],
)
def test_malformed_task_folders_are_named(mlab_task: Path, remove: str, message: str) -> None:
    import shutil

    target = mlab_task / remove
    shutil.rmtree(target) if target.is_dir() else target.unlink()
    with pytest.raises(TaskError, match=message):
        load_task(mlab_task)


def test_an_unknown_task_lists_the_builtins() -> None:
    with pytest.raises(TaskError, match="neither a folder nor a built-in task.*vectorization"):
        find_task("no-such-task")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("higher_is_better: maybe\n", "higher_is_better"),
        ("colour: red\n", "colour: unknown key"),
        ("script_timeout_s: -1\n", "script_timeout_s"),
        ("[1, 2\n", "not valid YAML"),
    ],
)
def test_bad_task_yaml_is_reported(mlab_task: Path, content: str, message: str) -> None:
    (mlab_task / "task.yaml").write_text(content)
    with pytest.raises(TaskError, match=message):
        load_task(mlab_task)


PREPARE = """import sys
from pathlib import Path
out = Path(sys.argv[1])
(out / "env/data").mkdir(parents=True)
(out / "env/data/train.csv").write_text("x,y\\n1,0\\n")
(out / "private").mkdir()
(out / "private/labels.txt").write_text("0.42")
with open(Path(__file__).parent / "runs.log", "a") as log:
    log.write("ran\\n")
"""


@pytest.fixture
def prepared_task(mlab_task: Path, private_data_root: Path) -> Path:
    (mlab_task / "scripts/prepare.py").write_text(PREPARE)
    (mlab_task / "scripts/eval.py").write_text(
        "from pathlib import Path\n"
        "def get_score(folder):\n"
        "    return float((Path(__file__).parent / 'labels.txt').read_text())\n"
    )
    return mlab_task


def test_prepared_data_reaches_the_workspace_and_labels_only_the_eval(
    prepared_task: Path, tmp_path: Path
) -> None:
    task = load_task(prepared_task)
    task.prepare()
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    assert (workspace / "data/train.csv").read_text() == "x,y\n1,0\n"
    assert (workspace / "train.py").is_file()
    assert not list(workspace.rglob("labels.txt"))
    assert task.score(workspace, sandbox(tmp_path), PYTHON).value == pytest.approx(0.42)


def test_prepare_runs_once_per_version_of_prepare_py(prepared_task: Path) -> None:
    task = load_task(prepared_task)
    task.prepare()
    task.prepare()
    log = prepared_task / "scripts/runs.log"
    assert log.read_text() == "ran\n"
    (prepared_task / "scripts/prepare.py").write_text(PREPARE + "# changed\n")
    task.prepare()
    assert log.read_text() == "ran\nran\n"


def test_a_failing_prepare_names_the_script_and_its_last_line(prepared_task: Path) -> None:
    (prepared_task / "scripts/prepare.py").write_text("raise SystemExit('no disk space left')\n")
    task = load_task(prepared_task)
    with pytest.raises(TaskError, match=r"prepare.py failed \(exit code 1\): no disk space left"):
        task.prepare()
    with pytest.raises(TaskError, match="no disk space left"):
        task.prepare()


def test_an_env_that_is_a_file_is_named(mlab_task: Path) -> None:
    shutil.rmtree(mlab_task / "env")
    (mlab_task / "env").write_text("not a folder")
    with pytest.raises(TaskError, match="env must be a folder"):
        load_task(mlab_task)


def test_a_folder_without_task_yaml_takes_the_direction_from_the_problem(mlab_task: Path) -> None:
    (mlab_task / "scripts/research_problem.txt").write_text(
        "The evaluation metric is the root mean squared error of the predictions (lower is better)."
    )
    task = load_task(mlab_task)
    assert task.spec.higher_is_better is False
    assert "lower is better" in task.describe_direction()
    assert not task.direction_guessed


def test_prepare_runs_again_when_what_it_made_in_the_folder_is_missing(
    mlab_task: Path, private_data_root: Path
) -> None:
    (mlab_task / "scripts/prepare.py").write_text(
        "from pathlib import Path\n"
        "Path('../env/data').mkdir(exist_ok=True)\n"
        "Path('../env/data/train.csv').write_text('x\\n1\\n')\n"
        "with open('runs.log', 'a') as log:\n"
        "    log.write('ran\\n')\n"
    )
    task = load_task(mlab_task)
    task.prepare()
    task.prepare()
    assert (mlab_task / "scripts/runs.log").read_text() == "ran\n"
    shutil.rmtree(mlab_task / "env/data")  # the folder made again: a fresh clone, git clean
    task.prepare()
    assert (mlab_task / "env/data/train.csv").is_file()
    assert (mlab_task / "scripts/runs.log").read_text() == "ran\nran\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"x" * 50_000_000, "is 50,000,000 bytes; a research problem must be at most"),
        (bytes(range(256)) * 64, "is not text"),
    ],
)
def test_a_huge_or_binary_research_problem_is_refused_in_one_line(
    mlab_task: Path, content: bytes, message: str
) -> None:
    (mlab_task / "scripts/research_problem.txt").write_bytes(content)
    with pytest.raises(TaskError, match=message) as caught:
        load_task(mlab_task)
    assert "\n" not in str(caught.value)


def test_a_self_timed_runtime_task_is_measured_again_not_taken_from_the_last_run(
    mlab_task: Path, tmp_path: Path
) -> None:
    (mlab_task / "scripts/research_problem.txt").write_text("Cut the runtime of train.py.")
    (mlab_task / "env/train.py").write_text(
        "import time\nstart = time.time()\ntime.sleep(0.2)\n"
        "open('submission.csv', 'w').write(str(time.time() - start))\n"
    )
    task = load_task(mlab_task)
    workspace = tmp_path / "ws"
    task.make_workspace(workspace)
    (workspace / "submission.csv").write_text("0.0001\n")  # what a last run "wrote"
    score = task.score(workspace, sandbox(tmp_path), PYTHON)
    assert score.value is not None and score.value > 0.1
