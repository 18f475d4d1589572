"""Vector stores: creating, bulk upsert (JSON and NDJSON, all or nothing, row errors), search
against NumPy, the filtered-search guarantee (k results whenever k items match), deleting,
expiry, and isolation: owner, colleague (another key of the institution) and stranger."""

import json
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from research import vectors
from research.models import AuditLog, VectorStore
from tests.research.conftest import API

pytestmark = pytest.mark.django_db
STORES = f"{API}/vector-stores/"


def create(client, **body):
    body = {"name": "cells", "dimension": 3, **body}
    return client.post(STORES, body, format="json")


def upsert(client, store_id, rows, *, ndjson=False):
    if ndjson:
        body = "\n".join(json.dumps(row) for row in rows)
        return client.post(f"{STORES}{store_id}/items/", body, content_type="application/x-ndjson")
    return client.post(f"{STORES}{store_id}/items/", json.dumps(rows), content_type="application/json")


def search(client, store_id, vector, **options):
    return client.post(f"{STORES}{store_id}/search/", {"vector": vector, **options}, format="json")


def partition_exists(store_pk) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"research_vectoritem_{store_pk}"])
        return cursor.fetchone()[0]


@pytest.fixture
def store(owner_client):
    return create(owner_client).json()


ROWS = [
    {"id": "a", "vector": [1, 0, 0], "metadata": {"cell": "T", "batch": 1}},
    {"id": "b", "vector": [0.9, 0.1, 0], "metadata": {"cell": "B", "batch": 1}},
    {"id": "c", "vector": [0, 1, 0], "metadata": {"cell": "T", "batch": 2}},
    {"id": "d", "vector": [0, 0, 1]},
]


# --- stores -------------------------------------------------------------------------------------


def test_a_store_is_made_with_its_partition_and_index_and_a_day_to_live(owner_client, institution):
    before = timezone.now()
    response = create(owner_client, name="pbmc", dimension=384, metric="l2")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "pbmc" and body["dimension"] == 384 and body["metric"] == "l2"
    assert body["item_count"] == 0
    stored = VectorStore.objects.get(public_id=body["id"], institution=institution)
    assert timedelta(hours=23, minutes=59) < stored.expires_at - before <= timedelta(hours=24, seconds=5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [stored.partition])
        definitions = " ".join(row[0] for row in cursor.fetchall())
    assert "hnsw (((embedding)::vector(384)) vector_l2_ops)" in definitions
    assert "gin (metadata jsonb_path_ops)" in definitions


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dimension": 0}, "dimension"),
        ({"dimension": 2001}, "dimension"),
        ({"dimension": "3"}, "dimension"),
        ({"metric": "hamming"}, "metric"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00"}, "expires_at"),  # no UTC offset
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_store_is_a_400_naming_the_field(owner_client, body, field):
    response = create(owner_client, **body)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not VectorStore.objects.exists()


def test_a_name_is_unique_per_institution_only(owner_client, colleague_client, stranger_client, store):
    taken = create(colleague_client)
    assert taken.status_code == 409
    assert taken.json()["detail"] == "Your institution already has a vector store named 'cells'."
    assert create(stranger_client).status_code == 201


def test_the_expiry_can_be_moved(owner_client, store):
    later = (timezone.now() + timedelta(days=7)).replace(microsecond=0)
    response = owner_client.patch(f"{STORES}{store['id']}/", {"expires_at": later.isoformat()}, format="json")

    assert response.status_code == 200
    assert VectorStore.objects.get(public_id=store["id"]).expires_at == later
    renamed = owner_client.patch(f"{STORES}{store['id']}/", {"name": "other"}, format="json")
    assert renamed.status_code == 400 and "name" in renamed.json()["fields"]


def test_an_expired_store_is_gone_before_it_is_pruned(owner_client, store):
    VectorStore.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert owner_client.get(f"{STORES}{store['id']}/").status_code == 404
    assert search(owner_client, store["id"], [1, 0, 0]).status_code == 404
    assert upsert(owner_client, store["id"], ROWS).status_code == 404
    assert owner_client.get(STORES).json()["results"] == []


def test_deleting_a_store_drops_its_partition(owner_client, store):
    stored = VectorStore.objects.get(public_id=store["id"])
    upsert(owner_client, store["id"], ROWS)

    assert owner_client.delete(f"{STORES}{store['id']}/").status_code == 204
    assert not VectorStore.objects.exists()
    assert not partition_exists(stored.pk)
    assert owner_client.delete(f"{STORES}{store['id']}/").status_code == 404


# --- upsert -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ndjson", [False, True])
def test_an_upsert_inserts_then_replaces(owner_client, store, ndjson):
    first = upsert(owner_client, store["id"], ROWS, ndjson=ndjson)
    assert first.status_code == 200, first.json()
    assert first.json() == {"received": 4, "inserted": 4, "updated": 0}

    again = upsert(owner_client, store["id"], [{"id": "a", "vector": [0, 0, 2], "metadata": {"cell": "NK"}}])
    assert again.json() == {"received": 1, "inserted": 0, "updated": 1}
    assert owner_client.get(f"{STORES}{store['id']}/").json()["item_count"] == 4
    hit = search(owner_client, store["id"], [0, 0, 1], k=1).json()["results"][0]
    assert hit["id"] in {"a", "d"} and hit["distance"] == pytest.approx(0, abs=1e-6)
    assert search(owner_client, store["id"], [0, 0, 1], filter={"cell": "NK"}).json()["results"][0]["id"] == "a"


@pytest.mark.parametrize(
    ("rows", "errors"),
    [
        (
            [{"id": "x", "vector": [1, 2]}, {"id": "y", "vector": [1, 2, 3, 4]}],
            {
                "0": {"vector": ["Has 2 values; the store's dimension is 3."]},
                "1": {"vector": ["Has 4 values; the store's dimension is 3."]},
            },
        ),
        (
            [{"id": "x", "vector": [1, 2, 3]}, {"id": "x", "vector": [1, 2, 3]}],
            {"1": {"id": ["'x' is also the id of row 0: ids must be unique in a batch."]}},
        ),
        (
            [{"id": "x", "vector": [0, 0, 0]}],
            {"0": {"vector": ["Is all zeros: a zero vector has no cosine distance."]}},
        ),
        (
            [{"id": "x", "vector": [1e39, 0, 0]}],
            {"0": {"vector": ["Holds a value too large for a 32-bit float."]}},
        ),
        (
            [{"id": "a/b", "vector": [1, 2, 3]}],
            {"0": {"id": ["No '/' and no control characters: the id is part of the item's URL."]}},
        ),
        ([{"id": "x", "vector": [1, "2", 3]}], {"0": {"vector.1": ["Input should be a valid number"]}}),
        ([{"vector": [1, 2, 3]}], {"0": {"id": ["Field required"]}}),
        ([{"id": "x", "vector": [1, 2, 3], "colour": 1}], {"0": {"colour": ["Extra inputs are not permitted"]}}),
        ([], {"non_field_errors": ["No items: send at least one."]}),
    ],
)
def test_a_bad_row_is_a_400_naming_it_and_nothing_is_written(owner_client, store, rows, errors):
    response = upsert(owner_client, store["id"], rows)

    assert response.status_code == 400
    assert response.json()["fields"] == errors
    assert VectorStore.objects.get(public_id=store["id"]).item_count == 0


def test_nan_and_infinity_are_row_errors_in_json_and_ndjson(owner_client, store):
    body = '[{"id": "ok", "vector": [1, 2, 3]}, {"id": "x", "vector": [1, NaN, Infinity]}]'
    response = owner_client.post(f"{STORES}{store['id']}/items/", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "1": {"vector.1": ["Input should be a finite number"], "vector.2": ["Input should be a finite number"]}
    }

    lines = '{"id": "ok", "vector": [1, 2, 3]}\n\n{"id": "x", "vector": [NaN, 1, 2]}\nnot json\n'
    response = owner_client.post(f"{STORES}{store['id']}/items/", lines, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "line 3": {"vector.0": ["Input should be a finite number"]},
        "line 4": {"row": ["Not valid JSON."]},
    }
    assert VectorStore.objects.get(public_id=store["id"]).item_count == 0


def test_a_batch_past_the_row_or_byte_limit_is_a_413(owner_client, store, monkeypatch, settings):
    monkeypatch.setattr(vectors, "MAX_ROWS", 3)
    too_many = upsert(owner_client, store["id"], ROWS)
    assert too_many.status_code == 413
    assert too_many.json()["detail"] == "A batch holds at most 3 rows; this one has 4."

    settings.RESEARCH_MAX_BODY_BYTES = 100
    too_big = upsert(owner_client, store["id"], ROWS[:2])
    assert too_big.status_code == 413
    assert VectorStore.objects.get(public_id=store["id"]).item_count == 0


def test_a_body_that_is_not_json_or_of_another_type_is_refused(owner_client, store):
    broken = owner_client.post(f"{STORES}{store['id']}/items/", "[{", content_type="application/json")
    assert broken.status_code == 400 and broken.json()["detail"].startswith("JSON parse error")
    wrong_type = owner_client.post(f"{STORES}{store['id']}/items/", "id,vector\n", content_type="text/csv")
    assert wrong_type.status_code == 415


def test_an_upsert_is_audited_from_its_rows(owner_client, store):
    upsert(owner_client, store["id"], ROWS)

    entry = AuditLog.objects.filter(method="POST", route="vector-stores/{public_id}/items/").get()
    assert entry.status == 200
    assert json.loads(entry.body)[0] == {"id": "a", "vector": [1.0, 0.0, 0.0], "metadata": {"cell": "T", "batch": 1}}


# --- search -------------------------------------------------------------------------------------


@pytest.mark.parametrize("metric", ["cosine", "l2", "inner_product"])
def test_search_ranks_and_measures_as_numpy_does(owner_client, metric):
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal((40, 8)).astype(np.float32)
    store = create(owner_client, dimension=8, metric=metric).json()
    upsert(owner_client, store["id"], [{"id": f"v{i}", "vector": row.tolist()} for i, row in enumerate(matrix)])
    query = rng.standard_normal(8).astype(np.float32)

    found = search(owner_client, store["id"], query.tolist(), k=5).json()

    if metric == "cosine":
        distances = 1 - matrix @ query / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))
    elif metric == "l2":
        distances = np.linalg.norm(matrix - query, axis=1)
    else:
        distances = -(matrix @ query)
    best = np.argsort(distances)[:5]
    assert [hit["id"] for hit in found["results"]] == [f"v{i}" for i in best]
    assert [hit["distance"] for hit in found["results"]] == pytest.approx(distances[best].tolist(), abs=1e-5)
    assert found["exact"] is True  # a store this small is ranked exactly


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vector": [1, 2]}, "vector"),
        ({"vector": [1, 2, "x"]}, "vector"),
        ({"vector": [[1, 2, 3]]}, "vector"),
        ({"vector": [0, 0, 0]}, "vector"),
        ({"vector": [1e39, 0, 0]}, "vector"),
        ({}, "vector"),
        ({"vector": [1, 2, 3], "k": 0}, "k"),
        ({"vector": [1, 2, 3], "k": 1001}, "k"),
        ({"vector": [1, 2, 3], "filter": {"cell": {"in": ["T"]}}}, "filter"),
        ({"vector": [1, 2, 3], "filter": ["T"]}, "filter"),
        ({"vector": [1, 2, 3], "limit": 3}, "limit"),
    ],
)
def test_a_bad_search_is_a_400_naming_the_field(owner_client, store, body, field):
    response = owner_client.post(f"{STORES}{store['id']}/search/", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_filter_is_equality_on_every_key(owner_client, store):
    upsert(owner_client, store["id"], ROWS)

    found = search(owner_client, store["id"], [1, 0, 0], filter={"cell": "T", "batch": 2}).json()
    assert [hit["id"] for hit in found["results"]] == ["c"]
    assert found["results"][0]["metadata"] == {"cell": "T", "batch": 2}
    assert search(owner_client, store["id"], [1, 0, 0], filter={"cell": "NK"}).json()["results"] == []


@pytest.fixture
def big_store(institution, monkeypatch):
    """A store past the (lowered) exact-ranking size, so that searches go through the HNSW
    index: 600 points on a line of clusters; "far" marks the 300 farthest from the origin's
    side, "rare" 20 of them, "even" every other point."""
    monkeypatch.setattr(vectors, "EXACT_UP_TO", 50)
    monkeypatch.setattr(vectors, "EF_SEARCH", 10)
    rng = np.random.default_rng(5)
    position = np.arange(600, dtype=np.float32)
    matrix = np.stack([position, *rng.standard_normal((7, 600)).astype(np.float32)], axis=1)
    store = vectors.create_store(institution=institution, name="big", dimension=8, metric="l2")
    items = [
        vectors.Item(
            id=f"p{i}", vector=row.tolist(), metadata={"far": bool(i >= 300), "rare": i >= 580, "even": i % 2 == 0}
        )
        for i, row in enumerate(matrix)
    ]
    vectors.upsert(store, vectors.checked(items, [str(i) for i in range(600)], store))
    return store, matrix


def nearest_ids(matrix, query, rows, k):
    distances = np.linalg.norm(matrix[rows] - query, axis=1)
    return [f"p{rows[i]}" for i in np.argsort(distances, kind="stable")[:k]]


@pytest.mark.parametrize(
    ("where", "rows", "exact"),
    [
        (None, np.arange(600), False),  # the index
        ({"even": True}, np.arange(0, 600, 2), False),  # many match: the index, over-fetched
        ({"rare": True}, np.arange(580, 600), True),  # few match: ranked exactly among them
        ({"far": True}, np.arange(300, 600), True),  # many match, none near: the index finds too few
    ],
)
def test_a_filtered_search_returns_k_whenever_k_match(big_store, where, rows, exact):
    store, matrix = big_store
    query = np.zeros(8, dtype=np.float32)

    found = vectors.search(store, query, 10, where)

    assert len(found.results) == 10
    assert found.exact is exact
    assert [match.id for match in found.results] == nearest_ids(matrix, query, rows, 10)


def test_fewer_matches_than_k_give_them_all(big_store):
    store, _ = big_store
    found = vectors.search(store, np.zeros(8, dtype=np.float32), 50, {"rare": True})
    assert len(found.results) == 20


def test_search_is_ranked_exactly_when_asked(big_store):
    store, matrix = big_store
    query = np.full(8, 299.5, dtype=np.float32)
    exact = vectors.exact_search(store, query, 10)
    assert [match.id for match in exact.results] == nearest_ids(matrix, query, np.arange(600), 10)


# --- items and isolation ------------------------------------------------------------------------


def test_an_item_is_deleted_once(owner_client, store):
    upsert(owner_client, store["id"], ROWS)

    assert owner_client.delete(f"{STORES}{store['id']}/items/b/").status_code == 204
    assert owner_client.delete(f"{STORES}{store['id']}/items/b/").status_code == 404
    assert owner_client.get(f"{STORES}{store['id']}/").json()["item_count"] == 3
    ids = [hit["id"] for hit in search(owner_client, store["id"], [1, 0, 0], k=10).json()["results"]]
    assert sorted(ids) == ["a", "c", "d"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "", None),
        ("patch", "", {"expires_at": "2999-01-01T00:00:00Z"}),
        ("post", "search/", {"vector": [1, 0, 0]}),
        ("post", "items/", [{"id": "z", "vector": [1, 1, 1]}]),
        ("delete", "items/a/", None),
        ("delete", "", None),
    ],
)
def test_a_store_is_its_institutions_alone(owner_client, colleague_client, stranger_client, store, method, path, body):
    upsert(owner_client, store["id"], ROWS)
    url = f"{STORES}{store['id']}/{path}"

    assert getattr(stranger_client, method)(url, body, format="json").status_code == 404
    assert VectorStore.objects.get(public_id=store["id"]).item_count == 4  # the stranger changed nothing
    assert getattr(colleague_client, method)(url, body, format="json").status_code in (200, 204)


def test_the_list_shows_own_stores_in_a_fixed_number_of_queries(owner_client, stranger_client):
    create(owner_client, name="one")
    create(stranger_client, name="theirs")
    owner_client.get(STORES)  # warm: the key's last use is written at most once a minute
    with CaptureQueriesContext(connection) as few:
        listed = owner_client.get(STORES).json()
    create(owner_client, name="two")
    create(owner_client, name="three")
    with CaptureQueriesContext(connection) as more:
        listed_more = owner_client.get(STORES).json()

    assert [store["name"] for store in listed["results"]] == ["one"]
    assert [store["name"] for store in listed_more["results"]] == ["three", "two", "one"]
    assert len(more.captured_queries) == len(few.captured_queries) <= 6


def test_without_a_key_it_is_a_401(store):
    assert APIClient().get(STORES).status_code == 401
    assert APIClient().post(f"{STORES}{store['id']}/search/", {"vector": [1, 0, 0]}, format="json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_ef_search_is_set_once_per_value(institution, monkeypatch):
    """The index path's hnsw.ef_search: made for the session when no transaction is open (and
    then only when it changes), always the value the search needs."""
    monkeypatch.setattr(vectors, "EXACT_UP_TO", 0)
    store = vectors.create_store(institution=institution, name="session", dimension=2, metric="l2")
    items = [vectors.Item(id=f"p{i}", vector=[float(i), 0.0]) for i in range(60)]
    vectors.upsert(store, vectors.checked(items, [str(i) for i in range(60)], store))
    store.refresh_from_db()

    def ef_search() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('hnsw.ef_search')")
            return cursor.fetchone()[0]

    first = vectors.search(store, np.array([0.0, 0.0], dtype=np.float32), 3)
    assert [m.id for m in first.results] == ["p0", "p1", "p2"] and not first.exact
    assert ef_search() == str(vectors.EF_SEARCH)
    wide = vectors.search(store, np.array([59.0, 0.0], dtype=np.float32), 50)
    assert len(wide.results) == 50 and ef_search() == "50"
    assert [m.id for m in vectors.search(store, np.array([0.0, 0.0], dtype=np.float32), 1).results] == ["p0"]
    assert ef_search() == str(vectors.EF_SEARCH)


def rows_in(store_pk) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM research_vectoritem_{int(store_pk)}")  # noqa: S608
        return cursor.fetchone()[0]


@pytest.mark.parametrize("bad_id", ["..", ".", "a\n"])
def test_an_id_a_url_cannot_address_is_refused(owner_client, store, bad_id):
    response = upsert(owner_client, store["id"], [{"id": bad_id, "vector": [1, 2, 3]}])
    assert response.status_code == 400 and "id" in response.json()["fields"]["0"]


def test_a_large_batch_rebuilds_the_index_and_a_failure_writes_nothing(owner_client, store, monkeypatch):
    stored = VectorStore.objects.get(public_id=store["id"])
    monkeypatch.setattr(vectors, "BUILD_FROM", 2)
    rebuilt = upsert(owner_client, store["id"], ROWS)  # four rows into an empty store: the index is rebuilt
    assert rebuilt.json()["inserted"] == 4 and rows_in(stored.pk) == 4
    monkeypatch.setattr(vectors, "_index_sql", lambda store: "CREATE INDEX broken ON nowhere (x)")
    more = [{"id": f"n{i}", "vector": [1, 2, i]} for i in range(8)]

    with pytest.raises(Exception, match="nowhere"):
        upsert(owner_client, store["id"], more)  # the rows are inserted, then the index build fails

    assert rows_in(stored.pk) == 4
    assert VectorStore.objects.get(pk=stored.pk).item_count == 4
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s", [stored.partition, "%hnsw"]
        )
        assert cursor.fetchone()[0] == 1


def test_an_expired_stores_name_is_free_again(owner_client, store):
    old = VectorStore.objects.get(public_id=store["id"])
    VectorStore.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    again = create(owner_client)

    assert again.status_code == 201
    assert not partition_exists(old.pk) and not VectorStore.objects.filter(pk=old.pk).exists()


def test_deleting_an_institution_drops_its_partitions(institution, owner_client, store):
    stored = VectorStore.objects.get(public_id=store["id"])
    institution.delete()
    assert not partition_exists(stored.pk)


def test_a_filter_with_a_nul_character_is_a_400(owner_client, store):
    response = search(owner_client, store["id"], [1, 0, 0], filter={"cell": "T\u0000"})
    assert response.status_code == 400 and "filter" in response.json()["fields"]


@pytest.mark.django_db(transaction=True)
def test_a_setting_made_in_a_rolled_back_transaction_is_not_trusted(institution, monkeypatch):
    from django.db import transaction

    monkeypatch.setattr(vectors, "EXACT_UP_TO", 0)
    store = vectors.create_store(institution=institution, name="rollback", dimension=2, metric="l2")
    items = [vectors.Item(id=f"p{i}", vector=[float(i), 0.0]) for i in range(60)]
    vectors.upsert(store, vectors.checked(items, [str(i) for i in range(60)], store))
    store.refresh_from_db()
    query = np.array([0.0, 0.0], dtype=np.float32)
    vectors.search(store, query, 3)  # the session now has EF_SEARCH
    try:
        with transaction.atomic():
            vectors.search(store, query, 45)
            raise RuntimeError("roll back")
    except RuntimeError:
        pass

    vectors.search(store, query, 45)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('hnsw.ef_search')")
        assert cursor.fetchone()[0] == "45"
    vectors.search(store, query, 3)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('hnsw.ef_search')")
        assert cursor.fetchone()[0] == str(vectors.EF_SEARCH)
