"""Boilerplate stays out of answers unless the question asks for it.

Passages are given a role at ingestion (kb/text/roles.py): content, or links, contents,
form, legal, bibliography, staff. A question about pilot results must not be answered by
the report's staff list, however close the embedding puts them; a question that names what
it wants ("who evaluated the programme", "bibliographie", "formulario de solicitud") gets it.
A lookup of a few words keeps boilerplate that holds the words as typed: a name is often
found only in a staff list or a link.
"""

from __future__ import annotations

import re
import unicodedata

from kb.text import roles

#: words (folded, as prefixes) by which a query asks for a kind of boilerplate, in kb's languages
_ASKS: dict[str, tuple[str, ...]] = {
    roles.BIBLIOGRAPHY: ("bibliograph", "reference", "referenc", "literatur", "sources cit", "fuentes", "fontes",
                         "quellen", "works cited", "مراجع"),
    roles.STAFF: ("team", "staff", "evaluator", "author", "who evaluat", "who wrote", "who conducted", "equipe",
                  "evaluateur", "evaluatrice", "auteur", "equipo", "autor", "evaluador", "avaliador", "mitarbeit",
                  "acknowledg", "remerciement", "agradecimiento", "فريق", "مقيم"),
    roles.LEGAL: ("copyright", "licen", "droits", "derechos", "direitos", "rights reserved", "publisher", "editeur",
                  "editorial", "isbn", "reproduc", "disclaimer", "urheber"),
    roles.CONTENTS: ("table of contents", "contents", "sommaire", "table des matieres", "indice", "sumario",
                     "inhaltsverzeichnis", "chapter", "chapitre", "capitulo", "kapitel"),
    roles.FORM: ("form", "formulaire", "formulario", "formular", "application", "demande", "solicitud",
                 "template", "questionnaire", "cuestionario", "fragebogen", "استمارة", "نموذج"),
    roles.LINKS: ("link", "url", "website", "web site", "site web", "sitio web", "webseite", "http", "www"),
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def asks_for(query: str) -> frozenset[str]:
    """The kinds of boilerplate a query asks for by name."""
    folded = " " + re.sub(r"[^\w]+", " ", _fold(query)) + " "
    return frozenset(role for role, cues in _ASKS.items()
                     if any(f" {_fold(cue)}" in folded for cue in cues))


def keep(role: str, asked: frozenset[str], lookup: bool, keyword_match: bool) -> bool:
    """Whether a passage of ``role`` may answer this query."""
    return role == roles.CONTENT or role in asked or (lookup and keyword_match)
