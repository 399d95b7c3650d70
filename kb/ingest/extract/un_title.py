"""The title of a UN resolution: its own title line, not the letterhead above it.

A General Assembly resolution's first page starts with "United Nations  A/RES/79/217",
"General Assembly", "Distr.: General": the layout's largest type, which the title guess
took ("United Nations A/RES/79/217 General Assembly" for every resolution). The title is
the line that repeats the symbol's number: "79/217. International migration and
development". It becomes "International migration and development (A/RES/79/217)", the
subject first and the symbol a reader can look up after it.
"""

from __future__ import annotations

import re

from kb.ingest.extract._common import squash

_SYMBOL = re.compile(r"\b([A-Z]{1,2}/RES/(\d{1,3})/(\d{1,4}))\b")
TITLE_MAX = 250


def un_resolution_title(first_page: str) -> str | None:
    """"<title> (A/RES/nn/nnn)" when the page carries a resolution symbol and its title line."""
    head = first_page[:3000]
    symbol = _SYMBOL.search(head)
    if not symbol:
        return None
    full, session, number = symbol.groups()
    line = re.compile(rf"^\s*{session}/{number}\.\s+(\S.*)$")
    lines = head.split("\n")
    for i, raw in enumerate(lines):
        m = line.match(raw)
        if not m:
            continue
        parts = [m.group(1)]
        for nxt in lines[i + 1:i + 4]:  # a long title wraps onto the next lines
            if not nxt.strip() or nxt.strip().startswith("The General Assembly"):
                break
            parts.append(nxt)
        title = squash(" ".join(parts)).rstrip(" .")
        if 3 <= len(title) <= TITLE_MAX:
            return f"{title} ({full})"
    return None
