"""The one pattern for web addresses (and e-mail addresses) that every stage uses.

Chunking, repair, page-furniture detection, lesson typing and brief selection all need to
set addresses aside before they count letters or look for sentences; one pattern keeps
them agreeing on what an address is.
"""

from __future__ import annotations

import re

#: a web address, from its scheme or "www." to the next space
URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
#: an e-mail address (not preceded by a non-space, so "a@b" inside a word is left alone)
EMAIL = re.compile(r"(?<!\S)\S[^\s@]*@\S+\.\w+")
#: either of the two
URL_OR_EMAIL = re.compile(f"{URL.pattern}|{EMAIL.pattern}", re.IGNORECASE)


def without_urls(text: str) -> str:
    """The text with every web address replaced by a space."""
    return URL.sub(" ", text)


def only_links(text: str) -> bool:
    """A passage that is a list of web addresses (a footnote block): under 20 letters besides them."""
    return sum(c.isalpha() for c in without_urls(text)) < 20
