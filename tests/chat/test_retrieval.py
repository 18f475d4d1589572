"""Retrieval sees the caller's documents and the shared ones, never another user's; a user with
few chunks among many still gets k results; evaluate_retrieval cleans up after itself."""

import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from chat import retrieval, services
from chat.models import Chunk, Document, Status
from veritas import bulk, vectors

pytestmark = pytest.mark.django_db

TEXT = (
    "Shock waves form ahead of a blunt body in hypersonic flow. The stagnation point heating "
    "depends on the nose radius and the free-stream density.\n\n"
)


def upload(owner, text, name="notes.txt"):
    document, _ = services.add_document(
        actor=owner, owner=owner, filename=name, content_type="text/plain", data=text.encode()
    )
    services.ingest([document])
    document.refresh_from_db()
    return document


def test_search_is_scoped_to_the_owner_and_the_shared_base(owner, stranger):
    mine = upload(owner, TEXT + "Owner's secret: the wind tunnel runs on Tuesdays.")
    theirs = upload(stranger, TEXT + "Stranger's secret: the wind tunnel runs on Fridays.")
    shared = upload(None, TEXT + "Shared: tunnel safety rules.")
    assert {mine.status, theirs.status, shared.status} == {Status.READY}
    for mode in ("hybrid", "fts", "vector"):
        for user, own, other in ((owner, mine, theirs), (stranger, theirs, mine)):
            documents = {hit.document_id for hit in retrieval.search("wind tunnel secret", user.pk, k=10, mode=mode)}
            assert own.pk in documents and shared.pk in documents, mode
            assert other.pk not in documents, mode
    # Without a user: the shared base only.
    assert {hit.document_id for hit in retrieval.search("wind tunnel", None, k=10)} == {shared.pk}


def random_chunks(document, count, rng):
    with vectors.registered().cursor() as cursor:
        bulk.copy_rows(
            cursor,
            Chunk._meta.db_table,
            services.CHUNK_COLUMNS,
            (
                (document.pk, document.owner_id, i, f"chunk {i}", 0, 7, (v := rng.normal(size=384)) / np.linalg.norm(v))
                for i in range(count)
            ),
        )
    Document.objects.filter(pk=document.pk).update(status=Status.READY, chunk_count=count)


@pytest.mark.parametrize("exact_up_to", [retrieval.EXACT_UP_TO, 0])
def test_a_small_owner_gets_k_results_among_many_chunks(owner, stranger, monkeypatch, exact_up_to):
    """The stranger owns 3,000 chunks, the owner 12 (0.4 %). Through the exact scan (small
    scope), and through the HNSW index (forced: EXACT_UP_TO 0), whose filtered over-fetch holds
    too few of the owner's chunks and falls back to the exact scan, the owner gets k = 10."""
    monkeypatch.setattr(retrieval, "EXACT_UP_TO", exact_up_to)
    rng = np.random.default_rng(5)
    big = Document.objects.create(
        owner=stranger, title="big", filename="big", content_type="text/plain", size=1, sha256="b", content=b""
    )
    small = Document.objects.create(
        owner=owner, title="small", filename="s", content_type="text/plain", size=1, sha256="s", content=b""
    )
    random_chunks(big, 3000, rng)
    random_chunks(small, 12, rng)
    query = rng.normal(size=384)
    query /= np.linalg.norm(query)
    found = retrieval.nearest(query, owner.pk, limit=10)
    assert len(found) == 10
    assert {document for _, document, _ in found} == {small.pk}
    # Exactly the ten nearest of the owner's chunks.
    everything = retrieval.nearest(query, owner.pk, limit=12, exact=True)
    assert [row[0] for row in found] == [row[0] for row in everything[:10]]


def test_evaluate_retrieval_reports_and_leaves_nothing(tmp_path):
    corpus = [
        {"_id": "d1", "title": "Hypersonic heating", "text": "Stagnation point heating of blunt bodies."},
        {"_id": "d2", "title": "Boundary layers", "text": "Transition of the laminar boundary layer on flat plates."},
        {"_id": "d3", "title": "Wings", "text": "Lift of slender delta wings at high angle of attack."},
    ]
    (tmp_path / "corpus.jsonl").write_text("\n".join(json.dumps(row) for row in corpus))
    queries = [{"_id": "q1", "text": "heating of a blunt body"}, {"_id": "q2", "text": "delta wing lift"},
               {"_id": "q3", "text": "unjudged"}]  # fmt: skip
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in queries))
    (tmp_path / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\td3\t1\n")
    out = io.StringIO()
    call_command("evaluate_retrieval", str(tmp_path), "--mode", "hybrid", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["queries"] == 2 and result["documents"] == 3
    assert result["ndcg_at_10"] == 1.0 and result["mrr_at_10"] == 1.0 and result["recall_at_100"] == 1.0
    assert not Document.objects.exists() and not Chunk.objects.exists()
