"""QAC: a hand-checked example, the legacy formula, the engine registry, models stored safely
and cached by hash, unhappy paths, large inputs as jobs."""

import io
import math
from importlib.metadata import EntryPoint

import numpy as np
import pytest

from benchmarks import legacy_qac
from research import qac
from research.models import JobStatus, QACModel
from tests.research.conftest import API, post_json

pytestmark = pytest.mark.django_db

# Three points on a line, one neighbour each: 0→1, 1→0, 3→1. W = (A + A')/2 has w01 = 1 and
# w12 = 1/2; with beta = 1, lambda = 0, (I + L) Z = Z0 gives Z = (6, 12, 26)/11 (worked by
# hand in docs/research.md), E0 = 1·1² + ½·2² = 3, E1 = (36 + 98)/121.
LINE = {"embedding": [[0.0], [1.0], [3.0]], "params": {"k_nn": 1, "beta": 1.0, "lambda": 0.0}}


def fit(client, body=LINE):
    response = post_json(client, "qac/fit", body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_a_hand_checked_example(owner_client):
    model = fit(owner_client)

    response = post_json(owner_client, "qac/apply", {"model": model["id"], "embedding": LINE["embedding"]})

    assert response.status_code == 200
    body = response.json()
    z = np.array(body["embedding"]).ravel()
    np.testing.assert_allclose(z, [6 / 11, 12 / 11, 26 / 11], atol=1e-9)
    assert math.isclose(body["metrics"]["coherence_gain"], (3 - 134 / 121) / 3, abs_tol=1e-9)
    assert math.isclose(body["metrics"]["psi_fidelity"], 1 - math.sqrt(86) / 11 / math.sqrt(10), abs_tol=1e-9)
    assert model["metrics"]["edges"] == 2 and model["metrics"]["components"] == 1
    assert model["params"] == {
        "k_nn": 1,
        "weight": "binary",
        "sigma": None,
        "beta": 1.0,
        "lambda": 0.0,
        "engine": "laplace",
    }


@pytest.mark.parametrize("weight", ["binary", "gaussian"])
def test_the_same_result_as_the_legacy_formula(owner_client, weight):
    embedding = np.random.default_rng(7).standard_normal((300, 6))
    model = fit(owner_client, {"embedding": embedding.tolist(), "params": {"k_nn": 8, "weight": weight}})

    body = post_json(owner_client, "qac/apply", {"model": model["id"], "embedding": embedding.tolist()}).json()

    z, psi, gain = legacy_qac.apply(embedding, k=8, weight=weight)
    np.testing.assert_allclose(np.array(body["embedding"]), z, atol=1e-6)
    assert math.isclose(body["metrics"]["psi_fidelity"], psi, abs_tol=1e-6)
    assert math.isclose(body["metrics"]["coherence_gain"], gain, abs_tol=1e-6)
    # Smoothing noise gains more than smoothing structure: here the input is noise too.
    assert 0 < body["metrics"]["null_coherence_gain"] <= 1


def test_the_graph_can_be_rebuilt_from_the_input_as_the_legacy_did(owner_client):
    model = fit(owner_client)
    other = np.random.default_rng(1).standard_normal((20, 3))

    body = post_json(
        owner_client, "qac/apply", {"model": model["id"], "embedding": other.tolist(), "graph": "input"}
    ).json()

    z, _psi, gain = legacy_qac.apply(other, k=1, beta=1.0, lam=0.0)
    assert body["graph"] == "input"
    np.testing.assert_allclose(np.array(body["embedding"]), z, atol=1e-6)
    assert math.isclose(body["metrics"]["coherence_gain"], gain, abs_tol=1e-6)


def test_a_row_count_other_than_the_models_is_400(owner_client):
    model = fit(owner_client)

    response = post_json(owner_client, "qac/apply", {"model": model["id"], "embedding": [[1.0], [2.0]]})

    assert response.status_code == 400
    assert response.json()["fields"] == {"embedding": ["Has 2 rows; the model was fitted on 3."]}


def test_the_null_reference_is_seeded(owner_client):
    model = fit(owner_client, {"embedding": np.random.default_rng(3).standard_normal((40, 2)).tolist()})
    embedding = np.random.default_rng(4).standard_normal((40, 2)).tolist()

    def gain(seed):
        body = {"model": model["id"], "embedding": embedding, "null_seed": seed}
        return post_json(owner_client, "qac/apply", body).json()["metrics"]["null_coherence_gain"]

    assert gain(5) == gain(5) and gain(5) != gain(6)


def test_gaussian_sigma_defaults_to_the_median_kth_neighbour_distance(owner_client):
    body = {"embedding": [[0.0], [1.0], [3.0], [7.0]], "params": {"k_nn": 1, "weight": "gaussian"}}

    model = fit(owner_client, body)

    # k-th (1st) neighbour distances 1, 1, 2, 4: median 1.5.
    assert math.isclose(model["params"]["sigma"], 1.5, rel_tol=1e-6)


def test_the_stored_graph_is_plain_arrays_with_its_hash(owner_client):
    model = QACModel.objects.get(pk=fit(owner_client)["id"])
    data = bytes(model.graph)

    with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["data", "indices", "indptr", "shape"]
    assert model.sha256 == qac.sha256(data) and model.size_bytes == len(data)


def test_a_cached_model_needs_no_graph_read(owner_client, django_assert_max_num_queries):
    model = fit(owner_client)
    qac.graphs.clear()
    body = {"model": model["id"], "embedding": LINE["embedding"]}
    post_json(owner_client, "qac/apply", body)  # loads it from the database, then caches it

    with django_assert_max_num_queries(8) as captured:
        post_json(owner_client, "qac/apply", body)

    assert not any('"graph"' in query["sql"] for query in captured.captured_queries)


ROWS = "Must be a list of rows of numbers, all rows of one length."
MATRIX = "Must be a matrix: a list of at least 2 rows of at least 1 number each."
BELOW = "Must be below the number of rows (3)."
AT_MOST = "Ensure this value is less than or equal to 128."
CHOICE = '"cosine" is not a valid choice.'


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"params": {"k_nn": 1}}, {"embedding": ["This field is required."]}),
        ({"embedding": [[1.0], [2.0, 3.0]]}, {"embedding": [ROWS]}),
        ({"embedding": [["a"], ["b"]]}, {"embedding": [ROWS]}),
        ({"embedding": [[1.0]]}, {"embedding": [MATRIX]}),
        ({"embedding": [[0.0], [1.0], [2.0]], "params": {"k_nn": 3}}, {"params": {"k_nn": [BELOW]}}),
        ({"embedding": [[0.0], [1.0]], "params": {"k_nn": 129}}, {"params": {"k_nn": [AT_MOST]}}),
        ({"embedding": [[0.0], [1.0]], "params": {"weight": "cosine"}}, {"params": {"weight": [CHOICE]}}),
        ({"embedding": [[0.0], [1.0]], "colour": 1}, {"colour": ["Unknown field."]}),
    ],
)  # fmt: skip
def test_bad_fit_input_is_400_naming_the_field(owner_client, body, fields):
    response = post_json(owner_client, "qac/fit", body)

    assert response.status_code == 400 and response.json()["fields"] == fields
    assert not QACModel.objects.exists()


def test_non_finite_numbers_are_refused(owner_client):
    for body in (b'{"embedding": [[0.0], [1.0], [NaN]]}', b'{"embedding": [[0.0], [1e999]]}'):
        response = owner_client.post(f"{API}/qac/fit", body, content_type="application/json")
        assert response.status_code == 400 and response.json()["code"] == "parse_error"
    with pytest.raises(qac.QACError, match="Row 1 holds a value that is not a finite number"):
        qac.as_matrix([[0.0], [float("inf")]])


def test_an_unknown_engine_is_400_naming_the_available_ones(owner_client):
    response = post_json(owner_client, "qac/fit", {**LINE, "params": {"engine": "real_qac"}})

    assert response.status_code == 400
    assert response.json()["fields"] == {"params": {"engine": ["Unknown engine 'real_qac': available: laplace."]}}


class ShrinkEngine:
    """An engine a package could register: halves the input."""

    name = "shrink"

    def apply(self, graph, z0, params):
        return z0 / 2


def test_an_installed_package_can_register_an_engine(owner_client, monkeypatch):
    point = EntryPoint(name="shrink", value=f"{__name__}:ShrinkEngine", group=qac.ENTRY_POINT_GROUP)
    monkeypatch.setattr(qac, "entry_points", lambda group: [point] if group == qac.ENTRY_POINT_GROUP else [])
    qac.engines.cache_clear()
    try:
        model = fit(owner_client, {**LINE, "params": {"k_nn": 1, "engine": "shrink"}})
        body = post_json(owner_client, "qac/apply", {"model": model["id"], "embedding": LINE["embedding"]}).json()
        health = owner_client.get(f"{API}/health").json()
    finally:
        qac.engines.cache_clear()

    assert body["engine"] == "shrink" and np.array(body["embedding"]).ravel().tolist() == [0.0, 0.5, 1.5]
    assert health["engines"] == ["laplace", "shrink"]


def test_large_inputs_run_as_jobs(owner_client, settings):
    settings.RESEARCH_QAC_INLINE_MAX_VALUES = 10
    embedding = np.random.default_rng(0).standard_normal((30, 2)).tolist()

    queued = post_json(owner_client, "qac/fit", {"embedding": embedding, "params": {"k_nn": 3}})

    assert queued.status_code == 202
    job = queued.json()
    assert job["kind"] == "qac_fit" and job["url"] == f"/api/v1/research/jobs/{job['id']}/"
    done = owner_client.get(job["url"]).json()  # the tests' task backend runs at once
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    model = done["result"]["model"]
    applied = post_json(owner_client, "qac/apply", {"model": model, "embedding": embedding})
    assert applied.status_code == 202
    result = owner_client.get(applied.json()["url"]).json()["result"]
    assert result["model"] == model and len(result["embedding"]) == 30
    assert JobStatus.objects.filter(payload__isnull=False).count() == 0, "inputs are dropped once done"
