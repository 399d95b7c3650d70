"""Acronyms the documents define themselves: "Talent Beyond Boundaries (TBB)".

A corpus without a ``kb-glossary.yaml`` still spells out most of its acronyms once. Each
stored passage is read for a name followed by its acronym in brackets, or an acronym
followed by its name, and the pair is kept when the acronym's letters run through the name
the way acronyms are made (first letter at a word's start, the rest in order: Schwartz and
Hearst's rule). The pairs of every document are kept in the index's meta table and added to
the glossary the search uses (kb/glossary.py), after the user's own glossary, which wins.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import TYPE_CHECKING, Iterable, Sequence

from kb.store import keys

if TYPE_CHECKING:
    from kb.glossary import Entry
    from kb.store.db import Database

#: version of the finding rules: stored pairs from other rules are found again
RULES_VERSION = "1"
ACRONYM = r"[A-Z][A-Za-z0-9&]{0,2}[A-Z0-9][A-Za-z0-9&]{0,6}"
_NAME_THEN_ACRONYM = re.compile(r"((?:[^\s()]+[ \t]+){1,12}?[^\s()]+)[ \t]*\((" + ACRONYM + r")\)")
_ACRONYM_THEN_NAME = re.compile(r"\b(" + ACRONYM + r")[ \t]*\(([^()\n]{6,120})\)")
_LEADING = re.compile(r"^(?:(?:the|a|an|la|le|les|el|los|las|der|die|das|o|os|as|du|des|de|del|of)\s+"
                      r"|[ldjnmcst]['’]|\W+)", re.IGNORECASE)
_ROMAN = re.compile(r"^[IVXLC]+$")
#: words an acronym usually skips, in the corpus's languages
_SMALL = frozenset("""of the and for on in to a an at by with de des du la le les et pour sur en aux au d l
    del el los las y para por con da do das dos e em para und der die das für von zu im""".split())


def _by_initials(letters: list[str], words: list[str]) -> str | None:
    """The last words whose initials (small words aside, "gender-based" as two) spell the acronym."""
    for k in range(1, len(words) + 1):
        span = words[-k:]
        initials = [part[0].lower() for w in span for part in re.split(r"[-‐/]", w)
                    if part and part[0].isalpha() and part.lower() not in _SMALL]
        if initials == letters and span[0][:1].isalpha() and span[0].lower() not in _SMALL:
            return " ".join(span)
        if len(initials) > len(letters):
            return None
    return None


def long_form(acronym: str, before: str) -> str | None:
    """The words of ``before`` that ``acronym`` abbreviates, if its letters run through them:
    by the words' initials first, else by the letters in order (Schwartz and Hearst)."""
    letters = [c.lower() for c in acronym if c.isalnum() and not c.isdigit()]
    words = before.split()
    if len(letters) < 2 or not words:
        return None
    words = words[-min(len(words), len(letters) + 5, 2 * len(letters)):]
    initials = _by_initials(letters, words)
    if initials:
        return _checked(acronym, initials)
    text = " ".join(words)
    i = len(text) - 1
    for n, c in enumerate(reversed(letters)):
        first = n == len(letters) - 1
        while i >= 0 and (text[i].lower() != c or (first and i > 0 and text[i - 1].isalnum())):
            i -= 1
        if i < 0:
            return None
        i -= 1
    return _checked(acronym, text[text.rfind(" ", 0, i + 1) + 1:])


def _checked(acronym: str, name: str) -> str | None:
    """``name`` without a leading article or elision, if it is a name and not the acronym again."""
    while True:
        stripped = _LEADING.sub("", name, count=1)
        if stripped == name:
            break
        name = stripped
    name = name.strip(" ,;:")
    if len(name) <= len(acronym) or acronym.lower() in name.lower() or not name[:1].isalpha():
        return None
    return name


def find(text: str) -> list[tuple[str, str]]:
    """(acronym, name) pairs defined in ``text``."""
    out: list[tuple[str, str]] = []
    for m in _NAME_THEN_ACRONYM.finditer(text):
        acronym = m.group(2)
        name = long_form(acronym, m.group(1))
        if name and not _ROMAN.match(acronym):
            out.append((acronym, name))
    for m in _ACRONYM_THEN_NAME.finditer(text):
        acronym, inside = m.group(1), m.group(2).strip()
        name = long_form(acronym, inside)
        if name and name == inside and not _ROMAN.match(acronym):
            out.append((acronym, name))
    return out


def refresh(db: "Database", changed: Sequence[str]) -> bool:
    """Find the pairs of the changed documents (of every document when the rules changed);
    forget those of removed documents. Returns whether anything was stored."""
    raw = db.get_meta(keys.ACRONYMS)
    stored = json.loads(raw) if raw else {}
    current = stored.get("version") == RULES_VERSION
    docs: dict[str, list[list[str]]] = stored.get("docs", {}) if current else {}
    present = {d.doc_id for d in db.documents()}
    todo = [d for d in changed if d in present] if current else sorted(present)
    todo += [d for d in present if d not in docs and d not in todo]
    gone = [d for d in docs if d not in present]
    if not todo and not gone and current:
        return False
    for doc_id in gone:
        del docs[doc_id]
    for doc_id in todo:
        pairs = {(a, n, p.lang or "") for p in db.passages_of(doc_id) for a, n in find(p.text)}
        docs[doc_id] = sorted([a, n, lang] for a, n, lang in pairs)
    from kb.glossary import Glossary

    terms = Glossary(entries(docs.values())).to_json()
    with db.conn:
        db.set_meta(keys.ACRONYMS, json.dumps({"version": RULES_VERSION, "docs": docs}, ensure_ascii=False))
        db.set_meta(keys.ACRONYM_TERMS, terms)
    return True


def entries(per_doc: Iterable[list[list[str]]]) -> list["Entry"]:
    """Glossary entries from the documents' pairs: per acronym, its most frequent name in each language."""
    from kb.glossary import Entry

    names: dict[str, Counter[tuple[str, str]]] = {}
    for pairs in per_doc:
        for acronym, name, lang in pairs:
            names.setdefault(acronym, Counter())[(lang, name)] += 1
    out = []
    for acronym, counts in sorted(names.items()):
        by_lang: dict[str, str] = {}
        for (lang, name), _n in counts.most_common():
            by_lang.setdefault(lang or "en", name)
        out.append(Entry((acronym,), by_lang))
    return out
