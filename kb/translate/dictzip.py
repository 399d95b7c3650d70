"""Random access into a dictd ``.dict.dz`` file (dictzip: gzip cut into separately inflatable chunks).

FreeDict's German-English data is 100 MB once inflated; a word lookup needs a few hundred bytes
of it. dictzip records the compressed size of each ~58 KB chunk in the gzip header's "RA" extra
field, and each chunk is deflated with a full flush, so one chunk inflates on its own.
A plain ``.dict`` file (not compressed) is read directly.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10


class DictzipError(ValueError):
    """The file is not a dictzip file this reader understands."""


class DictFile:
    """Bytes of a dictd data file by (offset, length) in its uncompressed text."""

    CACHE_CHUNKS = 64

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._chunks: OrderedDict[int, bytes] = OrderedDict()
        self._plain = not path.name.endswith(".dz")
        self._chunk_len = 0
        self._starts: list[int] = []
        if not self._plain:
            self._read_header()

    def _read_header(self) -> None:
        with open(self.path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:3] != b"\x1f\x8b\x08":
                raise DictzipError(f"{self.path} is not gzip")
            flags = head[3]
            if not flags & _FEXTRA:
                raise DictzipError(f"{self.path} is gzip without dictzip's chunk table")
            (xlen,) = struct.unpack("<H", head[10:12])
            extra = f.read(xlen)
            pos, table = 0, None
            while pos + 4 <= len(extra):
                sub, size = extra[pos:pos + 2], struct.unpack("<H", extra[pos + 2:pos + 4])[0]
                if sub == b"RA":
                    table = extra[pos + 4:pos + 4 + size]
                pos += 4 + size
            if table is None or len(table) < 6:
                raise DictzipError(f"{self.path} has no dictzip chunk table")
            _version, chunk_len, count = struct.unpack("<HHH", table[:6])
            sizes = struct.unpack(f"<{count}H", table[6:6 + 2 * count])
            offset = 12 + xlen
            for flag in (_FNAME, _FCOMMENT):
                if flags & flag:  # a zero-terminated string
                    f.seek(offset)
                    rest = f.read(4096)
                    offset += rest.index(b"\0") + 1
            if flags & _FHCRC:
                offset += 2
        self._chunk_len = chunk_len
        self._starts = [offset]
        for size in sizes:
            self._starts.append(self._starts[-1] + size)

    def _chunk(self, index: int) -> bytes:
        cached = self._chunks.get(index)
        if cached is not None:
            self._chunks.move_to_end(index)
            return cached
        with open(self.path, "rb") as f:
            f.seek(self._starts[index])
            raw = f.read(self._starts[index + 1] - self._starts[index])
        data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw)
        self._chunks[index] = data
        while len(self._chunks) > self.CACHE_CHUNKS:
            self._chunks.popitem(last=False)
        return data

    def read(self, offset: int, length: int) -> bytes:
        if self._plain:
            with open(self.path, "rb") as f:
                f.seek(offset)
                return f.read(length)
        with self._lock:
            first, last = offset // self._chunk_len, (offset + length - 1) // self._chunk_len
            if last >= len(self._starts) - 1:
                raise DictzipError(f"offset {offset} is past the end of {self.path}")
            data = b"".join(self._chunk(i) for i in range(first, last + 1))
        start = offset - first * self._chunk_len
        return data[start:start + length]
