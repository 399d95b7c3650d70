"""Put list letters a PDF drew apart from their items back in front of them.

The GCM objective sheets (and other designed PDFs) draw "a." "b." "c." in a column of
their own; the text layer holds them after the page's items, so a passage ended in
"… recruitment industry a. b. c." and an action was cited without its letter. The letter
sits on the baseline of its item's first line, so a page that has letters alone on their
lines is read again with positions and each letter goes where it was printed. A heading
printed above such a list but stored after it ("Associated actions") goes back above it,
and a running header glued to the first line ("› GCM OBJECTIVE 6Establish …", two
baselines pypdf ran together) is cut off onto its own line.

The positions come from the same reading as the text (a pypdf text visitor), so nothing is
read twice; a page where they disagree with the text keeps pypdf's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

#: a list letter alone on its line, as pypdf gives the GCM sheets' letter column
BARE_LETTER = re.compile(r"^[ \t]*[a-z]\.[ \t]*$", re.M)
SAME_LINE = 2.5      # points: a letter and its item's first line share a baseline
NEW_BASELINE = 3.0   # points: a piece this far off the line's baseline that moves left starts a new line
HEADING_MAX = 60     # characters: a heading printed above a list, not a line of it
GLUED_MAX = 40       # characters: a running header glued to a line is short


@dataclass
class _Line:
    text: str = ""
    x: float | None = None
    y: float | None = None
    pieces: list[tuple[float, float, str]] = field(default_factory=list)


class Positions:
    """pypdf text visitor: the page's lines (exactly those of ``extract_text``) with positions."""

    def __init__(self) -> None:
        self.lines: list[_Line] = [_Line()]

    def __call__(self, text: str, cm: Any, tm: Any, font: Any, font_size: float) -> None:
        try:
            x = float(tm[4] * cm[0] + tm[5] * cm[2] + cm[4])
            y = float(tm[4] * cm[1] + tm[5] * cm[3] + cm[5])
        except (TypeError, ValueError, IndexError):
            x = y = float("nan")
        for i, piece in enumerate(text.split("\n")):
            if i:
                self.lines.append(_Line())
            line = self.lines[-1]
            line.text += piece
            if piece.strip():
                line.pieces.append((x, y, piece))
                if line.x is None:
                    line.x, line.y = x, y


def relaid(positions: Positions, text: str) -> str:
    """``text`` (pypdf's text of a page, read with ``positions`` as its visitor) laid out again.

    Header lines run into the next line are cut off, and bare letters are moved onto their
    items' lines. Returns ``text`` unchanged when the positions disagree with it.
    """
    if "\n".join(line.text for line in positions.lines) != text:
        return text
    lines = _split_glued(positions.lines)
    if len(lines) == len(positions.lines) and not BARE_LETTER.search(text):
        return text
    placed = _place_letters(lines)
    return "\n".join(line.text for line in _lift_headings(lines, placed))


def _split_glued(lines: list[_Line]) -> list[_Line]:
    """Cut a line where a piece moves back left onto another baseline (a header run into text)."""
    out: list[_Line] = []
    for line in lines:
        cut = next((i for i in range(1, len(line.pieces))
                    if abs(line.pieces[i][1] - line.pieces[0][1]) > NEW_BASELINE
                    and len("".join(p[2] for p in line.pieces[:i]).strip()) <= GLUED_MAX
                    and line.pieces[i][0] < line.pieces[i - 1][0]), None)
        if cut is None:
            out.append(line)
            continue
        first_text = "".join(p[2] for p in line.pieces[:cut])
        if not line.text.startswith(first_text):
            out.append(line)
            continue
        head = _Line(first_text, line.pieces[0][0], line.pieces[0][1], line.pieces[:cut])
        rest = line.pieces[cut:]
        out += [head, _Line(line.text[len(first_text):], rest[0][0], rest[0][1], rest)]
    return out


def _place_letters(lines: list[_Line]) -> list[int]:
    """Prefix each bare letter to the line printed on its baseline, right of it; returns those lines' indexes.

    A letter whose item's first line is missing from the text layer (a fault of some sheets)
    goes to the first line just below it (within a line and a half), where what is left of
    its item begins, with "…" for the missing words.
    """
    letters = [i for i, line in enumerate(lines) if BARE_LETTER.fullmatch(line.text) and line.y is not None]
    if not letters:
        return []
    body = [i for i, line in enumerate(lines) if i not in letters and line.y is not None and line.text.strip()]
    spacing = _line_spacing([lines[i] for i in body])
    targets: dict[int, int] = {}
    for i in letters:
        letter = lines[i]
        right = [j for j in body if lines[j].x > letter.x and j not in targets.values()]  # type: ignore[operator]
        same = [j for j in right if abs(lines[j].y - letter.y) <= SAME_LINE]  # type: ignore[operator]
        below = [j for j in right if 0 < letter.y - lines[j].y <= 1.5 * spacing]  # type: ignore[operator]
        pick = min(same, key=lambda j: abs(lines[j].y - letter.y)) if same else (  # type: ignore[operator]
            max(below, key=lambda j: lines[j].y) if below else None)  # type: ignore[arg-type, return-value]
        if pick is not None:
            targets[i] = pick
    for i, j in targets.items():
        text = lines[j].text.lstrip()
        # the item's first line is missing from the text layer (it starts mid-sentence): say so
        gap = "… " if text[:1].islower() else ""
        lines[j].text = f"{lines[i].text.strip()} {gap}{text}"
    items = {id(lines[j]) for j in targets.values()}
    lines[:] = [line for i, line in enumerate(lines) if i not in targets]
    return [k for k, line in enumerate(lines) if id(line) in items]


def _line_spacing(lines: list[_Line]) -> float:
    """The usual distance between consecutive baselines of the page's text (points)."""
    gaps = sorted(abs(a.y - b.y) for a, b in zip(lines, lines[1:])  # type: ignore[operator]
                  if a.y is not None and b.y is not None and 4 < abs(a.y - b.y) < 40)
    return gaps[len(gaps) // 2] if gaps else 14.0


def _lift_headings(lines: list[_Line], lettered: list[int]) -> list[_Line]:
    """A short heading printed above the first lettered item but stored after the list goes above it."""
    if not lettered:
        return lines
    first = lettered[0]
    top = lines[first]
    out = list(lines)
    for k in range(len(lines) - 1, first, -1):
        line = lines[k]
        text = line.text.strip()
        if (line.y is None or top.y is None or not text or len(text) > HEADING_MAX
                or text[-1:] in ".;:,!?" or not text[:1].isupper() or line.y <= top.y):
            continue
        above = [j for j in range(first) if lines[j].y is not None and lines[j].y > line.y]  # type: ignore[operator]
        slot = (above[-1] + 1) if above else 0
        if any(lines[j].y is not None and lines[j].y < line.y for j in range(slot, first)):  # type: ignore[operator]
            continue  # it would not sit right above the list
        out.remove(line)
        out.insert(slot, line)
        break
    return out
