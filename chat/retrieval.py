"""Hybrid retrieval: full-text search (BM25 over PostgreSQL's tsvectors) and pgvector cosine
search over the chunks a user may read (their own documents and the shared knowledge base, never
anything else), fused by
reciprocal rank fusion: score = Σ 1 / (k + rank) over the two lists (k = CHAT_RRF_K, 60).

The scope is applied before ranking, in SQL, on both sides. HNSW applies a filter after its index
scan, so for a user whose chunks are a small part of the table the index returns mostly other
users' neighbours and the filter leaves too few. Scopes up to EXACT_UP_TO chunks are therefore
ranked exactly (the scope's chunks by the owner index, every distance computed: cheap at that
size, and exact); larger scopes use the HNSW index with ``hnsw.ef_search`` raised and the limit
over-fetched, and fall back to the exact scan when the filter still leaves fewer than asked
(docs/chat.md has the measurements).
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction

from chat.embedding import get_embedder
from chat.models import SEARCH_CONFIG, Chunk, Document
from veritas import vectors

EXACT_UP_TO = 20_000
CANDIDATES = 100  # from each side, before fusion
EF_SEARCH = 200
OVERFETCH = 4

C, D = Chunk._meta.db_table, Document._meta.db_table
SCOPE = "(c.owner_id = %(owner)s OR c.owner_id IS NULL)"
READY = f"EXISTS (SELECT 1 FROM {D} d WHERE d.id = c.document_id AND d.status = 'ready')"


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
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {C} c WHERE {SCOPE}", {"owner": owner_id})
        return cursor.fetchone()[0]


BM25_K1, BM25_B = 1.5, 0.75


def full_text(query: str, owner_id: int | None, limit: int = CANDIDATES) -> list[tuple[int, int, float]]:
    """(chunk, document, BM25 score) of the best full-text matches in scope.

    PostgreSQL's own ranks (ts_rank, ts_rank_cd) know no inverse document frequency: a common
    word counts as much as a rare one. So BM25 (k1 1.5, b 0.75) is computed here, in SQL: the
    query's words (stemmed, stop words dropped) find, through the GIN index, every chunk in scope
    holding any of them; each word's document frequency is counted among those chunks, its term
    frequency read from the chunk's tsvector (its positions), the length is the chunk's in
    characters against the scope's average. On the Cranfield collection: nDCG@10 0.370 against
    0.302 for ts_rank_cd (docs/chat.md)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""WITH words AS (
                SELECT DISTINCT lexeme
                FROM unnest(tsvector_to_array(to_tsvector(%(config)s::regconfig, %(query)s))) lexeme
            ), scope AS (
                SELECT count(*)::float8 AS n, greatest(avg(length(c.text)), 1)::float8 AS average
                FROM {C} c WHERE {SCOPE}
            ), matches AS (
                SELECT c.id, c.document_id, c.search, length(c.text) AS size FROM {C} c
                WHERE c.search @@ (SELECT coalesce(string_agg(quote_literal(lexeme), ' | '), '')::tsquery FROM words)
                  AND {SCOPE} AND {READY}
            ), frequencies AS (
                SELECT m.id, m.document_id, m.size, t.lexeme, coalesce(array_length(t.positions, 1), 1) AS tf
                FROM matches m, unnest(m.search) t WHERE t.lexeme IN (SELECT lexeme FROM words)
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


def nearest(vector, owner_id: int | None, limit: int = CANDIDATES, *, exact: bool | None = None):
    """(chunk, document, cosine similarity) of the nearest chunks in scope."""
    if exact is None:
        exact = scope_size(owner_id) <= EXACT_UP_TO
    params = {"v": vector, "owner": owner_id, "limit": limit}
    with transaction.atomic(), vectors.registered().cursor() as cursor:
        if exact:
            # No index scan: every chunk of the scope is scored (the owner index finds them).
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(
                f"""SELECT c.id, c.document_id, 1 - (c.embedding <=> %(v)s) FROM {C} c
                WHERE {SCOPE} AND {READY} ORDER BY c.embedding <=> %(v)s LIMIT %(limit)s""",
                params,
            )
            return cursor.fetchall()
        cursor.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, limit * OVERFETCH)}")
        cursor.execute(
            f"""SELECT id, document_id, similarity FROM (
                SELECT c.id, c.document_id, c.owner_id, 1 - (c.embedding <=> %(v)s) AS similarity,
                       c.embedding <=> %(v)s AS distance
                FROM {C} c ORDER BY c.embedding <=> %(v)s LIMIT %(fetch)s
            ) c WHERE {SCOPE} AND {READY} ORDER BY distance LIMIT %(limit)s""",
            {**params, "fetch": limit * OVERFETCH},
        )
        found = cursor.fetchall()
    if len(found) < limit and len(found) < scope_size(owner_id):
        return nearest(vector, owner_id, limit, exact=True)
    return found


def search(query: str, owner_id: int | None, *, k: int = 10, mode: str = "hybrid", vector=None) -> list[Hit]:
    """The k best chunks for ``query`` in the scope of ``owner_id`` (their own and the shared
    documents; None: the shared ones only). ``vector``: the query's embedding, when the caller
    has it already."""
    hits: dict[int, Hit] = {}
    rrf = settings.CHAT_RRF_K
    if mode in ("hybrid", "fts"):
        for rank, (chunk, document, score) in enumerate(full_text(query, owner_id, max(CANDIDATES, k)), start=1):
            hit = hits.setdefault(chunk, Hit(chunk, document, 0.0))
            hit.fts_rank, hit.fts_score = rank, float(score)
            hit.score += 1 / (rrf + rank) if mode == "hybrid" else float(score)
    if mode in ("hybrid", "vector"):
        if vector is None:
            vector = get_embedder().embed([query])[0]
        for rank, (chunk, document, similarity) in enumerate(nearest(vector, owner_id, max(CANDIDATES, k)), start=1):
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
