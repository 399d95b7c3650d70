"""Shared fixtures: real files from ../shared, real indexes on disk, `kb` as users run it.

Two tiers (pyproject.toml, scripts/test): the default run uses the deterministic ``test-hash``
embedder (kb/embed/hashing_backend.py) with no companion, for tests of plumbing; tests that
need the real models, many processes, a browser or Tesseract are marked ``slow`` and run
with ``./scripts/test --all`` (CI).
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
GCM = SHARED / "corpus-gcm"
MISSION = ROOT / "corpus" / "000_56388bd38537218d.txt"

# A shell without job control starts background commands (`./scripts/test &`) with SIGINT ignored,
# and an ignored signal is inherited by every kb process a test starts: the Ctrl-C tests would see
# their SIGINT vanish. A Python-level handler is reset to the default in a child, so install one.
signal.signal(signal.SIGINT, signal.default_int_handler)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

#: a small multilingual set of real files used by most index tests
SMALL_SET = [
    CORPUS / "en" / "18-SKILLS DEVELOPMENT AND RECOGNITION.pdf",
    CORPUS / "fr" / "18 - PERFECTIONNEMENT ET RECONNAISSANCE DES QUALIFICATIONS.pdf",
    CORPUS / "es" / "18 DESARROLLO Y CONOCIMIENTO DE CUALIFICACIONES.pdf",
    CORPUS / "en" / "2022-06-10-los-angeles-declaration-on-migration-and-protection.md",
]

#: the deterministic embedder of the fast tier, and no second model beside it; one extraction
#: worker, not two: the pool's code path is the same and each worker started costs about a second
#: of CPU (the session index and the slow tests keep the default two)
FAST_MODEL = "test-hash"
FAST = {"model": FAST_MODEL, "companion": "none", "workers": 1}
#: the same on the command line, for `kb ingest`
FAST_ARGS = ("--model", FAST_MODEL, "--companion", "none", "--workers", "1")
#: where a test only needs an index to start from (its subject is not ingestion), the files are
#: read in the test's process: starting kb's extraction workers costs more than reading them
SETUP = {"workers": 0}
SETUP_ARGS = ("--workers", "0")


#: corpus PDFs that take seconds each to read with pypdf: a test that sweeps the corpus reads them
#: in the slow tier only, the others in the fast one too
LONG_PDFS = frozenset({
    "Ley_de_Migracion.pdf", "ISP_IOM_Case-Management-Return-Reintegr-JI-Review_final.pdf", "guide.pdf",
    "guide_PDF_ES.pdf", "THE-REFUGEES-GENERAL-REGULATIONS-2024.pdf", "Info_Mngt_eval_2019.pdf",
    "CS1137-CS1138_Inception Report_Javier SANCHEZ MARTI.pdf", "Abridged Evaluation Report_ Final_Olta NDOJA.pdf",
    "A_RES_80_187.pdf", "A_RES_80_218.pdf", "Ley_Federal_Refugiados.pdf",
    "18 - PERFECTIONNEMENT ET RECONNAISSANCE DES QUALIFICATIONS.pdf",
})


def corpus_params(paths, ids=None) -> list:
    """``paths`` as pytest parameters, those in LONG_PDFS marked slow."""
    out = []
    for path in paths:
        marks = [pytest.mark.slow] if Path(path).name in LONG_PDFS else []
        out.append(pytest.param(path, marks=marks, id=ids(path) if ids else None))
    return out


@functools.cache
def pypdf_pages(path: Path):
    """pypdf's text of each page of a corpus PDF (no kb.ingest.extract in between), read once per
    run: several test modules read the same files."""
    if not path.exists():
        pytest.skip(f"corpus file missing: {path}")
    import logging

    from pypdf import PdfReader

    from kb.models import Page

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return tuple(Page(i + 1, p.extract_text()) for i, p in enumerate(PdfReader(path).pages))


def pytest_collection_modifyitems(config, items):
    if not CORPUS.is_dir():
        skip = pytest.mark.skip(reason=f"shared test corpus not found at {CORPUS}")
        for item in items:
            item.add_marker(skip)


def fast_settings(index_dir: Path, **overrides: object):
    """Settings of a new fast-tier index: the hashing embedder, no companion."""
    from kb.settings import Settings

    return Settings(index_dir=index_dir, **{**FAST, **overrides})  # type: ignore[arg-type]


def _build(index_dir: Path, settings) -> Path:
    from kb.library import KnowledgeBase

    with KnowledgeBase.open(settings, create=True) as kb:
        report = kb.ingest([str(p) for p in SMALL_SET] + [str(ROOT / "corpus")])
        assert not report.failed, report.failed
    return index_dir


@pytest.fixture(scope="session")
def fast_index(tmp_path_factory) -> Path:
    """The fast tier's one index, read only: SMALL_SET plus the mission's paper (corpus/, with its
    manifest and glossary), built once per run with the hashing embedder."""
    index_dir = tmp_path_factory.mktemp("fast") / "index"
    return _build(index_dir, fast_settings(index_dir, workers=2))  # two workers, as users run it


@pytest.fixture
def fast_index_copy(fast_index: Path, tmp_path: Path) -> Path:
    """A private copy of ``fast_index`` for a test that writes to it."""
    target = tmp_path / "index"
    shutil.copytree(fast_index, target, ignore=shutil.ignore_patterns("writer.lock", "*-shm"))
    return target


@pytest.fixture(scope="session")
def small_index(tmp_path_factory) -> Path:
    """The same files as ``fast_index`` with the default model and its companion (slow tests)."""
    from kb.settings import Settings

    index_dir = tmp_path_factory.mktemp("small") / "index"
    return _build(index_dir, Settings(index_dir=index_dir))


@pytest.fixture
def work_copy(tmp_path) -> Path:
    """A scratch folder with copies of two small real documents (tests may edit them)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(MISSION, folder / "mission.txt")
    shutil.copy(CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf", folder / "aap.pdf")
    return folder


# -- `kb` in this process ----------------------------------------------------------------------
@contextmanager
def _cwd(path: str | Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


class _FileDescriptorCapture:
    """What is written to file descriptor ``fd`` itself (by a worker process kb starts, or by C
    code) while in the block: a `kb` process's stdout and stderr carry that too."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.data = b""

    def __enter__(self) -> "_FileDescriptorCapture":
        self._saved = os.dup(self.fd)
        self._file = tempfile.TemporaryFile(buffering=0)
        os.dup2(self._file.fileno(), self.fd)
        return self

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, self.fd)
        os.close(self._saved)
        self._file.seek(0)
        self.data = self._file.read()
        self._file.close()


def kb_cli(*args: object, env: Mapping[str, str] | None = None, cwd: str | Path | None = None,
           input: str | bytes | None = None) -> subprocess.CompletedProcess:
    """`kb ARGS` run in this process by its console-script entry point (kb.cli.main) under
    Typer's CliRunner: what a `kb` process would print and exit with, without starting Python
    and loading kb again. ``env`` is a whole environment, as for subprocess.run.

    An exception that escapes main() is printed as the interpreter would (a traceback, exit 1),
    so a test that asserts "no traceback" still sees it; what kb's worker processes write to
    the inherited stdout and stderr is kept too.
    """
    from typer.testing import CliRunner

    from kb.cli import main

    argv = ["kb", *(str(a) for a in args)]
    overrides: dict[str, str | None] | None = None
    if env is not None:
        overrides = {k: v for k, v in env.items() if os.environ.get(k) != v}
        overrides.update({k: None for k in os.environ if k not in env})
    code: int = 0
    with _FileDescriptorCapture(1) as fd_out, _FileDescriptorCapture(2) as fd_err, \
            CliRunner().isolation(input=input, env=overrides) as (out, err, _), _cwd(cwd):
        saved_argv = sys.argv
        sys.argv = argv
        try:
            main()
        except SystemExit as done:
            if done.code is None:
                code = 0
            elif isinstance(done.code, int):
                code = done.code
            else:
                print(done.code, file=sys.stderr)
                code = 1
        except Exception:  # noqa: BLE001 - a process would die with this traceback
            traceback.print_exc()
            code = 1
        finally:
            sys.argv = saved_argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = out.getvalue(), err.getvalue()
    stdout, stderr = stdout + fd_out.data, stderr + fd_err.data
    return subprocess.CompletedProcess(argv, code, stdout.decode("utf-8", "replace"),
                                       stderr.decode("utf-8", "replace"))


# -- a function under a time limit ---------------------------------------------------------------
class TimedChild:
    """A spawned Python process that runs one call at a time and is killed when the call outlives
    its time limit: a regex gone quadratic cannot be interrupted in the test process itself.
    Started once and reused, so a check costs the call, not a new interpreter and kb's imports."""

    def __init__(self) -> None:
        self._pool = None

    def run(self, func, *args: object, timeout: float):
        """``func(*args)`` in the child: its value, or its exception raised here;
        TimeoutError (and a fresh child for the next call) after ``timeout`` seconds."""
        if self._pool is None:
            self._pool = multiprocessing.get_context("spawn").Pool(1)
        pending = self._pool.apply_async(func, args)
        try:
            return pending.get(timeout)
        except multiprocessing.TimeoutError:
            self.close()
            raise TimeoutError(f"{getattr(func, '__name__', func)} took more than {timeout:g} s") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


@pytest.fixture(scope="session")
def timed_child() -> Iterator[TimedChild]:
    child = TimedChild()
    yield child
    child.close()
