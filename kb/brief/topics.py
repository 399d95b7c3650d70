"""The topics file: what a facilitator writes to ask for a briefing pack.

It is parsed into typed dataclasses and validated up front, so that a typo
(``question:`` for ``questions:``, an empty topic) is reported by name with a
``UsageError`` before any search runs, and so that the CLI (a path) and the API
(an already-parsed object) share exactly the same rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kb.errors import UsageError

#: limits that keep one request (for example ``POST /briefs``) bounded
MAX_TOPICS = 30
MAX_QUESTIONS = 12
MAX_QUESTION_CHARS = 2000
MAX_PER_TOPIC = 20
MAX_HEADING_CHARS = 300
MAX_INTRO_CHARS = 5000
DEFAULT_PER_TOPIC = 4

_PACK_KEYS = {"title", "intro", "lang", "per_topic", "topics", "group_by"}
_TOPIC_KEYS = {"heading", "questions", "question", "intro", "type", "per_topic"}


@dataclass(frozen=True)
class TopicSpec:
    """One section of the pack: a heading and the questions whose answers it quotes."""

    heading: str
    questions: tuple[str, ...]
    intro: str | None = None
    #: lesson type(s) to quote, comma-separated ("barrier", "good_practice, risk"): only
    #: passages labelled so are searched (see kb.lessons)
    type: str | None = None
    #: overrides the pack's ``per_topic`` for this topic only
    per_topic: int | None = None


@dataclass(frozen=True)
class TopicsSpec:
    """A whole pack request."""

    title: str
    topics: tuple[TopicSpec, ...]
    intro: str | None = None
    #: preferred language (ISO 639-1) for quotes when a translation exists
    lang: str | None = None
    per_topic: int = DEFAULT_PER_TOPIC
    #: "type": each topic becomes one section per lesson type (barriers, good practice, ...)
    group_by: str | None = None
    source: str | None = field(default=None, compare=False)

    def quota(self, topic: TopicSpec) -> int:
        return topic.per_topic or self.per_topic


#: a topics file is a page or two; anything past this is not one
TOPICS_LIMIT = 1024 * 1024


def load_topics(path_or_obj: str | Path | Mapping[str, Any] | TopicsSpec) -> TopicsSpec:
    """Parse and validate a topics file (.yaml, .yml, .json) or an already-parsed mapping."""
    if isinstance(path_or_obj, TopicsSpec):
        return path_or_obj
    if isinstance(path_or_obj, (str, Path)):
        path = Path(path_or_obj)
        return _parse(_read(path), where=str(path), source=str(path))
    return _parse(path_or_obj, where="topics")  # an object (the API's body); anything else is refused there


def _read(path: Path) -> Any:
    from kb.inputs import read_user_file

    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml", ""):  # before reading: /dev/zero has no end
        raise UsageError(f"topics file {path} must end in .yaml, .yml or .json")
    raw = read_user_file(path, "topics file", limit=TOPICS_LIMIT)
    if not raw.strip():
        raise UsageError(f"topics file {path} is empty (see corpus/topics.yaml for an example)")
    try:
        if suffix == ".json":
            return json.loads(raw)
        import yaml

        return yaml.safe_load(raw)
    except ValueError as err:  # json.JSONDecodeError: one line already
        raise UsageError(f"{path} is not valid JSON: {err}") from err
    except Exception as err:  # yaml.YAMLError and its many subclasses: several lines with a caret
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        reason = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{path} is not valid YAML: {reason}{where}") from err


def _text(value: Any, where: str, required: bool = True, limit: int | None = None) -> str | None:
    if value is None and not required:
        return None
    from kb.search.query import is_blank

    if not isinstance(value, str) or is_blank(value):  # invisible characters only (U+200B) count as empty
        kind = "missing" if value is None else f"not a non-empty string ({value!r})"
        raise UsageError(f"{where} is {kind}")
    value = value.strip()
    if limit and len(value) > limit:
        raise UsageError(f"{where} is {len(value)} characters long; the limit is {limit}")
    return value


def _one_line(value: str | None) -> str | None:
    """A title, heading or question on one line: a line break in it would start a new block in
    the Markdown pack ("T\n# injected" would be a second title)."""
    return " ".join(value.split()) if value is not None else None


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PER_TOPIC:
        raise UsageError(f"{where} must be a whole number from 1 to {MAX_PER_TOPIC}, got {value!r}")
    return value


def _unknown(obj: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(str(k) for k in obj if k not in allowed)
    if extra:
        raise UsageError(f"{where}: unknown key(s) {', '.join(extra)} (allowed: {', '.join(sorted(allowed))})")


def _lang(value: Any, where: str) -> str | None:
    from kb.text.lang import iso_code

    text = _text(value, where, required=False)
    if text is None:
        return None
    code = iso_code(text)
    if code is None:
        raise UsageError(f"{where} must be an ISO 639-1 language code such as 'fr', got {value!r}")
    return code


def _parse(obj: Any, where: str, source: str | None = None) -> TopicsSpec:
    if not isinstance(obj, Mapping):
        raise UsageError(f"{where}: expected an object with 'title' and 'topics', got {type(obj).__name__}")
    _unknown(obj, _PACK_KEYS, where)
    title = _one_line(_text(obj.get("title"), f"{where}: 'title'", limit=MAX_HEADING_CHARS))
    raw_topics = obj.get("topics")
    if not isinstance(raw_topics, list) or not raw_topics:
        raise UsageError(f"{where}: 'topics' must be a non-empty list")
    if len(raw_topics) > MAX_TOPICS:
        raise UsageError(f"{where}: {len(raw_topics)} topics; the limit is {MAX_TOPICS}")
    topics = tuple(_topic(t, f"{where}: topic {n}") for n, t in enumerate(raw_topics, start=1))
    return TopicsSpec(
        title=title or "",
        topics=topics,
        intro=_text(obj.get("intro"), f"{where}: 'intro'", required=False, limit=MAX_INTRO_CHARS),
        lang=_lang(obj.get("lang"), f"{where}: 'lang'"),
        per_topic=_count(obj.get("per_topic"), f"{where}: 'per_topic'") or DEFAULT_PER_TOPIC,
        group_by=_group_by(obj.get("group_by"), f"{where}: 'group_by'"),
        source=source,
    )


def _group_by(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if value != "type":
        raise UsageError(f"{where} can only be 'type' (one section per lesson type), got {value!r}")
    return "type"


def _lesson_types(value: Any, where: str) -> str | None:
    """A topic's ``type``: one lesson type, a comma list or a list of them; None when absent."""
    if value is None:
        return None
    from kb.lessons import parse_types

    if not isinstance(value, (str, list)) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
        raise UsageError(f"{where} must be a lesson type or a list of them, got {value!r}")
    try:
        types = parse_types(value)
    except UsageError as err:
        raise UsageError(f"{where}: {err}") from None
    return ", ".join(types) or None


def _topic(obj: Any, where: str) -> TopicSpec:
    if not isinstance(obj, Mapping):
        raise UsageError(f"{where}: expected an object with 'heading' and 'questions'")
    _unknown(obj, _TOPIC_KEYS, where)
    heading = _one_line(_text(obj.get("heading"), f"{where}: 'heading'", limit=MAX_HEADING_CHARS)) or ""
    where = f"{where} ({heading!r})"
    if "question" in obj and "questions" in obj:
        raise UsageError(f"{where}: give 'questions' (a list) or 'question', not both")
    raw = obj.get("questions", obj.get("question"))
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        raise UsageError(f"{where}: 'questions' must be a non-empty list of strings")
    if len(raw) > MAX_QUESTIONS:
        raise UsageError(f"{where}: {len(raw)} questions; the limit is {MAX_QUESTIONS}")
    questions = tuple(
        _one_line(_text(q, f"{where}: question {i}", limit=MAX_QUESTION_CHARS)) or ""
        for i, q in enumerate(raw, start=1)
    )
    return TopicSpec(
        heading=heading,
        questions=questions,
        intro=_text(obj.get("intro"), f"{where}: 'intro'", required=False, limit=MAX_INTRO_CHARS),
        type=_lesson_types(obj.get("type"), f"{where}: 'type'"),
        per_topic=_count(obj.get("per_topic"), f"{where}: 'per_topic'"),
    )
