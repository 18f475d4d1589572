"""The legacy DON Research API's QAC ``laplace`` engine, ported faithfully (its
src/qac/core.py): brute-force kNN in NumPy (squared distances in row chunks), binary or
gaussian weights, W = (W + W')/2, L = D - W, then one sparse solve per column of
((1 + lambda) I + beta L) Z = Z0, with the graph rebuilt from the input. The baseline of
research's benchmark and the reference its tests compare against; not used by Veritas."""

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve


def knn(embedding: np.ndarray, k: int, chunk: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """(indices, distances) of each row's k nearest other rows, as the legacy found them (its
    diagonal mask is applied per chunk at the right offset here: the legacy's masked the
    wrong cells after the first chunk, a bug no test should reproduce)."""
    n = embedding.shape[0]
    squared = (embedding**2).sum(axis=1)
    indices = np.empty((n, k), dtype=np.int64)
    distances = np.empty((n, k))
    for start in range(0, n, chunk):
        block = embedding[start : start + chunk]
        d2 = squared[start : start + chunk, None] + squared[None, :] - 2.0 * block @ embedding.T
        d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        nearest = np.argpartition(d2, k, axis=1)[:, :k]
        chosen = np.take_along_axis(d2, nearest, axis=1)
        order = np.argsort(chosen, axis=1)
        indices[start : start + chunk] = np.take_along_axis(nearest, order, axis=1)
        distances[start : start + chunk] = np.sqrt(np.maximum(np.take_along_axis(chosen, order, axis=1), 0.0))
    return indices, distances


def laplacian(embedding: np.ndarray, k: int, weight: str = "binary", sigma: float | None = None) -> sp.csr_matrix:
    n = embedding.shape[0]
    indices, distances = knn(embedding, k)
    if weight == "gaussian":
        sigma = sigma if sigma is not None else float(np.median(distances[:, -1])) + 1e-9
        values = np.exp(-(distances**2) / (2.0 * sigma**2)).ravel()
    else:
        values = np.ones(n * k)
    weights = sp.csr_matrix((values, (np.repeat(np.arange(n), k), indices.ravel())), shape=(n, n))
    weights = (weights + weights.T).multiply(0.5)
    return (sp.diags(np.asarray(weights.sum(axis=1)).ravel()) - weights).tocsr()


def apply(embedding: np.ndarray, *, k: int = 15, beta: float = 0.7, lam: float = 0.05, weight: str = "binary"):
    """(Z, psi_fidelity, coherence_gain) as the legacy computed them."""
    n, columns = embedding.shape
    lap = laplacian(embedding, k, weight)
    system = (sp.eye(n) * (1.0 + lam) + lap * beta).tocsr()
    z = np.zeros_like(embedding)
    for j in range(columns):
        z[:, j] = spsolve(system, embedding[:, j])
    psi = 1.0 - (np.linalg.norm(z - embedding) / (np.linalg.norm(embedding) + 1e-9))
    e0 = ((lap @ embedding) * embedding).sum()
    e1 = ((lap @ z) * z).sum()
    return z, psi, 0.0 if e0 == 0 else (e0 - e1) / e0
