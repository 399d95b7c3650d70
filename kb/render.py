"""Readable terminal output for results, documents and stats (the --json paths skip this)."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any, Callable

from kb.models import Document, SearchResult


def count(n: int, word: str) -> str:
    """"1 page", "2 pages": for the English nouns kb counts (page, passage, document, file)."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _width() -> int:
    return max(60, min(110, shutil.get_terminal_size((100, 20)).columns))


def render_result(result: SearchResult, where: Callable[[str, str], str] | None = None) -> str:
    """``where(doc_id, source)``: the file's path as this terminal should show it (default: ``source``)."""
    if not result.hits:
        return f'No passages found for "{result.query}".'
    width = _width()
    lines: list[str] = []
    for hit in result.hits:
        p = hit.passage
        lines.append(_head(hit, width))
        if hit.citation.section:
            lines.append(f"    § {textwrap.shorten(hit.citation.section, width - 6, placeholder='…')}")
        types = hit.extra.get("types") or {}
        if types:
            lines.append("    type: " + ", ".join(f"{t.replace('_', ' ')} {c:.2f}" for t, c in types.items()))
        body = textwrap.fill(" ".join(p.text.split()), width=width - 4, initial_indent="    ",
                             subsequent_indent="    ", break_on_hyphens=False)
        lines.append(body)
        source = where(p.doc_id, hit.citation.source) if where else hit.citation.source
        lines.append(f"    — {source}  [{p.passage_id}]")
        lines.extend(_versions(hit.extra, width))
        lines.append("")
    return "\n".join(lines).rstrip()


def _versions(extra: dict[str, Any], width: int) -> list[str]:
    """"also in en: …" for translations, "same text: …" for duplicates in other files."""
    out = []
    for item in extra.get("translations") or []:
        out.append(_fit(f"    also in {item['lang'] or '?'}: ", item, width))
    for item in extra.get("duplicates") or []:
        out.append(_fit("    same text: ", item, width))
    return out


def _fit(lead: str, item: dict[str, Any], width: int) -> str:
    """The title shortens, the page and paragraph never do."""
    title = item["citation"]["title"]
    locator = item["cite"][len(title):]
    room = max(20, width - len(lead) - len(locator))
    return lead + (title if len(title) <= room else title[: room - 1].rstrip() + "…") + locator


def _head(hit, width: int) -> str:
    """``[1] Title, p. 4, para. 8 c)  (fr, score …)``: the title shortens, the locator never does."""
    c = hit.citation
    locator = c.short()[len(c.title):]
    tail = f"{locator}  ({hit.passage.lang or '?'}, score {hit.score:.3f})"
    room = max(20, width - len(tail) - len(str(hit.rank)) - 3)
    title = c.title if len(c.title) <= room else c.title[: room - 1].rstrip() + "…"
    return f"[{hit.rank}] {title}{tail}"


def render_documents(documents: list[Document]) -> str:
    """One row per document; ids are never cut (they are typed back into --doc), so when the
    longest leaves too little room for titles, each title goes on its own line under its row."""
    if not documents:
        return "The index holds no documents yet: run `kb ingest PATH`."
    width = _width()
    id_w = max(len(d.doc_id) for d in documents)
    title_w = width - id_w - 26
    rows = [f"{'id':<{id_w}}  lang  pages  passages" + ("  title" if title_w >= 40 else "")]
    for d in documents:
        row = f"{d.doc_id:<{id_w}}  {d.lang or '?':<4}  {d.pages:>5}  {d.passages:>8}"
        if title_w >= 40:
            rows.append(f"{row}  {textwrap.shorten(d.title, title_w, placeholder='…')}")
        else:
            rows += [row, "    " + textwrap.shorten(d.title, width - 4, placeholder="…")]
    rows.append(count(len(documents), "document"))
    return "\n".join(rows)


def render_types(data: dict[str, Any]) -> str:
    """`kb types`: passages per lesson type and language, and whether labels are current."""
    from kb.lessons import TYPES

    langs = sorted(data["passages"], key=lambda lang: (-data["passages"][lang], lang))
    rows = [f"{'type':<16}" + "".join(f"{lang:>8}" for lang in langs) + f"{'total':>8}"]
    for t in TYPES:
        per = data["types"].get(t, {})
        rows.append(f"{t:<16}" + "".join(f"{per.get(lang, 0):>8}" for lang in langs) + f"{sum(per.values()):>8}")
    untyped = data["untyped"]
    rows.append(f"{'(no type)':<16}" + "".join(f"{untyped.get(lang, 0):>8}" for lang in langs) + f"{sum(untyped.values()):>8}")
    rows.append(f"{'passages':<16}" + "".join(f"{data['passages'][lang]:>8}" for lang in langs)
                + f"{sum(data['passages'].values()):>8}")
    rows.append("")
    if data.get("current"):
        rows.append(f"labels are current (cue file {data.get('cues')})")
    else:
        rows.append(f"labels are out of date with {data.get('cues')}: run `kb relabel` (no re-embedding)")
    return "\n".join(rows)


def _companion(info: dict[str, Any] | None) -> str:
    if not info:
        return "none"
    stored = f", stored as {info['stored_as']}" if info.get("stored_as") else ""
    return f"{info['model']} ({info.get('dim') or '?'}-d{stored}), a third list in hybrid search"


def _sparse(info: dict[str, Any] | None, passages: int) -> str:
    """Whether the index keeps sparse codes (kb/derived/sparse.py), for how many passages."""
    if not info:
        return "no codes (kb ingest PATH --sparse keeps them: a fourth list in hybrid search)"
    gap = passages - info["coded"]
    left = f"; {gap} without one until the next kb ingest" if gap > 0 else ""
    used = "a fourth list in hybrid search" if info["weight"] > 0 else "not searched (KB_SPARSE_WEIGHT 0)"
    return f"{info['head']} codes for {info['coded']} of {passages} passages{left}, {used}"


def _translation(info: dict[str, Any] | None, passages: int) -> str:
    """The index's pivot texts and what this machine can translate (kb/derived/pivot.py)."""
    if not info:
        return "-"
    recorded = info.get("recorded") or {}
    if recorded:
        text = (f"{info.get('passages', 0)} of {passages} passages into {recorded.get('pivot')}, for keyword "
                f"search across languages ({recorded.get('version')})")
    else:
        text = "none"
    if not info.get("enabled"):
        return f"{text}; here: {info.get('available')}"
    if passages and int(info.get("passages") or 0) < passages:
        text += "; `kb translate` fills in passages ingested without it"
    return text


def _bridge(info: dict[str, Any] | None) -> str:
    """Whether questions are translated into the index's languages for dense scores (kb/search/bridge.py)."""
    if not info or not info.get("weight"):
        return "not translated for dense scores (KB_BRIDGE_WEIGHT 0; 0.3 turns it on, docs/translation.md)"
    if len(info.get("languages") or ()) < 2:
        return "not translated for dense scores (translation off here, or one language)"
    return (f"translated into {', '.join(info['languages'])} for dense scores across languages "
            f"(KB_BRIDGE_WEIGHT {info['weight']:g})")


def render_stats(data: dict[str, Any]) -> str:
    langs = ", ".join(f"{k} {v}" for k, v in data.get("languages", {}).items()) or "-"
    size = data.get("bytes_on_disk", 0) / 1e6
    return "\n".join([
        f"index      {data['index']}",
        f"model      {data['model']} ({data.get('dim') or '?'}-d)",
        f"companion  {_companion(data.get('companion'))}",
        f"sparse     {_sparse(data.get('sparse'), data.get('passages', 0))}",
        f"translated {_translation(data.get('translation'), data.get('passages', 0))}",
        f"questions  {_bridge(data.get('bridge'))}",
        f"documents  {data['documents']}",
        f"pages      {data['pages']}",
        f"passages   {data['passages']}",
        f"languages  {langs}",
        f"disk       {size:.1f} MB",
        f"glossary   {_glossary(data.get('glossary') or {})}",
    ])


def _glossary(g: dict[str, int]) -> str:
    """Whether acronyms in questions get spelled out: a glossary given, and the ones the documents define."""
    found = g.get("defined_in_documents", 0)
    defined = f"; {count(found, 'acronym')} defined in the documents" if found else ""
    if not g.get("terms"):
        return f"none given (kb ingest PATH --glossary FILE, see docs/glossary.md){defined}"
    return f"{count(g['terms'], 'term')}, {count(g.get('acronyms', 0), 'acronym')}{defined}"
