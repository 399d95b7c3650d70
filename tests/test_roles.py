"""Boilerplate is recognised at ingestion and kept out of answers unless asked for (kb/text/roles.py,
kb/search/roles.py): real passages of the shared corpus, a real index on disk."""

from __future__ import annotations

import pytest

from kb.search.roles import asks_for, keep
from kb.text import roles
from kb.text.roles import role_of

from conftest import CORPUS

INFO_MNGT = CORPUS / "en" / "Info_Mngt_eval_2019.pdf"
ISP = CORPUS / "en" / "ISP_IOM_Case-Management-Return-Reintegr-JI-Review_final.pdf"
KENYA = CORPUS / "en" / "THE-REFUGEES-GENERAL-REGULATIONS-2024.pdf"


@pytest.fixture(scope="module")
def info_passages():
    from kb.ingest.prepare import prepare

    return prepare(str(INFO_MNGT), "info", None, 300, 1500)


#: the report is one of the long PDFs (conftest.LONG_PDFS): seconds of pypdf for each read
long_pdf = pytest.mark.slow


@long_pdf
def test_staff_notice_and_contents_of_a_real_report_are_told_apart_from_its_findings(info_passages):
    by_role: dict[str, list[str]] = {}
    for passage, role in zip(info_passages.passages, info_passages.roles):
        by_role.setdefault(role, []).append(passage.text)
    assert any("Christine Fu" in t for t in by_role[roles.STAFF])
    assert any("All rights are reserved" in t for t in by_role[roles.LEGAL])
    assert len(by_role[roles.CONTENTS]) >= 3
    # the findings that mention the evaluation team are content, not a staff list
    assert any(t.startswith("38. The evaluation team conducted") for t in by_role[roles.CONTENT])
    assert len(by_role[roles.CONTENT]) > 0.9 * len(info_passages.passages)


def test_a_reference_list_is_a_bibliography_and_prose_citing_a_source_is_not():
    entries = ("Forchuk, C., Ouwerkerk, A., Yamashita, M., & Martin, M.-L. (2002). Mental health care "
               "management in Canada: Job Description Analyses. Issues in Mental Health Nursing, 23(5), 477-496.\n"
               "Harris, J. and White, V. (2013). A Dictionary of Social Work and Social Care. Oxford University Press.\n"
               "IOM. (2019). Reintegration Handbook. Geneva: International Organization for Migration.")
    assert role_of(entries) == roles.BIBLIOGRAPHY
    prose = ("There are many other examples of national and local governments around the world who are promoting "
             "the inclusion of migrant and displaced children in their communities (UNICEF, 2018; 2019). Colombia's "
             "income generation strategy for migrants was designed with the support of UNDP.")
    assert role_of(prose) == roles.CONTENT


def test_a_blank_form_and_a_link_list_are_boilerplate_but_a_list_item_is_not():
    form = "1. Nom et prénom :\n2. Institution représentée :\n3. Poste occupé :\n4. Date de commencement :"
    assert role_of(form) == roles.FORM
    assert role_of("https://www.unhcr.org/a.pdf\nhttps://www.ilo.org/b.pdf") == roles.LINKS
    assert role_of("b) Cónyuge;") == roles.CONTENT  # a short item of a legal list, not a link list


def test_the_schedules_of_a_real_regulation_are_forms_and_its_articles_are_not():
    """Kenya's refugee regulations end in forms whose blanks are dotted runs inside the lines
    ("Name……… Signature……… Stamp………"), one blank per label in two languages."""
    from kb.ingest.prepare import prepare

    prepared = prepare(str(KENYA), "kenya", None, 300, 1500)
    texts = {role: [p.text for p, r in zip(prepared.passages, prepared.roles) if r == role]
             for role in set(prepared.roles)}
    assert any("Signature……" in t and "Stamp……" in t for t in texts[roles.FORM])
    assert any(t.startswith("Date of separation") for t in texts[roles.FORM])
    assert any("shall fast track the refugee status determination" in t for t in texts[roles.CONTENT])
    assert len(texts[roles.FORM]) < 0.1 * len(prepared.passages)


def test_queries_ask_for_boilerplate_by_name_in_several_languages():
    assert roles.STAFF in asks_for("Who was on the evaluation team?")
    assert roles.BIBLIOGRAPHY in asks_for("bibliographie sur la mobilité")
    assert roles.FORM in asks_for("formulario de solicitud de refugio")
    assert asks_for("Talent Beyond Boundaries pilot results") == frozenset()
    assert keep(roles.STAFF, frozenset(), lookup=True, keyword_match=True)
    assert not keep(roles.STAFF, frozenset(), lookup=False, keyword_match=True)


@pytest.fixture(scope="module")
def info_index(tmp_path_factory):
    from kb.library import KnowledgeBase
    from kb.settings import Settings

    # the index is where the tests start: read the PDF in this process (no worker start-up)
    settings = Settings(index_dir=tmp_path_factory.mktemp("roles") / "index", model="test-hash", companion="none",
                        workers=0)
    with KnowledgeBase.open(settings, create=True) as kb:
        assert not kb.ingest([str(INFO_MNGT)]).failed
    return settings


@long_pdf
def test_search_leaves_the_staff_list_out_of_an_answer_unless_asked(info_index):
    from kb.library import KnowledgeBase

    with KnowledgeBase.open(info_index) as kb:
        staff = "Christine Fu and Ritu Shroff"
        question = "Under whose guidance was the UNHCR evaluation of data use completed, Christine Fu and Ritu Shroff?"
        asked = kb.search("Who led the evaluation team? Christine Fu and Ritu Shroff", k=10)
        assert any(staff in h.passage.text for h in asked.hits)
        plain = kb.search(question.replace("Who", "What"), k=10)
        assert not any(staff in h.passage.text for h in plain.hits)
        assert kb.search("Ritu Shroff", k=5).hits[0].passage.text.count("Ritu Shroff")  # a lookup keeps it


@long_pdf
def test_scores_are_similarities_that_differ_between_hits(info_index):
    from kb.library import KnowledgeBase

    with KnowledgeBase.open(info_index) as kb:
        hits = kb.search("data sharing by email is not secure", k=5).hits
        scores = [h.score for h in hits]
        assert len(set(scores)) == len(scores)
        assert all(0.0 < s <= 1.0 for s in scores)
