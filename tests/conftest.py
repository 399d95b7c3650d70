"""Shared fixtures: real files from ../shared, real models, real indexes on disk."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

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


def pytest_collection_modifyitems(config, items):
    if not CORPUS.is_dir():
        skip = pytest.mark.skip(reason=f"shared test corpus not found at {CORPUS}")
        for item in items:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_index(tmp_path_factory) -> Path:
    """A read-only index over SMALL_SET plus the mission's paper (default model)."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    index_dir = tmp_path_factory.mktemp("small") / "index"
    with KnowledgeBase.open(Settings(index_dir=index_dir), create=True) as kb:
        report = kb.ingest([str(p) for p in SMALL_SET] + [str(ROOT / "corpus")])
        assert not report.failed, report.failed
    return index_dir


@pytest.fixture
def work_copy(tmp_path) -> Path:
    """A scratch folder with copies of two small real documents (tests may edit them)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(MISSION, folder / "mission.txt")
    shutil.copy(CORPUS / "en" / "AAP_EN_Evaluation Brief_final_0.pdf", folder / "aap.pdf")
    return folder
