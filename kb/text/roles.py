"""What a passage is, decided once at ingestion: content, or one of the kinds of boilerplate.

Reports carry text that is not an answer to anything a policy officer asks: the evaluation
team's names, copyright and publisher notices, bibliographies, tables of contents, blank
forms and footnote link lists. Embedding models put such passages near many questions
(a staff list is "about" the report's topic by its title), so they are recognised here,
stored with the passage (``passage_roles``), kept and citable, and left out of answers to a
question unless the question asks for them (kb/search/roles.py).

The rules look at the passage's own text only, so they give the same answer at ingestion,
in a backfill of an older index and in a test.
"""

from __future__ import annotations

import re

from kb.text.urls import URL, only_links

CONTENT = "content"
LINKS = "links"
CONTENTS = "contents"
BIBLIOGRAPHY = "bibliography"
STAFF = "staff"
LEGAL = "legal"
FORM = "form"
#: every role but content; the order is the order of the checks
BOILERPLATE = (LINKS, CONTENTS, FORM, LEGAL, BIBLIOGRAPHY, STAFF)
#: bumped when the rules change, so an index's stored roles are recomputed (kb/derived/refresh.py)
ROLES_VERSION = "2"

_LEADER = re.compile(r"[.…·_]{5,}\s*(?:\d{1,4}|[ivxlc]{1,6})\b", re.IGNORECASE)
_CONTENTS_HEAD = re.compile(
    r"\b(?:table of contents|contents|sommaire|table des mati[eè]res|[ií]ndice|inhaltsverzeichnis|sum[aá]rio)\b",
    re.IGNORECASE)

_LEGAL_CUES = re.compile(
    r"©|\bcopyright\b|all rights (?:are )?reserved|for general distribution|tous droits r[ée]serv[ée]s|derechos reservados|todos os direitos"
    r"|\bISBN\b|\bISSN\b|reproduction is authori[sz]ed|reproduction (?:est )?autoris[ée]e"
    r"|the (?:opinions|views) expressed in (?:the|this) (?:report|publication)"
    r"|the designations employed|les opinions exprim[ée]es|las opiniones expresadas"
    r"|\bpublisher\s*:|\b[ée]diteur\s*:|printed in\b|imprim[ée] (?:en|au)\b"
    r"|cover (?:photo|image)\s*:|photo de couverture|foto de portada",
    re.IGNORECASE)

_REFERENCE_CUES = re.compile(
    r"\(\s*(?:19|20)\d{2}[a-z]?\s*\)|\b(?:19|20)\d{2}[a-z]?\)\.|\bet al\.|\bpp?\.\s?\d|\bvol\.\s?\d|\bdoi\b"
    r"|retrieved from|available (?:at|from)\b|disponible (?:en|sur)\b|\bconsult[ée] le\b|\baccessed\b",
    re.IGNORECASE)
_REFERENCES_HEAD = re.compile(
    r"^\s*(?:#+\s*)?(?:references|bibliography|works cited|r[ée]f[ée]rences(?: bibliographiques)?|bibliographie"
    r"|referencias|bibliograf[ií]a|refer[eê]ncias|literatur(?:verzeichnis)?|sources)\b",
    re.IGNORECASE | re.MULTILINE)
#: "Surname, A." or "Surname, A.B., and" at a line start: how reference lists begin their entries
_AUTHOR_START = re.compile(r"^\s*[A-ZÀ-Ý][\w'’-]+,\s+(?:[A-Z]\.\s?){1,3}", re.MULTILINE)

_STAFF_CUES = re.compile(
    r"\bevaluation team\b|\bteam leader\b|\bevaluator\(?s?\)?\s*:|\bevaluation manager\b|\bprepared by\b"
    r"|\bcommissioned by\b|\bauthors?\s*:|\backnowledge?ments?\b|\bremerciements\b|[ée]quipe d.[ée]valuation"
    r"|\b[ée]valuateur(?:\(?trice\)?)?s?\s*:|\bagradecimientos\b|equipo de evaluaci[oó]n|\bdanksagung\b"
    r"|\breviewed by\b|\bedited by\b|\bfocal point\b|\bgestionnaire de l.[ée]valuation\b",
    re.IGNORECASE)
#: cues that introduce names outright: "Evaluator(s): ...", "team ... including: ...", "led by", thanks
_STAFF_LABELS = re.compile(
    r"\b(?:evaluators?|evaluator\(s\)|authors?|[ée]valuateur|[ée]valuatrice|autores?|autoren|consultants?)\s*:"
    r"|\bteam\b[^.]{0,80}\bincluding\s*:|[ée]quipe\b[^.]{0,80}\bcompos[ée]e de\b"
    r"|\b(?:would|wish(?:es)?) to thank\b|\bremercie\b|\bagradece\b|\bdanken\b",
    re.IGNORECASE)
#: "Melissa Andrade Costa", "Loes van der Graaf": two or three capitalised words, particles allowed
_PERSON = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ]+(?:\s+(?:van|von|de|da|del|der|di|la|le|du|dos))*\s+[A-ZÀ-Ý][a-zà-ÿ]+\b")

#: "Célestin SIKUBE TAKAMGNO": a capitalised given name and an upper-case surname
_UPPER_PERSON = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ]+\s+[A-ZÀ-Ý]{2,}(?:\s+[A-ZÀ-Ý]{2,})?\b")

_FIELD_LINE = re.compile(r"(?::\s*$|_{4,}|\.{8,}\s*$|[☐□▢]|\((?:dd|jj)/mm/(?:yyyy|aaaa)\))", re.IGNORECASE)


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def _words(text: str) -> int:
    return len(re.findall(r"[^\W\d_]{2,}", URL.sub(" ", text)))


def is_contents(text: str) -> bool:
    leaders = len(_LEADER.findall(text))
    return leaders >= 3 or (leaders >= 1 and (bool(_CONTENTS_HEAD.search(text[:200])) or _words(text) <= 12))


#: a blank to fill in, anywhere in a line: "Name……………", "Stamp.........", "____"
_BLANK = re.compile(r"…{2,}|\.{6,}|_{4,}")


def is_form(text: str) -> bool:
    """Field lines ("Date of birth: ", boxes), or blanks throughout: a bilingual form puts one
    label per line in each language, so most of its lines have no blank of their own."""
    lines = _lines(text)
    fields = sum(bool(_FIELD_LINE.search(ln)) for ln in lines)
    if len(lines) >= 3 and fields >= 3 and fields >= 0.4 * len(lines):
        return True
    blanks = len(_BLANK.findall(text))
    return blanks >= 5 and _words(text) <= 25 * blanks


def is_legal(text: str) -> bool:
    cues = len(_LEGAL_CUES.findall(text))
    return cues >= 2 or (cues == 1 and len(text) < 500)


def is_bibliography(text: str) -> bool:
    words = max(_words(text), 1)
    refs = len(_REFERENCE_CUES.findall(text)) + 2 * len(_AUTHOR_START.findall(text)) + len(URL.findall(text))
    if _REFERENCES_HEAD.search(text[:120]) and refs >= 2:
        return True
    # a run of entries: many reference marks for few words (prose citing a source or two has few)
    return refs >= 4 and refs * 12 >= words


def is_staff(text: str) -> bool:
    people = len(_PERSON.findall(text)) + len(_UPPER_PERSON.findall(text))
    if _STAFF_LABELS.search(text) and people >= 2:
        return True
    if not _STAFF_CUES.search(text):
        return False
    words = max(_words(text), 1)
    return people >= 3 and people * 2 * 3 >= words  # names make up about a third of the words or more


def is_links(text: str) -> bool:
    return bool(URL.search(text)) and only_links(text)


_CHECKS = ((LINKS, is_links), (CONTENTS, is_contents), (FORM, is_form), (LEGAL, is_legal),
           (BIBLIOGRAPHY, is_bibliography), (STAFF, is_staff))


def role_of(text: str) -> str:
    """The passage's role: :data:`CONTENT`, or the first kind of boilerplate it is."""
    for role, check in _CHECKS:
        if check(text):
            return role
    return CONTENT
