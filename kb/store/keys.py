"""Every key of an index's ``meta`` table, the vector tables, and the companion's names.

One module, so that a reader finds what an index records in one place and no two modules
spell a key differently; the rules about companions that only need names live here too.
"""

from __future__ import annotations

# -- meta keys ---------------------------------------------------------------------------
MODEL = "model"                  # the embedding model the index answers to
DIM = "dim"                      # its vectors' dimension
FORMAT = "format"                # the on-disk format version
EMBED_TEXT = "embed_text"        # how passage text became embedded text (kb/embed/context.py)
GENERATION = "generation"        # bumped by every committed change (kb/store/live.py follows it)
LANGUAGE_MEANS = "language_means"  # per-language mean vectors (kb/derived/language_means.py)
LESSON_CUES = "lesson_cues"      # fingerprint of the cue file the lesson types came from
GLOSSARY = "glossary"            # acronyms for query expansion (kb/glossary.py)
ACRONYMS = "acronyms_found"      # acronyms each document defines (kb/derived/acronyms.py) ...
ACRONYM_TERMS = "acronym_terms"  # ... and the glossary terms made of them, for the search
ROLES = "roles"                  # version of the rules the stored passage roles came from
TRANSLATIONS = "translations"    # version of the link rules the translation links came from
TRANSLATOR = "translator"        # pivot language and translator versions of the pivot texts (kb/translate/)
COMPANION_MODEL = "companion_model"  # the companion model, "none", or absent until complete
COMPANION_DIM = "companion_dim"
#: the element type of the companion's stored vectors, fixed when the index is created:
#: float16 halves a 512-d row (bench/README.md); indexes made before it keep float32
COMPANION_DTYPE = "companion_dtype"
#: the sparse head whose codes the index keeps (kb/derived/sparse.py), absent when it keeps none
SPARSE_HEAD = "sparse_head"

# -- vector tables -----------------------------------------------------------------------
COMPANION_TABLE = "companion_embeddings"
VECTOR_TABLES = ("embeddings", COMPANION_TABLE)
#: the companion's FAISS snapshot: companion-<generation>.faiss and companion.json
COMPANION_FILE = "companion"
#: each passage's sparse code (its strongest latent features), by text hash like the vectors
SPARSE_TABLE = "sparse_codes"

# -- companion names ---------------------------------------------------------------------
DEFAULT_COMPANION = "usem3"
#: recorded for an index built without a companion
COMPANION_NONE = "none"
#: values of Settings.companion that mean "no companion"
COMPANION_OFF = ("none", "off", "no", "false", "0")


def companion_named(asked: str) -> str | None:
    """A companion as named by a user: None for "none" (and its synonyms), else the recorded name."""
    from kb.embed import canonical_name

    return None if asked.strip().lower() in COMPANION_OFF else canonical_name(asked)


def companion_wanted(asked: str | None, model: str) -> str | None:
    """The companion a new index with ``model`` gets when ``asked`` (None: the default)."""
    name = companion_named(asked or DEFAULT_COMPANION)
    return None if name == model else name
