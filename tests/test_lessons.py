"""Lesson types: the mission's paper with the real default embedder, the cue file, re-labelling."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from kb.embed import default_model
from kb.errors import UsageError
from kb.lessons import (
    DEFAULT_CUES_PATH,
    TYPES,
    CueFileError,
    LessonLabeler,
    cues_fingerprint,
    load_cues,
    parse_types,
)
from kb.lessons.cues import compile_pattern, fold, parse_cues
from kb.lessons import store as lesson_store
from kb.models import Passage

ROOT = Path(__file__).resolve().parent.parent
MISSION = ROOT / "corpus" / "000_56388bd38537218d.txt"


# -- fixtures -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mission_index(tmp_path_factory) -> Path:
    """An index over the mission's paper alone, built with the default model."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    index_dir = tmp_path_factory.mktemp("lessons") / "index"
    with KnowledgeBase.open(Settings(index_dir=index_dir), create=True) as kb:
        report = kb.ingest([str(MISSION)])
        assert not report.failed, report.failed
    return index_dir


@pytest.fixture(scope="module")
def mission(mission_index):
    """(passages in order, their stored vectors, the index's embedder) for the mission's paper."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    kb = KnowledgeBase.open(Settings(index_dir=mission_index))
    try:
        (doc,) = kb.documents()
        _, passages, vectors = lesson_store.document_rows(kb.index.db.conn, doc.doc_id)
        yield passages, vectors, kb.index.embedder
    finally:
        kb.close()


class CountingEmbedder:
    """Wraps an embedder (or fakes one) and counts what it is asked to encode."""

    name = "counting"

    def __init__(self, inner=None, dim: int = 16) -> None:
        self.inner = inner
        self.dim = inner.dim if inner is not None else dim
        self.query_calls: list[list[str]] = []
        self.passage_calls: list[list[str]] = []

    def encode_queries(self, texts):
        self.query_calls.append(list(texts))
        if self.inner is not None:
            return self.inner.encode_queries(texts)
        rng = np.random.default_rng(len(self.query_calls))
        out = rng.normal(size=(len(texts), self.dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encode_passages(self, texts):
        self.passage_calls.append(list(texts))
        if self.inner is not None:
            return self.inner.encode_passages(texts)
        raise AssertionError("the labeler must not embed passages")


def _passage(i: int, text: str, paragraph: str | None = None, section: str | None = None,
             doc_id: str = "doc") -> Passage:
    return Passage(passage_id=f"{doc_id}:{i}", doc_id=doc_id, ordinal=i, text=text, lang="fr",
                   page_start=1, page_end=1, paragraph=paragraph, section=section,
                   char_start=0, char_end=len(text))


def _by_paragraph(passages: list[Passage], label: str) -> list[int]:
    found = [i for i, p in enumerate(passages) if p.paragraph == label]
    assert found, f"no passage cited as para. {label} (got {[p.paragraph for p in passages]})"
    return found


# -- the mission's paper, with the real default embedder ----------------------------------
def test_mission_paper_barriers_recommendations_and_risk(mission):
    passages, vectors, embedder = mission
    assert embedder.name == default_model()
    types = LessonLabeler(embedder).label(passages, vectors)
    for label in ("8 a)", "8 b)", "8 c)", "8 d)"):
        for i in _by_paragraph(passages, label):
            assert "barrier" in types[i], (label, types[i], passages[i].text[:80])
    for label in ("13 a)", "13 b)", "13 c)", "13 d)", "13 e)", "14 a)", "14 b)"):
        for i in _by_paragraph(passages, label):
            assert "recommendation" in types[i], (label, types[i], passages[i].text[:80])
    for i in _by_paragraph(passages, "10"):
        assert "risk" in types[i], (types[i], passages[i].text[:80])


def test_mission_paper_confidences_are_in_range_and_above_threshold(mission):
    passages, vectors, embedder = mission
    labeler = LessonLabeler(embedder)
    for found in labeler.label(passages, vectors):
        assert set(found) <= set(TYPES)
        assert all(labeler.threshold <= c <= 1.0 for c in found.values())


def test_sub_items_inherit_the_lead_in_of_their_paragraph(mission):
    """8 c) says "Obstacles concernant ..." itself; 8 d) does not: its lead-in (para. 8) does."""
    passages, vectors, embedder = mission
    labeler = LessonLabeler(embedder)
    evidence = labeler.explain(passages, vectors)
    (d,) = _by_paragraph(passages, "8 d)")
    assert evidence[d].signals["lead_in"]["barrier"] > 0.5
    # the same item alone, without the paragraph that introduces the list, loses that signal
    alone = labeler.explain([passages[d]], vectors[d : d + 1])[0]
    assert alone.signals["lead_in"]["barrier"] == 0.0


def test_lead_in_rule_on_synthetic_list():
    labeler = LessonLabeler(None)
    lead = _passage(0, "8. Les personnes interrogées peuvent être confrontées aux obstacles suivants :", "8")
    item = _passage(1, "a) Les employeurs connaissent mal les programmes existants et les procédures.", "8 a)")
    other = _passage(2, "9. Les employeurs connaissent mal les programmes existants et les procédures.", "9")
    types = labeler.label([lead, item, other], None)
    assert "barrier" in types[1]
    assert "barrier" not in types[2]


def test_notes_and_page_furniture_get_no_type():
    labeler = LessonLabeler(None)
    found = labeler.label([
        _passage(0, "https://www.example.org/report.pdf\nhttps://www.example.org/annex.pdf"),
        _passage(1, "Juin 2025"),
        _passage(2, "2  HCR, Mid-year Trends (2022)."),
    ], None)
    assert found == [{}, {}, {}]


# -- labelling uses the vectors it is given ------------------------------------------------
def test_labelling_uses_given_vectors_and_never_embeds_passages():
    fake = CountingEmbedder(dim=16)
    labeler = LessonLabeler(fake)
    passages = [_passage(i, f"{i + 1}. Il est recommandé aux États de renforcer les programmes pilotes.", str(i + 1))
                for i in range(5)]
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    first = labeler.label(passages, vectors)
    second = labeler.label(passages, vectors)
    assert first == second
    assert fake.passage_calls == []
    # the label descriptions are embedded once per labeler, as queries
    assert len(fake.query_calls) == 1
    assert len(fake.query_calls[0]) == len(labeler.cues.descriptions())


def test_labelling_without_vectors_calls_no_model():
    fake = CountingEmbedder(dim=16)
    labeler = LessonLabeler(fake)
    labeler.label([_passage(0, "14. Il est recommandé aux États Membres de promouvoir le dialogue.", "14")], None)
    assert fake.query_calls == [] and fake.passage_calls == []


def test_vectors_must_match_the_passages():
    labeler = LessonLabeler(CountingEmbedder(dim=16))
    with pytest.raises(ValueError):
        labeler.label([_passage(0, "Texte suffisamment long pour être étiqueté comme du contexte.")],
                      np.zeros((2, 16), dtype=np.float32))


def test_relabel_after_cue_change_reuses_stored_vectors(mission_index, tmp_path):
    """Changing the cue file and relabelling the index embeds no passage at all."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    work = tmp_path / "index"
    shutil.copytree(mission_index, work)
    cues = tmp_path / "cues.yaml"
    shutil.copy(DEFAULT_CUES_PATH, cues)
    with KnowledgeBase.open(Settings(index_dir=work)) as kb:
        conn = kb.index.db.conn
        counting = CountingEmbedder(kb.index.embedder)
        first = LessonLabeler(counting, cues)
        report = lesson_store.relabel(conn, first)
        assert report.passages == kb.index.db.counts()["passages"]
        assert not lesson_store.needs_relabel(conn, first)
        before = lesson_store.counts(conn)
        # a reader adds a cue: "Services d'intégration précoce insuffisants" is now also a risk
        cues.write_text(cues.read_text(encoding="utf-8").replace(
            "        - {pattern: risque*, weight: 1.5}\n",
            "        - {pattern: risque*, weight: 1.5}\n        - {pattern: \"integration precoce\", weight: 5}\n",
        ), encoding="utf-8")
        second = LessonLabeler(counting, cues)
        assert second.fingerprint != first.fingerprint
        assert lesson_store.needs_relabel(conn, second)
        lesson_store.ensure_current(kb.index, second)
        after = lesson_store.counts(conn)
        assert after["fingerprint"] == second.fingerprint
        assert sum(after["types"]["risk"].values()) > sum(before["types"]["risk"].values())
        assert counting.passage_calls == []  # nothing was re-embedded
        rowids, passages, _ = lesson_store.document_rows(conn, kb.documents()[0].doc_id)
        (d,) = [r for r, p in zip(rowids, passages) if p.paragraph == "8 d)"]
        stored = lesson_store.types_for(conn, [d])[d]
        assert "risk" in stored and "barrier" in stored
        clause, params = lesson_store.type_clause(["risk"])
        ids = {r[0] for r in conn.execute(f"SELECT id FROM passages WHERE {clause}", params)}
        assert d in ids


# -- the cue file -------------------------------------------------------------------------
def test_packaged_cue_file_loads_with_every_type():
    cues = load_cues()
    assert tuple(cues.types) == TYPES
    for t in TYPES:
        assert cues.types[t].descriptions and cues.types[t].cues
    assert 0 < cues.scoring.threshold < 1


def test_fingerprint_changes_when_the_file_changes(tmp_path):
    path = tmp_path / "cues.yaml"
    shutil.copy(DEFAULT_CUES_PATH, path)
    original = cues_fingerprint(path)
    assert original == cues_fingerprint(DEFAULT_CUES_PATH)
    assert original == load_cues(path).fingerprint
    path.write_text(path.read_text(encoding="utf-8") + "\n# a reader's note\n", encoding="utf-8")
    assert cues_fingerprint(path) != original
    assert LessonLabeler(None, path).fingerprint == cues_fingerprint(path)


def _minimal() -> dict:
    return {"types": {t: {"descriptions": {"en": [f"about {t}"]}, "cues": {"en": [t]}} for t in TYPES}}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda raw: raw["types"].pop("risk"), "missing lesson type"),
        (lambda raw: raw["types"].__setitem__("lesson", {"cues": {"en": ["x"]}}), "unknown lesson type"),
        (lambda raw: raw["types"]["barrier"]["cues"].__setitem__("en", ["/(unclosed/"]), "bad regular expression"),
        (lambda raw: raw["types"]["barrier"]["cues"].__setitem__("en", [{"pattern": "x", "weight": "high"}]), "expected a number"),
        (lambda raw: raw["types"]["barrier"]["cues"].__setitem__("english", ["x"]), "not a language code"),
        (lambda raw: raw["types"]["barrier"].__setitem__("cue", {"en": ["x"]}), "unknown key"),
        (lambda raw: raw["types"]["barrier"].__setitem__("descriptions", {"en": []}), "at least one description"),
        (lambda raw: raw.__setitem__("scoring", {"treshold": 0.5}), "unknown key"),
        (lambda raw: raw.__setitem__("scoring", {"threshold": 1.5}), "between"),
        (lambda raw: raw.__setitem__("scoring", {"weights": {"heading": 0.5, "colour": 1}}), "unknown signal"),
        (lambda raw: raw.__setitem__("version", 2), "version"),
        (lambda raw: raw.__setitem__("scoring", {"type_thresholds": {"lesson": 0.5}}), "unknown lesson type"),
        (lambda raw: raw.__setitem__("scoring", {"secondary_excluded": {"recommendation": ["advice"]}}), "not a lesson type"),
        (lambda raw: raw.__setitem__("meta", {"cues": {"en": ["x"]}, "strength": 1}), "unknown key"),
        (lambda raw: raw.__setitem__("meta", {"weight": 2, "cues": {"en": ["x"]}}), "between"),
    ],
)
def test_malformed_cue_files_are_rejected_with_the_place(mutate, message):
    raw = _minimal()
    parse_cues(raw)  # the minimal file itself is valid
    mutate(raw)
    with pytest.raises(CueFileError, match=message):
        parse_cues(raw, path="cues.yaml")


def test_unreadable_or_invalid_yaml_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="cannot read"):
        load_cues(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("types: [unclosed", encoding="utf-8")
    with pytest.raises(CueFileError, match="not valid YAML"):
        load_cues(bad)


def test_phrases_match_without_accents_case_or_apostrophe_kind():
    assert compile_pattern("obstaculo*").search(fold("Los OBSTÁCULOS encontrados"))
    assert compile_pattern("enseignements tires").search(fold("Enseignements  tirés de la mise en œuvre"))
    assert compile_pattern("il est recommande").search(fold("14. Il est recommandé aux États Membres :"))
    assert compile_pattern("d'apres").search(fold("D’après le rapport"))
    assert not compile_pattern("risk").search(fold("risky"))
    assert compile_pattern("risk*").search(fold("risky"))
    assert compile_pattern(r"/\bods\s*\d+/").search(fold("ODS 8: Trabajo decente"))


def test_text_about_the_evaluation_itself_is_context():
    """"The evaluation will examine the risks" names a risk without being one."""
    labeler = LessonLabeler(None)
    plan = _passage(0, "L'évaluation analysera la capacité du projet à anticiper et gérer les risques, "
                       "et proposera des recommandations pour les futures initiatives.")
    finding = _passage(1, "Le projet n'a pas su anticiper les risques : l'absence de plan de gestion des "
                          "risques a entraîné des retards importants et des conséquences involontaires.")
    plan_types, finding_types = labeler.label([plan, finding], None)
    assert "risk" not in plan_types and "recommendation" not in plan_types
    assert "risk" in finding_types


def test_parse_types():
    assert parse_types(["barrier", "Good-Practice", "risk,context"]) == ("barrier", "good_practice", "risk", "context")
    assert parse_types(None) == ()
    with pytest.raises(UsageError, match="unknown lesson type"):
        parse_types(["lessons"])
