"""Rows to records: the one list of passage columns and how a row becomes a Passage."""

from __future__ import annotations

import re
import sqlite3
from pathlib import PurePosixPath

from kb.models import Passage


#: one list of passage columns, for every query that builds a Passage
PASSAGE_COLUMNS = (
    "id, passage_id, doc_id, ordinal, text, lang, page_start, page_end, paragraph, section, "
    "char_start, char_end"
)


def row_to_passage(row: sqlite3.Row) -> Passage:
    return Passage(
        passage_id=row["passage_id"], doc_id=row["doc_id"], ordinal=row["ordinal"],
        text=row["text"], lang=row["lang"], page_start=row["page_start"],
        page_end=row["page_end"], paragraph=row["paragraph"], section=row["section"],
        char_start=row["char_start"], char_end=row["char_end"],
    )


def shown_source(source: str) -> str:
    """An absolute path stored by an older kb: its folder and name only. Citations go into
    packs and API answers read on other machines; the folders above are this machine's."""
    if not (source.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", source)):
        return source
    parts = PurePosixPath(source.replace("\\", "/")).parts
    return "/".join(parts[-2:]) if len(parts) > 2 else parts[-1]
