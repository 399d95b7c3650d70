"""The vector index: exact flat below the threshold, ivf (IVF + 8-bit SQ) above it.

Structural checks on small synthetic sets (clustered, like real embeddings): recall of the
approximate index against exact search, filters, removal, the snapshot round trip and the
automatic switch. The figures at 10k-1M are bench/scale.py's job.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from kb.store.vectors import (
    FULL_SCAN_SHARE, STAMP_NAME, VectorIndex, filtered_nprobe, nlist_for, nprobe_for,
)

DIM = 48


def clustered(n: int, centers: int = 40, seed: int = 0, noise: float = 0.35) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(centers, DIM)).astype(np.float32)
    x = c[rng.integers(centers, size=n)] + noise * rng.normal(size=(n, DIM)).astype(np.float32)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def data():
    x = clustered(6000)
    ids = np.arange(1000, 1000 + len(x), dtype=np.int64)  # passage ids need not start at 0
    q = clustered(60, seed=1)
    return x, ids, q


def build(kind: str, x: np.ndarray, ids: np.ndarray, **kw) -> VectorIndex:
    vi = VectorIndex(DIM, kind=kind, **kw)
    for start in range(0, len(x), 1000):
        vi.add(ids[start : start + 1000], x[start : start + 1000])
    return vi


def exact(x, ids, q, k=10, allowed=None):
    s = q @ x.T
    if allowed is not None:
        s[:, ~np.isin(ids, allowed)] = -np.inf
    top = np.argsort(-s, axis=1)[:, :k]
    return [set(ids[row][np.isfinite(s[i, row])].tolist()) for i, row in enumerate(top)]


def recall(vi, q, truth, k=10, allowed=None, **kw) -> float:
    got = [{i for i, _ in vi.search(v, k, allowed, **kw)} for v in q]
    return float(np.mean([len(g & t) / max(1, len(t)) for g, t in zip(got, truth)]))


@pytest.fixture(scope="module")
def ivf(data):
    x, ids, _ = data
    vi = build("ivf", x, ids)
    assert vi.kind == "ivf"
    return vi


def test_flat_is_exact(data):
    x, ids, q = data
    flat = build("flat", x, ids)
    assert flat.kind == "flat" and flat.count == len(x)
    assert recall(flat, q, exact(x, ids, q)) == 1.0


def test_ivf_recall_against_exact(ivf, data):
    x, ids, q = data
    assert ivf.params["nlist"] >= 16 and ivf.params["quantizer"] == "SQ8"
    assert recall(ivf, q, exact(x, ids, q)) >= 0.9


def test_ivf_scores_are_cosines_in_order(ivf, data):
    x, ids, q = data
    hits = ivf.search(q[0], 10)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    row = {int(i): r for r, i in enumerate(ids)}
    for pid, score in hits:
        assert abs(score - float(x[row[pid]] @ q[0])) < 0.05  # 8-bit quantised, close to exact


def test_exact_rerank_gives_exact_scores(ivf, data):
    x, ids, q = data
    row = {int(i): r for r, i in enumerate(ids)}
    source = lambda cand: x[[row[int(i)] for i in cand]]  # noqa: E731
    truth = exact(x, ids, q)
    assert recall(ivf, q, truth, exact=source) >= recall(ivf, q, truth) - 1e-9
    for pid, score in ivf.search(q[0], 5, exact=source):
        assert score == pytest.approx(float(x[row[pid]] @ q[0]), abs=1e-5)
    # the (ids, rows) form of Database.vectors_for; ids it lacks are dropped as gone
    plain = ivf.search(q[0], 10, exact=source)
    gone = plain[0][0]

    def like_db(cand):
        have = sorted(int(i) for i in cand if int(i) != gone)
        return np.array(have), x[[row[i] for i in have]]

    assert ivf.search(q[0], 10, exact=like_db) == [h for h in ivf.search(q[0], 11, exact=source) if h[0] != gone][:10]


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_filter_by_ids_and_by_mask(kind, data, ivf):
    x, ids, q = data
    vi = ivf if kind == "ivf" else build("flat", x, ids)
    rng = np.random.default_rng(3)
    for share in (0.5, 0.02):  # a broad filter (language) and a selective one (documents)
        allowed = np.sort(rng.choice(ids, size=int(len(ids) * share), replace=False))
        mask = np.zeros(int(ids.max()) + 1, dtype=bool)
        mask[allowed] = True
        for v in q[:10]:
            by_ids = vi.search(v, 10, allowed)
            assert by_ids and all(i in set(allowed.tolist()) for i, _ in by_ids)
            assert vi.search(v, 10, mask) == by_ids
        assert recall(vi, q, exact(x, ids, q, allowed=allowed), allowed=allowed) >= 0.9
        # the companion's narrower probe (widen=1) keeps to the filter too
        assert all(i in set(allowed.tolist()) for v in q[:10] for i, _ in vi.search(v, 10, allowed, widen=1.0))
    small = allowed[:3]  # an IDSelectorBatch path
    assert {i for i, _ in vi.search(q[0], 10, small)} == set(small.tolist())
    assert vi.search(q[0], 10, np.array([], dtype=np.int64)) == []
    assert vi.search(q[0], 10, np.zeros(10, dtype=bool)) == []


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_remove(kind, data):
    x, ids, q = data
    vi = build(kind, x, ids)
    hits = [i for i, _ in vi.search(q[0], 10)]
    vi.remove(hits[:5])
    assert vi.count == len(x) - 5
    assert not set(hits[:5]) & {i for i, _ in vi.search(q[0], 50)}
    vi.remove([])  # no-op
    vi.add(np.array(hits[:1]), x[ids == hits[0]])
    assert hits[0] in {i for i, _ in vi.search(x[ids == hits[0]][0], 3)}


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_save_load_roundtrip(kind, data, tmp_path, ivf):
    x, ids, q = data
    vi = ivf if kind == "ivf" else build("flat", x, ids)
    vi.save(tmp_path, 7)
    stamp = json.loads((tmp_path / STAMP_NAME).read_text())
    assert stamp["kind"] == kind and stamp["count"] == len(x) and stamp["generation"] == 7
    assert stamp["file"] == "vectors-00000007.faiss" and stamp["format"] == 2
    if kind == "ivf":
        assert {"nlist", "nprobe", "quantizer", "metric", "trained_on"} <= set(stamp["params"])
    back = VectorIndex.load(tmp_path, DIM, 7)
    assert back is not None and back.kind == kind and back.count == vi.count
    assert back.params == vi.params
    for v in q[:5]:
        assert back.search(v, 10) == vi.search(v, 10)
    assert VectorIndex.load(tmp_path, DIM, 8) is None  # stale generation: caller rebuilds
    assert VectorIndex.load(tmp_path, DIM + 1, 7) is None
    other = "flat" if kind == "ivf" else "ivf"
    assert VectorIndex.load(tmp_path, DIM, 7, kind=other) is None  # another kind asked for: rebuild
    vi.save(tmp_path, 8)
    assert [p.name for p in tmp_path.glob("vectors-*.faiss")] == ["vectors-00000008.faiss"]


def test_format_1_stamp_loads_as_flat(data, tmp_path):
    x, ids, _ = data
    flat = build("flat", x[:100], ids[:100])
    flat.save(tmp_path, 3)
    stamp = json.loads((tmp_path / STAMP_NAME).read_text())
    for key in ("format", "kind", "params"):
        stamp.pop(key)
    (tmp_path / STAMP_NAME).write_text(json.dumps(stamp))
    back = VectorIndex.load(tmp_path, DIM, 3)
    assert back is not None and back.kind == "flat" and back.count == 100


def test_auto_switches_at_threshold_and_stays(data):
    x, ids, q = data
    vi = VectorIndex(DIM, kind="auto", threshold=3000)
    vi.add(ids[:2000], x[:2000])
    assert vi.kind == "flat"
    vi.add(ids[2000:3500], x[2000:3500])
    assert vi.kind == "ivf" and vi.count == 3500 and vi.params["trained_on"] == 3500
    vi.remove(ids[:2000])  # below the threshold again: no flip-flop
    assert vi.kind == "ivf" and vi.count == 1500
    assert build("flat", x, ids).kind == "flat"


def test_kind_from_environment(monkeypatch, data):
    x, ids, _ = data
    monkeypatch.setenv("KB_VECTOR_INDEX", "ivf")
    assert VectorIndex(DIM).setting == "ivf"
    monkeypatch.setenv("KB_VECTOR_INDEX", "flat")
    monkeypatch.setenv("KB_IVF_THRESHOLD", "10")
    assert build("auto", x[:2000], ids[:2000]).kind == "ivf"  # argument beats the environment
    with pytest.raises(ValueError):
        VectorIndex(DIM, kind="hnsw")


def test_from_batches(data):
    x, ids, q = data
    batches = lambda: ((ids[s : s + 700], x[s : s + 700]) for s in range(0, len(x), 700))  # noqa: E731
    small = VectorIndex.from_batches(DIM, batches, len(x), kind="auto", threshold=10_000)
    assert small.kind == "flat" and small.count == len(x)
    big = VectorIndex.from_batches(DIM, batches, len(x), kind="auto", threshold=5_000)
    assert big.kind == "ivf" and big.count == len(x) and big.params["nlist"] == nlist_for(len(x))
    assert recall(big, q, exact(x, ids, q)) >= 0.9


def test_parameter_rules():
    assert [nlist_for(n) for n in (1_000, 50_000, 100_000, 1_000_000)] == [16, 256, 256, 1024]
    assert nprobe_for(1024) == 64 and nprobe_for(128) == 16
    assert filtered_nprobe(64, 1024, 1.0) == 64
    assert filtered_nprobe(64, 1024, FULL_SCAN_SHARE) == 1024
    assert 64 < filtered_nprobe(64, 1024, 0.5) < 1024
    # the companion's list (kb/search.py COMPANION_WIDEN) widens by the share, not its square
    assert filtered_nprobe(64, 1024, 0.5) == 256 and filtered_nprobe(64, 1024, 0.5, 1.0) == 128
    assert filtered_nprobe(64, 1024, FULL_SCAN_SHARE, 1.0) == 1024


def test_retrain_advice(data):
    x, ids, _ = data
    vi = VectorIndex(DIM, kind="auto", threshold=1500)
    vi.add(ids[:1500], x[:1500])
    assert vi.kind == "ivf" and not vi.retrain_advised and vi.params["imbalance"] >= 1.0
    vi.add(ids[1500:], x[1500:])  # 4x the vectors it was trained on
    assert vi.retrain_advised
    rebuilt = VectorIndex.from_batches(DIM, lambda: iter([(ids, x)]), len(x), kind="ivf")
    assert not rebuilt.retrain_advised and rebuilt.params["trained_on"] == len(x)
    assert not VectorIndex(DIM).retrain_advised  # flat: nothing to retrain
