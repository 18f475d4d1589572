"""QAC ("Quantum Adjacency Code") smoothing, defined precisely (docs/research.md).

Fit: the k-nearest-neighbour graph of an embedding's rows (Euclidean, a row is not its own
neighbour), weighted 1 (``binary``) or exp(-d²/2sigma²) (``gaussian``, sigma by default the median
distance to the k-th neighbour), symmetrised as the legacy did: W = (A + Aᵀ)/2.

Apply (engine ``laplace``): Z minimises ‖Z - Z₀‖² + β tr(ZᵀLZ) + λ‖Z‖² with L = D - W, i.e.
((1 + λ) I + β L) Z = Z₀. The matrix is symmetric positive definite with eigenvalues in
[1 + λ, 1 + λ + 2β·max degree], so conjugate gradients converge in a few dozen steps; all
columns are solved together (one sparse product per step for the whole block). A sparse
LU factorisation is no option: the graph of a high-dimensional embedding is an expander,
and its fill-in took 565 s for 20,000 rows (docs/research.md).

Engines are a registry: ``laplace`` is built in; a package can add one through the entry
point group ``veritas.research.qac_engines`` (an object with ``name`` and
``apply(graph, z0, params) -> Z``).
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from functools import cache, cached_property
from importlib.metadata import entry_points
from typing import Literal, Protocol

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

ENTRY_POINT_GROUP = "veritas.research.qac_engines"
SOLVE_TOLERANCE = 1e-10  # relative residual of every column
SOLVE_MAX_STEPS = 2000


class QACError(ValueError):
    """Input the algorithm cannot take; ``field`` names the request field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Params:
    k_nn: int = 15
    weight: Literal["binary", "gaussian"] = "binary"
    sigma: float | None = None
    beta: float = 0.7
    lam: float = 0.05
    engine: str = "laplace"

    def as_dict(self) -> dict:
        """As the API names them (``lambda``, a Python keyword here)."""
        values = asdict(self)
        values["lambda"] = values.pop("lam")
        return values

    @classmethod
    def from_dict(cls, values: dict | None) -> Params:
        """as_dict()'s inverse (a model's stored parameters, the API's validated ones); None or
        empty: the defaults."""
        if not values:
            return cls()
        return cls(
            k_nn=values["k_nn"],
            weight=values["weight"],
            sigma=values.get("sigma"),
            beta=values["beta"],
            lam=values["lambda"],
            engine=values["engine"],
        )


@dataclass
class Graph:
    """The symmetric weight matrix W (CSR) and what the fit measured."""

    weights: sp.csr_matrix
    sigma: float | None = None
    metrics: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return self.weights.shape[0]

    @cached_property
    def laplacian(self) -> sp.csr_matrix:
        degrees = np.asarray(self.weights.sum(axis=1)).ravel()
        return (sp.diags(degrees) - self.weights).tocsr()

    # --- storage: an .npz of plain arrays, loaded with allow_pickle=False -----------------

    def to_bytes(self) -> bytes:
        weights = self.weights.tocsr()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            indptr=weights.indptr.astype(np.int64),
            indices=weights.indices.astype(np.int32),
            data=weights.data.astype(np.float64),
            shape=np.asarray(weights.shape, dtype=np.int64),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Graph:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            shape = tuple(int(v) for v in arrays["shape"])
            weights = sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)
        return cls(weights=weights)


def as_matrix(value, field_name: str = "embedding") -> np.ndarray:
    """A finite 2-D float matrix of at least 2 rows, or a QACError naming the field."""
    try:
        matrix = np.asarray(value)
    except (TypeError, ValueError):  # rows of different lengths
        raise QACError(field_name, "Must be a list of rows of numbers, all rows of one length.") from None
    if matrix.dtype.kind not in "iuf":  # strings, booleans, nulls: JSON of another type than numbers
        raise QACError(field_name, "Must be a list of rows of numbers, all rows of one length.")
    matrix = matrix.astype(np.float64, copy=False)
    if matrix.ndim != 2 or matrix.shape[0] < 2 or matrix.shape[1] < 1:
        raise QACError(field_name, "Must be a matrix: a list of at least 2 rows of at least 1 number each.")
    if not np.isfinite(matrix).all():
        row = int(np.argwhere(~np.isfinite(matrix))[0][0])
        raise QACError(field_name, f"Row {row} holds a value that is not a finite number.")
    return matrix


def knn_graph(embedding: np.ndarray, params: Params) -> Graph:
    n = embedding.shape[0]
    if params.k_nn >= n:
        raise QACError("params.k_nn", f"Must be below the number of rows ({n}).")
    search = NearestNeighbors(n_neighbors=params.k_nn).fit(embedding)
    distances, neighbours = search.kneighbors()  # without X: a row is not its own neighbour
    sigma = None
    if params.weight == "gaussian":
        sigma = params.sigma if params.sigma is not None else float(np.median(distances[:, -1])) + 1e-9
        values = np.exp(-(distances.ravel() ** 2) / (2.0 * sigma * sigma))
    else:
        values = np.ones(n * params.k_nn)
    rows = np.repeat(np.arange(n), params.k_nn)
    directed = sp.csr_matrix((values, (rows, neighbours.ravel())), shape=(n, n))
    weights = ((directed + directed.T) * 0.5).tocsr()
    degrees = np.asarray((weights > 0).sum(axis=1)).ravel()
    components = sp.csgraph.connected_components(weights, directed=False)[0]
    metrics = {
        "rows": n,
        "edges": int(weights.nnz // 2),
        "mean_degree": round(float(degrees.mean()), 3),
        "max_degree": int(degrees.max()),
        "components": int(components),
        "sigma": sigma,
    }
    return Graph(weights=weights, sigma=sigma, metrics=metrics)


def block_conjugate_gradients(matrix: sp.csr_matrix, rhs: np.ndarray) -> tuple[np.ndarray, int]:
    """Solve ``matrix @ X = rhs`` (symmetric positive definite) for every column at once:
    conjugate gradients with a Jacobi preconditioner, each column with its own step sizes,
    one sparse product per step for the whole block. Returns (X, steps)."""
    inverse_diagonal = 1.0 / matrix.diagonal()
    solution = np.zeros_like(rhs)
    residual = rhs.copy()
    preconditioned = residual * inverse_diagonal[:, None]
    direction = preconditioned.copy()
    rz = np.einsum("ij,ij->j", residual, preconditioned)
    targets = SOLVE_TOLERANCE * np.linalg.norm(rhs, axis=0)
    for step in range(1, SOLVE_MAX_STEPS + 1):
        product = matrix @ direction
        curvature = np.einsum("ij,ij->j", direction, product)
        alpha = np.divide(rz, curvature, out=np.zeros_like(rz), where=curvature > 0)
        solution += direction * alpha
        residual -= product * alpha
        if (np.linalg.norm(residual, axis=0) <= targets).all():
            return solution, step
        preconditioned = residual * inverse_diagonal[:, None]
        rz_next = np.einsum("ij,ij->j", residual, preconditioned)
        beta = np.divide(rz_next, rz, out=np.zeros_like(rz), where=rz > 0)
        direction = preconditioned + direction * beta
        rz = rz_next
    raise ArithmeticError(f"conjugate gradients did not converge in {SOLVE_MAX_STEPS} steps")


class Engine(Protocol):
    name: str

    def apply(self, graph: Graph, z0: np.ndarray, params: Params) -> np.ndarray: ...


class LaplaceEngine:
    name = "laplace"

    def apply(self, graph: Graph, z0: np.ndarray, params: Params) -> np.ndarray:
        system = (sp.identity(graph.n, format="csr") * (1.0 + params.lam) + graph.laplacian * params.beta).tocsr()
        solution, _steps = block_conjugate_gradients(system, z0)
        return solution


@cache
def engines() -> dict[str, Engine]:
    """The engines this installation has: ``laplace`` and any registered by a package."""
    found: dict[str, Engine] = {"laplace": LaplaceEngine()}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        engine = point.load()
        engine = engine() if isinstance(engine, type) else engine
        found.setdefault(engine.name, engine)
    return found


def engine(name: str) -> Engine:
    available = engines()
    if name not in available:
        raise QACError("params.engine", f"Unknown engine {name!r}: available: {', '.join(sorted(available))}.")
    return available[name]


def energy(laplacian: sp.csr_matrix, z: np.ndarray) -> float:
    """tr(Zᵀ L Z): the embedding's roughness over the graph."""
    return float(np.einsum("ij,ij->", laplacian @ z, z))


def gain(laplacian: sp.csr_matrix, z0: np.ndarray, z: np.ndarray) -> float:
    """The legacy ``coherence_gain``: (E₀ - E₁)/E₀ (0 when E₀ is 0)."""
    before = energy(laplacian, z0)
    return 0.0 if before == 0 else (before - energy(laplacian, z)) / before


@dataclass
class Smoothed:
    z: np.ndarray
    psi_fidelity: float
    coherence_gain: float
    null_coherence_gain: float
    null_seed: int


def apply(graph: Graph, z0: np.ndarray, params: Params, *, null_seed: int = 0) -> Smoothed:
    """Smooth ``z0`` over ``graph`` with the params' engine; the metrics, and the same gain on
    a row-permuted copy of ``z0`` (the null reference: structure the graph does not carry)."""
    if z0.shape[0] != graph.n:
        raise QACError("embedding", f"Has {z0.shape[0]} rows; the model was fitted on {graph.n}.")
    chosen = engine(params.engine)
    permuted = z0[np.random.default_rng(null_seed).permutation(graph.n)]
    both = chosen.apply(graph, np.hstack([z0, permuted]), params)  # one block: one solve
    z, z_null = both[:, : z0.shape[1]], both[:, z0.shape[1] :]
    laplacian = graph.laplacian
    norm = float(np.linalg.norm(z0))
    return Smoothed(
        z=z,
        psi_fidelity=1.0 - float(np.linalg.norm(z - z0)) / (norm + 1e-9),
        coherence_gain=gain(laplacian, z0, z),
        null_coherence_gain=gain(laplacian, permuted, z_null),
        null_seed=null_seed,
    )


# --- the in-process cache of loaded graphs, by content hash ---------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class GraphCache:
    """Loaded graphs by SHA-256, least recently used out first (``capacity`` entries). A
    model's bytes never change, so its hash names its content for good."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self._graphs: OrderedDict[str, Graph] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Graph | None:
        with self._lock:
            graph = self._graphs.get(digest)
            if graph is not None:
                self._graphs.move_to_end(digest)
            return graph

    def put(self, digest: str, graph: Graph) -> None:
        with self._lock:
            self._graphs[digest] = graph
            self._graphs.move_to_end(digest)
            while len(self._graphs) > self.capacity:
                self._graphs.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._graphs.clear()


graphs = GraphCache()
