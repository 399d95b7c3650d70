"""One Apertium language pair as a long-lived process (null-flush mode).

Starting an Apertium pipeline costs ~0.2-0.5 s (eleven programs load their transducers), far
more than translating a question (~1 ms warm), so each pair runs once per kb process and is fed
texts separated by NUL characters. The ``apertium`` shell script cannot be used for this: its
text deformatter (apertium-destxt) never flushes on NUL. The pair's pipeline is therefore taken
from ``apertium-wblank-mode -z`` (the pipeline Apertium itself runs, every stage told to flush on
NUL) and the text is given to it unformatted, with the stream format's special characters
replaced by spaces (they never matter to keyword search, and an unescaped ``^`` or ``[`` would
desynchronise the stream). ``lt-proc -b`` waits for one character after a word's closing ``$``
before it flushes, so every text is sent with a trailing newline.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Sequence

MODES_DIR = Path("/usr/share/apertium/modes")
#: characters with a meaning in Apertium's stream format (and NUL, our separator)
_SPECIAL = re.compile(r"[\[\]^$/\\<>@{}*#~|\x00]")
#: marks an untranslated or half-generated word may keep in the output (@unknown, #lemma, \<tag\>)
_LEFTOVER = re.compile(r"\\|[#@*~]|<[a-z_0-9]+>")
#: longest text sent in one piece; longer ones are cut at sentence or word boundaries
MAX_PIECE = 4000


class ApertiumError(RuntimeError):
    """The pair could not translate a text: it died, hung or is not installed."""


def mode_pipeline(mode: str, modes_dir: Path = MODES_DIR) -> str:
    """The shell pipeline of ``mode`` with every stage in null-flush mode."""
    path = modes_dir / f"{mode}.mode"
    tool = shutil.which("apertium-wblank-mode")
    if tool is None or not path.is_file():
        raise ApertiumError(f"Apertium pair {mode} is not installed ({path})")
    out = subprocess.run([tool, "-z", str(path)], capture_output=True, text=True, timeout=30)
    if out.returncode != 0 or not out.stdout.strip():
        raise ApertiumError(f"apertium-wblank-mode failed for {mode}: {out.stderr.strip()[:200]}")
    return out.stdout.strip()


def clean_input(text: str) -> str:
    """``text`` safe for the stream: special characters become spaces, one trailing newline."""
    return _SPECIAL.sub(" ", text).rstrip("\n") + "\n"


def clean_output(text: str) -> str:
    """The translation without stream leftovers (escapes, unknown-word marks, stray tags)."""
    return _LEFTOVER.sub("", text).strip()


def pieces(text: str, limit: int = MAX_PIECE) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` characters, at a sentence end or a space
    where there is one: a stage's buffers and its time grow with the input."""
    out: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind(". ", 0, limit), text.rfind("\n", 0, limit))
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        out.append(text[: cut + 1])
        text = text[cut + 1:]
    out.append(text)
    return out


class ApertiumPipe:
    """A running pipeline for one pair; thread-safe (one text at a time), restarted on death.

    ``timeout``: seconds allowed per text, plus ``per_char`` per character; a pipeline that
    overruns is killed (its whole process group) and started again on the next call.
    """

    def __init__(self, mode: str, modes_dir: Path = MODES_DIR, timeout: float = 10.0,
                 per_char: float = 0.002) -> None:
        self.mode = mode
        self.modes_dir = modes_dir
        self.timeout = timeout
        self.per_char = per_char
        self._proc: subprocess.Popen[bytes] | None = None
        self._script: str | None = None
        self._lock = threading.Lock()
        self._pending = b""
        #: times the pipeline was (re)started, for tests and stats
        self.starts = 0

    # -- process ---------------------------------------------------------------------
    def _start(self) -> subprocess.Popen[bytes]:
        if self._script is None:
            self._script = mode_pipeline(self.mode, self.modes_dir)
        # $1: generation without unknown-word marks (what `apertium -u` passes); $2: tagger options
        self._proc = subprocess.Popen(
            ["bash", "-c", self._script, "kb-apertium", "-n", ""],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True, bufsize=0)
        self._pending = b""
        self.starts += 1
        return self._proc

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for stream in (proc.stdin, proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        with self._lock:
            self._kill()

    def __del__(self) -> None:  # a forgotten pipe must not leave eleven processes behind
        try:
            self._kill()
        except Exception:
            pass

    # -- translating -----------------------------------------------------------------
    def translate(self, text: str) -> str:
        """``text`` translated; ApertiumError (and a restart next time) when the pair fails."""
        if not text.strip():
            return ""
        return " ".join(self._one(piece) for piece in pieces(text))

    def translate_many(self, texts: Sequence[str]) -> list[str | None]:
        """Each text translated, None for one the pair chokes on (it is restarted after it).

        The texts are written by a second thread while this one reads, so the pipeline's
        eleven stages work on different texts at once instead of waiting for each other.
        """
        results: list[str | None] = [None] * len(texts)
        todo = [i for i, t in enumerate(texts) if t.strip()]
        for i, t in enumerate(texts):
            if not t.strip():
                results[i] = ""
        long = [i for i in todo if len(texts[i]) > MAX_PIECE]
        todo = [i for i in todo if len(texts[i]) <= MAX_PIECE]
        done = self._stream([texts[i] for i in todo]) if todo else []
        for i, out in zip(todo, done):
            results[i] = out
        for i in [*[i for i, out in zip(todo, done) if out is None], *long]:
            try:  # one at a time: the text that choked the stream gets its own failure
                results[i] = self.translate(texts[i])
            except ApertiumError:
                results[i] = None
        return results

    def _one(self, text: str) -> str:
        with self._lock:
            proc = self._proc if self._proc and self._proc.poll() is None else self._start()
            data = clean_input(text).encode("utf-8") + b"\0"
            try:
                assert proc.stdin is not None
                proc.stdin.write(data)
                return clean_output(self._read(proc, self.timeout + self.per_char * len(text)))
            except (OSError, ApertiumError) as err:
                self._kill()
                raise ApertiumError(f"Apertium {self.mode} failed: {err}") from None

    def _stream(self, texts: Sequence[str]) -> list[str | None]:
        """Pipelined translation of short texts; from the first failure on, None."""
        out: list[str | None] = [None] * len(texts)
        with self._lock:
            proc = self._proc if self._proc and self._proc.poll() is None else self._start()
            payload = [clean_input(t).encode("utf-8") + b"\0" for t in texts]
            failed = threading.Event()

            def write() -> None:
                try:
                    assert proc.stdin is not None
                    for chunk in payload:
                        if failed.is_set():
                            return
                        proc.stdin.write(chunk)
                except (OSError, ValueError):  # the pipeline died, or was killed and closed
                    failed.set()

            writer = threading.Thread(target=write, name=f"kb-apertium-{self.mode}", daemon=True)
            writer.start()
            try:
                for i, text in enumerate(texts):
                    out[i] = clean_output(self._read(proc, self.timeout + self.per_char * len(text)))
            except (OSError, ApertiumError):
                failed.set()
                self._kill()
            writer.join(timeout=5)
        return out

    def _read(self, proc: subprocess.Popen[bytes], timeout: float) -> str:
        """Output up to the next NUL, within ``timeout`` seconds."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\0" not in self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ApertiumError(f"no answer within {timeout:.1f} s")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise ApertiumError("the pipeline exited")
            self._pending += chunk
        head, _, self._pending = self._pending.partition(b"\0")
        return head.decode("utf-8", "replace")
