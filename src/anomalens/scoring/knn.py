"""Nearest-neighbour scoring on vectors with faiss: exact, product-quantized, fast-scan.

``index`` selects the search structure, as a faiss factory key would:

* ``"flat"``: exact squared L2 (seed 000's EED), faiss ``IndexFlatL2``.
* ``"pq"``: product quantization with ``m`` sub-quantizers of ``nbits`` bits (seed 000's
  QED, ``IndexPQ``; the paper uses m = 32, c = nbits = 4). The query stays exact and is
  compared with the quantized training vectors (asymmetric distance, as in faiss).
* ``"pq_fastscan"``: the *same* trained codebook and codes, searched with faiss's fast-scan
  kernels (``IndexPQFastScan``), which quantize the look-up tables to 8 bits.

Distances are **squared** Euclidean (``metric = "sqeuclidean"``), as in the paper; the
ranking, and so AUROC, is the same as for L2. When the dimension is not a multiple of
``m`` the vectors are zero-padded to the next multiple, which leaves exact distances
unchanged. This module works on arrays only and imports faiss lazily.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = ["KNNScorer", "INDEX_TYPES"]

INDEX_TYPES = ("flat", "pq", "pq_fastscan")

#: rows per block where a whole-array temporary would be as large as the vectors themselves
#: (a patch bank holds hundreds of thousands of them): the finiteness check and the PQ
#: quantization errors run a block at a time, so their extra memory stays a few hundred MB
_BLOCK = 65536


def _faiss():
    import faiss

    return faiss


class KNNScorer:
    """Distance from each query to its k-th nearest training vector.

    Parameters
    ----------
    index : {"flat", "pq", "pq_fastscan"}
    m : int
        PQ sub-quantizers (ignored for ``"flat"``).
    nbits : int
        Bits per sub-quantizer code (``c`` in seed 000). Fast-scan needs 4.
    k : int
        Use the distance to the k-th nearest neighbour (seed 000: k = 1).
    seed : int
        Seed of the PQ k-means.
    """

    metric = "sqeuclidean"

    def __init__(self, index: str = "pq", m: int = 32, nbits: int = 4, k: int = 1, seed: int = 0):
        if index not in INDEX_TYPES:
            raise ValueError(f"index must be one of {', '.join(INDEX_TYPES)}, got {index!r}")
        if index == "pq_fastscan" and nbits != 4:
            raise ValueError(f"index='pq_fastscan' needs nbits=4, got nbits={nbits}")
        if not (isinstance(m, int) and m >= 1):
            raise ValueError(f"m must be a positive integer, got {m!r}")
        if not (isinstance(nbits, int) and 1 <= nbits <= 16):
            raise ValueError(f"nbits must be an integer in [1, 16], got {nbits!r}")
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"k must be a positive integer, got {k!r}")
        self.index, self.m, self.nbits, self.k, self.seed = index, m, nbits, k, seed
        self.index_ = None
        self.dim_: int | None = None

    # -- helpers -----------------------------------------------------------------
    def _padded_dim(self, d: int) -> int:
        if self.index == "flat":
            return d
        return -(-d // self.m) * self.m

    def _prep(self, X: np.ndarray, name: str) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array n x d, got shape {X.shape}")
        if self.dim_ is not None and X.shape[1] != self.dim_:
            raise ValueError(f"{name} has dimension {X.shape[1]}, the index was built on {self.dim_}")
        X = np.ascontiguousarray(X, dtype=np.float32)
        if not all(np.isfinite(X[i : i + _BLOCK]).all() for i in range(0, len(X), _BLOCK)):
            raise ValueError(f"{name} contains NaN or infinite values")
        dp = self._padded_dim(X.shape[1])
        if dp != X.shape[1]:
            X = np.ascontiguousarray(np.pad(X, ((0, 0), (0, dp - X.shape[1]))))
        return X

    # -- API -----------------------------------------------------------------------
    def fit(self, X: np.ndarray) -> KNNScorer:
        faiss = _faiss()
        self.dim_ = None
        Xp = self._prep(X, "training vectors")
        n, d = Xp.shape
        need = self.k + 1
        if self.index != "flat":
            need = max(need, 2**self.nbits)
        if n < need:
            raise ValueError(
                f"index={self.index!r} needs at least {need} training vectors"
                f"{f' (2**nbits = {2**self.nbits} PQ centroids)' if self.index != 'flat' else ''}, got {n}"
            )
        if self.index != "flat" and d // self.m == 2 and 2**self.nbits < 8:
            # faiss's SIMD look-up-table kernel for 2-d sub-vectors needs >= 8 centroids
            raise ValueError(
                f"index={self.index!r} with m={self.m} on {d}-d vectors (2-d sub-vectors) needs nbits >= 3 in faiss, "
                f"got nbits={self.nbits}"
            )
        if self.index == "flat":
            idx = faiss.IndexFlatL2(d)
        else:
            idx = faiss.IndexPQ(d, self.m, self.nbits)
            cp = idx.pq.cp
            cp.seed = int(self.seed)
            if n < cp.min_points_per_centroid * 2**self.nbits:
                warnings.warn(
                    f"PQ codebooks trained on {n} vectors for {2**self.nbits} centroids each; faiss advises at "
                    f"least {cp.min_points_per_centroid * 2**self.nbits}",
                    stacklevel=3,
                )
                cp.min_points_per_centroid = 1  # warned once here instead of once per sub-quantizer
            idx.train(Xp)
            if self.index == "pq_fastscan":
                idx = faiss.IndexPQFastScan(idx)
        idx.add(Xp)
        self.index_ = idx
        self.dim_ = int(np.asarray(X).shape[1])
        return self

    def _check_fitted(self) -> None:
        if self.index_ is None:
            from ..exceptions import NotFittedError

            raise NotFittedError("KNNScorer is not fitted: call fit(vectors) first")

    def score(self, X: np.ndarray) -> np.ndarray:
        """Squared L2 distance of each row of ``X`` to its k-th nearest training vector."""
        self._check_fitted()
        D, _ = self.index_.search(self._prep(X, "query vectors"), self.k)
        return D[:, self.k - 1].astype(np.float64)

    def score_training(self, X: np.ndarray) -> np.ndarray:
        """Scores of the training vectors themselves, each point's own entry excluded.

        ``X`` must be the training vectors in the order given to :meth:`fit`.
        """
        self._check_fitted()
        Xp = self._prep(X, "training vectors")
        if Xp.shape[0] != self.index_.ntotal:
            raise ValueError(f"expected the {self.index_.ntotal} training vectors, got {Xp.shape[0]}")
        kk = min(self.k + 1, self.index_.ntotal)
        D, ids = self.index_.search(Xp, kk)
        own = ids == np.arange(len(Xp))[:, None]
        # Drop each row's own entry (or, if search did not return it, the last one).
        drop = np.where(own.any(axis=1), own.argmax(axis=1), kk - 1)
        keep = np.ones_like(own)
        keep[np.arange(len(Xp)), drop] = False
        D = D[keep].reshape(len(Xp), kk - 1)
        return D[:, self.k - 1].astype(np.float64)

    def self_distances(self, X: np.ndarray) -> np.ndarray:
        """Squared distance of each *indexed* vector to the index's own representation of it.

        This is what a 1-NN search of a vector that was added to the index returns, computed
        without a search: 0 for ``flat``; for PQ the quantization error
        ``||x - decode(encode(x))||^2`` (a vector's own code is its nearest under ``pq``'s
        asymmetric distance, which sums per sub-space minima; ``pq_fastscan`` searches with
        8-bit look-up tables, so its search returns this up to that rounding).
        """
        self._check_fitted()
        Xp = self._prep(X, "indexed vectors")
        if self.index == "flat":
            return np.zeros(len(Xp))
        pq = self.index_.pq
        out = np.empty(len(Xp))
        for i in range(0, len(Xp), _BLOCK):  # a block at a time: the decoded copy is as large as X
            block = Xp[i : i + _BLOCK]
            out[i : i + len(block)] = ((block - pq.decode(pq.compute_codes(block))) ** 2).sum(axis=1, dtype=np.float64)
        return out

    # -- persistence (faiss's own binary format, no pickle) -----------------------
    def to_bytes(self) -> np.ndarray:
        self._check_fitted()
        return np.asarray(_faiss().serialize_index(self.index_), dtype=np.uint8)

    def from_bytes(self, data: np.ndarray, dim: int) -> KNNScorer:
        faiss = _faiss()
        idx = faiss.deserialize_index(np.ascontiguousarray(data, dtype=np.uint8))
        if idx.d != self._padded_dim(dim):
            raise ValueError(f"saved index has dimension {idx.d}, expected {self._padded_dim(dim)}")
        self.index_, self.dim_ = idx, int(dim)
        return self

    @property
    def memory_bytes(self) -> int:
        """Bytes of the stored training representation (codes or raw vectors)."""
        self._check_fitted()
        return int(self.to_bytes().nbytes)
