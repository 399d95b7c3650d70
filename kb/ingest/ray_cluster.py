"""The writer's side of a Ray cluster: joining it, and a pool of ``IngestWorker`` actors.

``kb ingest --ray [ADDRESS]`` (or ``$KB_RAY_ADDRESS``) joins the cluster at ADDRESS
(``auto``: the one running on this machine; ``local``, or no address: a private one started
for this run and stopped after it). Ray is an optional extra: without it ``--ray`` is
refused in one line before anything is opened. Nothing else in kb imports this module, so
plain ``kb ingest`` and ``import kb`` never load Ray.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np

from kb.embed.base import Embedder
from kb.errors import KBError, UsageError

#: the extra that brings Ray (pyproject.toml)
EXTRA = "pip install 'kb[ray]'"
#: values of --ray / $KB_RAY_ADDRESS that start a private cluster for the run
LOCAL = ("", "local")
#: the object store of a private cluster: files and vectors pass through it a few at a time
LOCAL_OBJECT_STORE = 128 * 1024 * 1024
#: restarts Ray gives a worker that died (the writer retries its calls meanwhile)
MAX_RESTARTS = 8
#: seconds to wait for the workers to start and load their models
START_TIMEOUT = 600.0
#: environment a worker needs to see as the writer does (offline model hubs, kb's own settings)
PASSED_ENV = ("KB_", "HF_", "TRANSFORMERS_", "OMP_WAIT_POLICY")


def require_ray():
    """The ``ray`` module, or a one-line usage error naming the extra to install (exit 2)."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed here: {EXTRA}") from None
    return ray


def resolve_address(flag: str | None) -> str | None:
    """The cluster to use: --ray's value, else $KB_RAY_ADDRESS; None: ingest without Ray."""
    if flag is not None:
        return flag.strip()
    env = os.environ.get("KB_RAY_ADDRESS")
    return env.strip() if env is not None and env.strip() else None


def _worker_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith(PASSED_ENV) and k != "KB_RAY_ADDRESS"}


@contextmanager
def connected(address: str) -> Iterator[object]:
    """Ray initialised for this process (a private local cluster for ``local``), shut down after."""
    ray = require_ray()
    # ERROR: a private cluster's notices (token authentication on) are not the user's business
    options: dict[str, object] = dict(logging_level=logging.ERROR, log_to_driver=False,
                                      runtime_env={"env_vars": _worker_env()})
    if address in LOCAL:
        options.update(num_cpus=os.cpu_count() or 1, object_store_memory=LOCAL_OBJECT_STORE,
                       include_dashboard=False)
    else:
        options["address"] = address
    _notices_to_stderr()
    try:
        ray.init(**options)
    except (ConnectionError, RuntimeError, ValueError) as err:
        raise UsageError(f"cannot join the Ray cluster at {address!r}: {err}".splitlines()[0]) from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _notices_to_stderr() -> None:
    """Ray's driver prints the cluster's notices ("a worker died ...") on stdout, where they would
    break ``kb ingest --json``: kb's stdout is its result, so they go to stderr with the progress."""
    try:
        import ray._private.worker as internals
    except ImportError:  # pragma: no cover - another Ray layout: its notices stay where Ray puts them
        return
    original = getattr(internals, "print_to_stdstream", None)
    if original is None or getattr(original, "_kb_stderr", False):
        return

    def to_stderr(data: dict, *args: object, **kwargs: object) -> None:
        original({**data, "is_err": True}, *args, **kwargs)

    to_stderr._kb_stderr = True  # type: ignore[attr-defined]
    internals.print_to_stdstream = to_stderr


class WorkerPool:
    """``IngestWorker`` actors, one CPU each, spread over the cluster's nodes."""

    def __init__(self, models: dict[str, str], count: int | None = None) -> None:
        import ray

        from kb.ingest.ray_worker import IngestWorker

        self.ray = ray
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.size = max(1, min(count or cpus, cpus))  # more than the CPUs would wait for ever
        remote = ray.remote(num_cpus=1, max_restarts=MAX_RESTARTS, max_task_retries=0)(IngestWorker)
        self.actors = [remote.options(scheduling_strategy="SPREAD").remote(models, 1) for _ in range(self.size)]
        self.load = [0] * self.size  # calls sent and not answered, per actor
        self.failures = [0] * self.size  # lost calls in a row, per actor
        ready, waiting = ray.wait([a.describe.remote() for a in self.actors], num_returns=self.size,
                                  timeout=START_TIMEOUT)
        if waiting:
            raise KBError(f"the Ray cluster started {len(ready)} of {self.size} workers within {START_TIMEOUT:.0f} s")
        self.models: dict[str, tuple[str, int]] = ray.get(ready[0])

    def usable(self) -> list[int]:
        """Actors still worth sending work to (a few lost calls in a row: given up on)."""
        return [i for i in range(self.size) if self.failures[i] < 3]

    def least_loaded(self, depth: int) -> int | None:
        free = [i for i in self.usable() if self.load[i] < depth]
        return min(free, key=lambda i: self.load[i]) if free else None

    def call(self, actor: int, method: str, *args: object):
        self.load[actor] += 1
        return getattr(self.actors[actor], method).remote(*args)

    def answered(self, actor: int, lost: bool) -> None:
        self.load[actor] -= 1
        self.failures[actor] = self.failures[actor] + 1 if lost else 0

    def kill(self) -> None:
        for actor in self.actors:
            try:
                self.ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass


class RemoteEmbedder(Embedder):
    """An embedder whose model lives on a worker: the writer's few direct encodings (the lesson
    labels' descriptions, a companion backfill) go there instead of loading the model here."""

    def __init__(self, pool: "callable", table: str) -> None:  # type: ignore[valid-type]
        self._pool = pool  # a function returning the WorkerPool: started on first use
        self._table = table

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._pool().models[self._table][0]

    @property
    def dim(self) -> int:  # type: ignore[override]
        return self._pool().models[self._table][1]

    def _remote(self, method: str, *args: object):
        """``method`` of the least busy worker on this table's model; a worker lost meanwhile: by
        another (3 tries)."""
        pool: WorkerPool = self._pool()
        last: BaseException | None = None
        for _attempt in range(3):
            actor = pool.least_loaded(depth=1 << 30)
            if actor is None:
                break
            ref = pool.call(actor, method, self._table, *args)
            try:
                found = pool.ray.get(ref)
            except pool.ray.exceptions.RayError as err:
                pool.answered(actor, lost=True)
                last = err
                continue
            pool.answered(actor, lost=False)
            return found
        raise KBError(f"no Ray worker is left to embed with ({type(last).__name__ if last else 'none usable'})")

    def _encode(self, texts: list[str], is_query: bool) -> np.ndarray:
        return self._remote("encode", list(texts), is_query)

    # the worker's embedder normalises already: the vectors come back exactly as it gave them
    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._remote("encode", list(texts), True)

    def encode_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._remote("encode", list(texts), False)

    @property
    def sparse_batch(self) -> int:
        """Texts per backfill transaction (kb/derived/sparse.py): enough for every worker."""
        return 32 * self._pool().size

    def encode_sparse(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """The backfill of sparse codes at the end of a run (kb/derived/sparse.py), spread over the
        workers; a part whose worker is lost goes to another, as a single call does."""
        pool: WorkerPool = self._pool()
        texts = list(texts)
        step = max(1, -(-len(texts) // pool.size))
        sent = []
        for start in range(0, len(texts), step):
            part, actor = texts[start:start + step], pool.least_loaded(depth=1 << 30)
            sent.append((part, actor, None if actor is None else pool.call(actor, "encode_sparse", self._table, part)))
        out: list[tuple[np.ndarray, np.ndarray]] = []
        for part, actor, ref in sent:
            got = None
            if ref is not None:
                try:
                    got = pool.ray.get(ref)
                    pool.answered(actor, lost=False)
                except pool.ray.exceptions.RayError:
                    pool.answered(actor, lost=True)
            out.extend(got if got is not None else self._remote("encode_sparse", part))
        return out


def bare_flag_argv(argv: list[str]) -> list[str]:
    """``--ray`` given without an address becomes ``--ray=local`` (the CLI's parser needs a value).

    The next word is taken as the address when it is ``auto``/``local`` or looks like one
    (``host:port``, ``ray://...``) and is not a file or folder: ``kb ingest --ray docs/`` ingests docs/.
    """
    from pathlib import Path

    out: list[str] = []
    for i, word in enumerate(argv):
        if word != "--ray":
            out.append(word)
            continue
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        address = nxt is not None and (nxt in ("auto", "local") or ":" in nxt) and not Path(nxt).exists()
        out.append("--ray" if address else "--ray=local")
    return out
