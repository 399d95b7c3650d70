"""One writer per index: an advisory lock file, released by the OS if the writer dies."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from kb.errors import IndexBusyError


class WriterLock:
    def __init__(self, index_dir: Path, wait: bool = False) -> None:
        self._path = index_dir / "writer.lock"
        self._wait = wait
        self._fd: int | None = None

    def __enter__(self) -> "WriterLock":
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self._wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise IndexBusyError(
                f"another kb process is writing to {self._path.parent} (pid {holder}); "
                "wait for it to finish or use --wait"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
