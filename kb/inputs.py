"""Reading the small text files users write by hand: manifests, glossaries, topics and question
files. Spreadsheet and Notepad exports start with a byte-order mark and may not be UTF-8, so the
mark is dropped and a file in another encoding is refused by name, never with a traceback."""

from __future__ import annotations

from pathlib import Path

from kb.errors import UsageError


#: bytes read at most: a hand-written file is far smaller, and /dev/zero has no end
LIMIT = 64 * 1024 * 1024


def read_user_file(path: str | Path, what: str, limit: int = LIMIT) -> str:
    """The text of ``path`` (UTF-8, with or without a byte-order mark); ``what`` names the file
    in errors ("manifest", "queries file")."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except FileNotFoundError:
        raise UsageError(f"cannot read {what} {path}: file not found") from None
    except OSError as err:
        raise UsageError(f"cannot read {what} {path}: {err.strerror or err}") from None
    if len(data) > limit:
        raise UsageError(f"{what} {path} is larger than {limit // (1024 * 1024)} MB: not a file written by hand")
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {err.start}: {data[err.start:err.start + 1]!r}); "
                         "save it as UTF-8") from None
