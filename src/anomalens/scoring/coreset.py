"""Greedy k-center coreset selection (PatchCore's memory-bank subsampling).

Roth et al., *Towards Total Recall in Industrial Anomaly Detection* (CVPR 2022), keep a
subset of the training patches chosen by greedy farthest-point selection: start from one
vector, then repeatedly add the vector farthest from everything chosen so far. The chosen set
covers the data in the minimax sense (every vector lies within about twice the optimal radius
of a chosen one), so a nearest-neighbour search over it loses little. As in the paper the
distances of the selection are computed after a random linear projection to a few dimensions
(Johnson-Lindenstrauss), which makes each step ``dim / proj_dim`` times cheaper; the chosen
vectors themselves are kept unprojected.
"""

from __future__ import annotations

import numpy as np

__all__ = ["greedy_coreset"]


def greedy_coreset(x: np.ndarray, n: int, *, proj_dim: int | None = 128, seed: int = 0) -> np.ndarray:
    """Indices (in selection order) of ``n`` rows of ``x`` chosen by greedy k-center selection.

    Parameters
    ----------
    x : array of shape (N, D)
        The vectors (converted to float32).
    n : int
        How many to choose, 1 <= n <= N.
    proj_dim : int or None, default 128
        Dimension of the seeded Gaussian random projection the selection's distances are
        computed in; None (or >= D) selects on the vectors themselves.
    seed : int
        Seeds the projection and the first vector.

    Each step costs one pass over the N (projected) vectors, so the whole selection is
    O(n N proj_dim) time and O(N) extra memory.
    """
    x = np.asarray(x)
    if x.ndim != 2 or not len(x):
        raise ValueError(f"x must be a non-empty N x D array, got shape {x.shape}")
    if not 1 <= int(n) <= len(x):
        raise ValueError(f"n must be between 1 and the number of vectors ({len(x)}), got {n}")
    rng = np.random.default_rng(seed)
    v = np.ascontiguousarray(x, dtype=np.float32)
    if proj_dim is not None and proj_dim < v.shape[1]:
        proj = rng.standard_normal((v.shape[1], proj_dim), dtype=np.float32) / np.float32(np.sqrt(proj_dim))
        v = v @ proj
    norms = np.einsum("ij,ij->i", v, v)
    chosen = np.empty(int(n), dtype=np.int64)
    chosen[0] = rng.integers(len(v))
    nearest = np.full(len(v), np.inf, dtype=np.float32)  # squared distance to the chosen set
    for i in range(1, int(n)):
        c = v[chosen[i - 1]]
        np.minimum(nearest, norms - 2 * (v @ c) + norms[chosen[i - 1]], out=nearest)
        nearest[chosen[i - 1]] = -1.0  # numerically ~0; never chosen twice
        chosen[i] = int(np.argmax(nearest))
    return chosen
