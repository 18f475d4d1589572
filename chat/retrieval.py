"""Hybrid retrieval: full-text search (BM25 over PostgreSQL's tsvectors) and pgvector cosine
search over the chunks a user may read (their own documents and the shared knowledge base, never
anything else), fused by reciprocal rank fusion: score = Σ 1 / (k + rank) over the two lists (k = CHAT_RRF_K, 60).

The scope is applied before ranking, in SQL, on both sides. HNSW applies a filter after its index
scan, so for a user whose chunks are a small part of the table the index returns mostly other
users' neighbours and the filter leaves too few. Scopes up to EXACT_UP_TO chunks are therefore
ranked exactly (the scope's chunks by the owner index, every distance computed: cheap at that
size, and exact); larger scopes use the HNSW index, over-fetched in proportion to the scope's
share of the table, and fall back to the exact scan when the filter still leaves fewer than
asked (docs/chat.md has the measurements).
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

import math
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from chat.embedding import get_embedder
from chat.models import SEARCH_CONFIG, Chunk, Document
from veritas import vectors

EXACT_UP_TO = 2_000  # scopes this small are ranked exactly (docs/chat.md: where the two cross)
# Fused: the best FTS_CANDIDATES of the full-text side (cheap at any depth) and VECTOR_CANDIDATES
# of the vector side (deeper costs an ever larger index scan for a small share of the table).
FTS_CANDIDATES = 100
VECTOR_CANDIDATES = 20
EF_SEARCH = 100  # hnsw.ef_search at least
MAX_FETCH = 1_000  # pgvector's largest ef_search
OVERFETCH = 2  # fetch twice what the scope's share of the table should yield

C, D = Chunk._meta.db_table, Document._meta.db_table
SCOPE = "(c.owner_id = %(owner)s OR c.owner_id IS NULL)"
# The ready documents of the scope, with their chunks' count and length (the BM25 statistics).
DOCUMENTS = (
    f"SELECT d.id, d.chunk_count, d.chunk_bytes FROM {D} d "
    "WHERE (d.owner_id = %(owner)s OR d.owner_id IS NULL) AND d.status = 'ready'"
)


@dataclass
class Hit:
    chunk_id: int
    document_id: int
    score: float
    fts_rank: int | None = None
    vector_rank: int | None = None
    fts_score: float | None = None
    similarity: float | None = None


def scope_size(owner_id: int | None) -> int:
    """How many chunks the scope holds (ready documents only)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT coalesce(sum(chunk_count), 0) FROM ({DOCUMENTS}) d", {"owner": owner_id})
        return int(cursor.fetchone()[0])


BM25_K1, BM25_B = 1.5, 0.75


def full_text(query: str, owner_id: int | None, limit: int = FTS_CANDIDATES) -> list[tuple[int, int, float]]:
    """(chunk, document, BM25 score) of the best full-text matches in scope.

    PostgreSQL's own ranks (ts_rank, ts_rank_cd) know no inverse document frequency: a common
    word counts as much as a rare one. So BM25 (k1 1.5, b 0.75) is computed here, in SQL: the
    query's words (stemmed, stop words dropped) find, through the GIN index, every chunk in scope
    holding any of them; each word's document frequency is counted among those chunks; its term
    frequency is the number of its positions in the chunk's tsvector (``setweight`` marks the
    query's words, ``ts_filter`` keeps them: no unnesting of the whole vector). A chunk's length
    is its text's size in bytes; the scope's chunk count and average length come from its
    documents' totals. On the Cranfield collection: nDCG@10 0.370 against 0.302 for
    ts_rank_cd (docs/chat.md)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH words AS (
                SELECT array_agg(DISTINCT lexeme) AS list
                FROM unnest(tsvector_to_array(to_tsvector(%(config)s::regconfig, %(query)s))) lexeme
            ), documents AS ({DOCUMENTS}
            ), scope AS (
                SELECT greatest(sum(chunk_count), 1)::float8 AS n,
                       greatest(sum(chunk_bytes)::float8 / greatest(sum(chunk_count), 1), 1) AS average
                FROM documents
            ), matches AS (
                SELECT c.id, c.document_id, c.search, octet_length(c.text) AS size FROM {C} c
                WHERE c.search @@ (
                    SELECT coalesce(array_to_string(ARRAY(SELECT quote_literal(w) FROM unnest(list) w), ' | '), '')
                    FROM words)::tsquery
                  AND {SCOPE} AND c.document_id IN (SELECT id FROM documents)
            ), frequencies AS (
                SELECT m.id, m.document_id, m.size, t.lexeme, coalesce(array_length(t.positions, 1), 1) AS tf
                FROM matches m, words, unnest(ts_filter(setweight(m.search, 'A', words.list), '{{a}}')) t
            ), df AS (
                SELECT lexeme, count(*) AS df FROM frequencies GROUP BY lexeme
            )
            SELECT f.id, f.document_id,
                sum(ln(1 + (scope.n - df.df + 0.5) / (df.df + 0.5))
                    * f.tf * (%(k1)s + 1) / (f.tf + %(k1)s * (1 - %(b)s + %(b)s * f.size / scope.average))) AS score
            FROM frequencies f JOIN df USING (lexeme) CROSS JOIN scope
            GROUP BY f.id, f.document_id
            ORDER BY score DESC, f.id
            LIMIT %(limit)s""",
            {"config": SEARCH_CONFIG, "query": query, "owner": owner_id, "limit": limit, "k1": BM25_K1, "b": BM25_B},
        )
        return cursor.fetchall()


def _table_size() -> int:
    """The chunk table's row count as the planner estimates it (no scan)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = %s::regclass", [C])
        return int(cursor.fetchone()[0])


def nearest(vector, owner_id: int | None, limit: int = VECTOR_CANDIDATES, *, exact: bool | None = None):
    """(chunk, document, cosine similarity) of the nearest chunks in scope.

    Small scopes (up to EXACT_UP_TO chunks) are ranked exactly. Larger ones use the HNSW index,
    which filters after its scan: the index is asked for OVERFETCH times the neighbours needed
    for ``limit`` of the scope's share of the table (at least EF_SEARCH, at most MAX_FETCH).
    When even MAX_FETCH should not hold ``limit`` of the scope, or the filter leaves fewer, the
    exact scan answers."""
    size = scope_size(owner_id)
    fetch = 0
    if exact is None:
        share = size / max(_table_size(), size, 1)
        fetch = min(MAX_FETCH, max(EF_SEARCH, math.ceil(OVERFETCH * limit / share))) if share else 0
        exact = size <= EXACT_UP_TO or share * MAX_FETCH < limit
    params = {"v": vector, "owner": owner_id, "limit": limit}
    if exact:
        with vectors.registered().cursor() as cursor:
            # "+ 0": an order no index can give, so every distance in the scope is computed
            # (the owner index finds the scope's chunks).
            cursor.execute(
                f"""SELECT c.id, c.document_id, 1 - (c.embedding <=> %(v)s) FROM {C} c
                WHERE {SCOPE} AND c.document_id IN (SELECT id FROM ({DOCUMENTS}) d)
                ORDER BY (c.embedding <=> %(v)s) + 0, c.id LIMIT %(limit)s""",
                params,
            )
            return cursor.fetchall()
    fetch = max(fetch, limit)
    with (
        transaction.atomic(),
        vectors.registered().cursor() as cursor,
        vectors.local_setting(cursor, "hnsw.ef_search", str(fetch)),
    ):
        cursor.execute(
            f"""SELECT id, document_id, similarity FROM (
                SELECT c.id, c.document_id, c.owner_id, 1 - (c.embedding <=> %(v)s) AS similarity,
                       c.embedding <=> %(v)s AS distance
                FROM {C} c ORDER BY c.embedding <=> %(v)s LIMIT %(fetch)s
            ) c WHERE {SCOPE} AND c.document_id IN (SELECT id FROM ({DOCUMENTS}) d)
            ORDER BY distance LIMIT %(limit)s""",
            {**params, "fetch": fetch},
        )
        found = cursor.fetchall()
    if len(found) < limit and len(found) < size:
        return nearest(vector, owner_id, limit, exact=True)
    return found


def search(query: str, owner_id: int | None, *, k: int = 10, mode: str = "hybrid", vector=None) -> list[Hit]:
    """The k best chunks for ``query`` in the scope of ``owner_id`` (their own and the shared
    documents; None: the shared ones only). ``vector``: the query's embedding, when the caller
    has it already."""
    hits: dict[int, Hit] = {}
    rrf = settings.CHAT_RRF_K
    if mode in ("hybrid", "fts"):
        for rank, (chunk, document, score) in enumerate(full_text(query, owner_id, max(FTS_CANDIDATES, k)), start=1):
            hit = hits.setdefault(chunk, Hit(chunk, document, 0.0))
            hit.fts_rank, hit.fts_score = rank, float(score)
            hit.score += 1 / (rrf + rank) if mode == "hybrid" else float(score)
    if mode in ("hybrid", "vector"):
        if vector is None:
            vector = get_embedder().embed([query])[0]
        found = nearest(vector, owner_id, max(VECTOR_CANDIDATES, k))
        for rank, (chunk, document, similarity) in enumerate(found, start=1):
            hit = hits.setdefault(chunk, Hit(chunk, document, 0.0))
            hit.vector_rank, hit.similarity = rank, float(similarity)
            hit.score += 1 / (rrf + rank) if mode == "hybrid" else float(similarity)
    return sorted(hits.values(), key=lambda hit: (-hit.score, hit.chunk_id))[:k]


def ranked_chunks(query: str, owner_id: int | None, *, k: int = 10, mode: str = "hybrid") -> list[dict]:
    """search()'s hits with their chunks (text, offsets, document): POST chat/search/."""
    hits = search(query, owner_id, k=k, mode=mode)
    chunks = Chunk.objects.select_related("document").in_bulk([hit.chunk_id for hit in hits])
    return [
        {
            "rank": rank,
            "score": hit.score,
            "fts_rank": hit.fts_rank,
            "fts_score": hit.fts_score,
            "vector_rank": hit.vector_rank,
            "similarity": hit.similarity,
            "chunk": chunk.pk,
            "ordinal": chunk.ordinal,
            "document": chunk.document.uuid,
            "title": chunk.document.title,
            "shared": chunk.document.owner_id is None,
            "start": chunk.char_start,
            "end": chunk.char_end,
            "text": chunk.text,
        }
        for rank, hit in enumerate(hits, start=1)
        if (chunk := chunks.get(hit.chunk_id)) is not None
    ]
