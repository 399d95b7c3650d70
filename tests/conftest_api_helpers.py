"""Shared fixtures of the HTTP API tests: a real index and real `kb serve` processes.

Loaded as a plugin (``pytest_plugins = ["conftest_api_helpers"]`` in the test modules) so that
the session-scoped servers are started once for ``test_api.py`` and ``test_api_schema.py``
together. Nothing is mocked: the index is conftest's ``fast_index`` (real files of the shared
corpus and the mission's paper, the hashing embedder), and each server is the real
``kb serve`` in a subprocess on a free loopback port. ``real_api_server`` serves the same files
embedded with the default model, for the slow tests that judge ranking.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import httpx
import pytest

from conftest import FAST, MISSION, SMALL_SET

REPO = Path(__file__).resolve().parents[1]
CORPUS = Path(os.environ.get("KB_TEST_CORPUS", REPO.parent / "shared" / "corpus"))

FR_TXT = MISSION
EN_PDF, FR_PDF, ES_PDF, EN_MD = SMALL_SET
#: the files of conftest's fast_index and small_index, which the servers serve
BASE_FILES = (FR_TXT, EN_PDF, FR_PDF, ES_PDF, EN_MD)
#: ingested while a server runs (hot reload): a language the base index lacks
LATE_FILE = CORPUS / "pt" / "2022-06-10-declaracao-de-los-angeles-sobre-migracao-e-protecao.md"

API_KEY = "test-key-7f3a"
CORS_ORIGIN = "https://facilitator.example.org"
STARTUP_TIMEOUT = 180.0
_ISOLATED_ENV = ("KB_INDEX", "KB_API_KEY", "KB_CORS_ORIGINS", "KB_MODEL", "KB_RERANKER")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve_command(index_dir: Path, port: int) -> list[str]:
    """`kb serve` exactly as a user runs it (the console script's entry point, same interpreter)."""
    return [sys.executable, "-c", "from kb.cli import main; main()", "serve",
            "--index", str(index_dir), "--host", "127.0.0.1", "--port", str(port)]


@dataclass
class Server:
    """A running `kb serve` process and where to reach it."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def client(self, **kwargs: object) -> httpx.Client:
        kwargs.setdefault("timeout", 60.0)
        return httpx.Client(base_url=self.url, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(index_dir: Path, log_path: Path, env: Mapping[str, str] | None = None) -> Server:
    """Start `kb serve` and return once ``/health`` answers (or fail with the server's log)."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if k not in _ISOLATED_ENV}
    full_env.update(env or {})
    handle = open(log_path, "wb")
    process = subprocess.Popen(serve_command(index_dir, port), cwd=REPO, env=full_env,
                               stdout=handle, stderr=subprocess.STDOUT)
    handle.close()
    server = Server(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"kb serve exited with {process.returncode}:\n{server.log()}")
        try:
            if httpx.get(server.url + "/health", timeout=2.0).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"kb serve did not answer /health within {STARTUP_TIMEOUT:.0f}s:\n{server.log()}")


def build_index(index_dir: Path, files: tuple[Path, ...] = BASE_FILES) -> None:
    """An index of ``files`` with the hashing embedder (the server's answers are judged on
    their shape, not their ranking)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        pytest.skip(f"shared corpus files not found: {missing}")
    with KnowledgeBase.open(Settings(index_dir=index_dir, **FAST), create=True) as kb:  # type: ignore[arg-type]
        report = kb.ingest(list(files))
    assert not report.failed, report.to_dict()["failures"]


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="session")
def api_index(fast_index: Path) -> Path:
    """The base index (conftest's fast_index), built once; tests only read it."""
    return fast_index


@pytest.fixture
def index_copy(fast_index_copy: Path) -> Path:
    """A private copy of the base index, for a test that writes to it."""
    return fast_index_copy


@pytest.fixture(scope="session")
def api_server(api_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`kb serve` on the base index, no API key, one CORS origin allowed."""
    log = tmp_path_factory.mktemp("logs") / "api_server.log"
    server = start_server(api_index, log, {"KB_CORS_ORIGINS": CORS_ORIGIN})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def keyed_server(api_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`kb serve` on the same index with KB_API_KEY set."""
    log = tmp_path_factory.mktemp("logs") / "keyed_server.log"
    server = start_server(api_index, log, {"KB_API_KEY": API_KEY})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def real_api_server(small_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`kb serve` on the same files embedded with the default model and its companion (slow tests)."""
    log = tmp_path_factory.mktemp("logs") / "real_api_server.log"
    server = start_server(small_index, log, {"KB_CORS_ORIGINS": CORS_ORIGIN})
    yield server
    server.stop()


@pytest.fixture(scope="session")
def doc_ids(api_index: Path) -> dict[str, str]:
    """Document id of each base file, keyed by its language-and-format tag (fr_txt, en_pdf...)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    names = {FR_TXT.name: "fr_txt", EN_PDF.name: "en_pdf", FR_PDF.name: "fr_pdf", ES_PDF.name: "es_pdf",
             EN_MD.name: "en_md"}
    with KnowledgeBase.open(Settings(index_dir=api_index)) as kb:
        return {names[Path(d.source).name]: d.doc_id for d in kb.documents()}
