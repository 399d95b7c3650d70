"""Lesson types in briefing packs: restrict a topic to some types, or split it by type.

A topic in a topics file may say ``type: barrier`` (or ``type: [barrier, risk]``) to
quote only such passages, and a pack may say ``group_by: type`` to give each topic one
section per lesson type ("Obstacles", "Bonnes pratiques", ...), in the pack's language.
Both work by rewriting the topics before selection, so the selection and the renderers
stay as they are: ``kb.brief`` passes ``topic_types(topic)`` to its searches and calls
``group_topics_by_type`` when asked to group.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from kb.lessons import TYPES, parse_types, type_label

if TYPE_CHECKING:
    from kb.brief.topics import TopicSpec, TopicsSpec

#: the order of sections when a topic is split by type
BRIEF_ORDER = ("barrier", "good_practice", "recommendation", "risk", "context")
#: separates a topic's heading from its type in a split topic's heading
SEPARATOR = " — "


def topic_types(topic: "TopicSpec") -> tuple[str, ...]:
    """The lesson types a topic asks for (its ``type``: one name, a comma list or a list)."""
    value = getattr(topic, "type", None)
    if value is None:
        return ()
    return parse_types(list(value) if isinstance(value, (list, tuple)) else [value])


def group_topics_by_type(spec: "TopicsSpec", types: Sequence[str] = BRIEF_ORDER) -> "TopicsSpec":
    """One topic per (topic, lesson type): "Skills recognition — Barriers", "... — Good practice"...

    A topic that already names its types is split into those types only, and one that names
    a single type is left whole (its heading already says it). Each new topic
    keeps the original's questions, intro and quota; its ``type`` is the one lesson type.
    Topics that find nothing of a type can be dropped by the caller after selection.
    """
    wanted = parse_types(list(types)) or TYPES
    out: list[TopicSpec] = []
    for topic in spec.topics:
        chosen = topic_types(topic) or wanted
        if len(topic_types(topic)) == 1:  # already one type: its heading says so ("Barrier: …", not "… — Barriers")
            out.append(topic)
            continue
        for t in [t for t in BRIEF_ORDER if t in chosen]:
            heading = f"{topic.heading}{SEPARATOR}{type_label(t, spec.lang)}"
            out.append(replace(topic, heading=heading, type=t))
    return replace(spec, topics=tuple(out))
