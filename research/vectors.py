"""Vector stores (pgvector): an institution's named collections of vectors, each searched by
one metric, with metadata to filter on.

Every store's items live in a partition of their own of ``research_vectoritem`` (LIST by
store), made with the store and dropped with it (an expired store goes in one DROP TABLE).
The partition has an HNSW index on ``embedding::vector(dimension)`` with the store's
operator class, and the GIN ``jsonb_path_ops`` index on metadata that the parent table
declares. A search reads its store's partition only, so other stores never take the index's
places, and no index serves more than one store.

Filtered search. pgvector 0.6 applies a WHERE clause after its HNSW scan, which returns at
most ``hnsw.ef_search`` rows: with a selective filter the scan yields fewer than k matches,
or none. Here the matching items are first counted through the GIN index (up to
EXACT_UP_TO + 1): that many or fewer are ranked exactly (every distance among them
computed: a few milliseconds), more use the HNSW scan over-fetched in proportion to their
share of the store, and if the filter still leaves fewer than k, the exact ranking answers.
So a search returns k results whenever k items match (docs/research.md has the figures).
"""

# ruff: noqa: S608 (table names are built from integer ids; values are parameters)

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils import timezone
from psycopg.errors import UndefinedTable
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, field_validator

from research.models import Institution, Metric, VectorStore
from veritas import bulk, vectors
from veritas.api.parsers import RawNDJSONParser

MAX_ROWS = 10_000  # items per upsert request (the body is limited by RESEARCH_MAX_BODY_BYTES too)
MAX_K = 1_000  # results per search: pgvector's largest hnsw.ef_search
EF_SEARCH = 32  # hnsw.ef_search at least: recall@10 0.98 on the benchmark (docs/research.md)
OVERFETCH = 2  # fetch twice what the filter's share of the store should yield
EXACT_UP_TO = 5_000  # stores, or filter matches, this small are ranked exactly
# The HNSW graph: pgvector's default m, and twice its default ef_construction (a better graph
# for half again the build time; docs/research.md).
HNSW_M = 16
HNSW_EF_CONSTRUCTION = 128
# An upsert's statements may outlast the web's DB_STATEMENT_TIMEOUT_SECONDS: 10,000 rows into a
# large store's HNSW index take tens of seconds, as does rebuilding it.
UPSERT_TIMEOUT = "15min"
INDEX_BUILD_MEMORY = "512MB"  # maintenance_work_mem while an HNSW index is built
# A batch of at least BUILD_FROM items and REBUILD_SHARE of the store it makes is loaded with
# the index dropped, then the index is built anew: growing an HNSW index costs about seven times
# what building it does per item (docs/research.md), so that is faster past about a seventh.
BUILD_FROM = 1_000
REBUILD_SHARE = 0.25


@dataclass(frozen=True)
class Operator:
    sql: str  # the distance operator
    opclass: str  # its HNSW operator class


OPERATORS = {
    Metric.COSINE: Operator("<=>", "vector_cosine_ops"),  # 1 - cosine similarity
    Metric.L2: Operator("<->", "vector_l2_ops"),  # Euclidean distance
    Metric.INNER_PRODUCT: Operator("<#>", "vector_ip_ops"),  # minus the inner product
}


class StoreError(Exception):
    """Input a store cannot take, naming the field: a 400."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


class NameTaken(Exception):
    """The institution has a store of this name already: a 409."""


class StoreGone(Exception):
    """The store was deleted while the request ran: a 404."""


# --- stores -------------------------------------------------------------------------------------


def _index_sql(store: VectorStore) -> str:
    return (
        f"CREATE INDEX {store.partition}_hnsw ON {store.partition} "
        f"USING hnsw ((embedding::vector({store.dimension})) {OPERATORS[store.metric].opclass}) "
        f"WITH (m = {HNSW_M}, ef_construction = {HNSW_EF_CONSTRUCTION})"
    )


def create_store(
    *, institution: Institution, name: str, dimension: int, metric: str = Metric.COSINE, expires_at=None
) -> VectorStore:
    """A new, empty store of ``institution`` with its partition and index."""
    extra = {"expires_at": expires_at} if expires_at is not None else {}
    # An expired store is gone for the API: its name is free before prune_research drops it.
    expired = VectorStore.objects.filter(institution=institution, name=name, expires_at__lte=timezone.now())
    if expired_ids := list(expired.values_list("pk", flat=True)):
        drop_stores(expired_ids)
    try:
        with transaction.atomic():
            store = VectorStore.objects.create(
                institution=institution, name=name, dimension=dimension, metric=metric, **extra
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE {store.partition} PARTITION OF research_vectoritem FOR VALUES IN ({int(store.pk)})"
                )
                cursor.execute(_index_sql(store))
    except IntegrityError as error:
        if "research_store_name_uniq" not in str(error):
            raise
        raise NameTaken(f"Your institution already has a vector store named '{name}'.") from None
    return store


def drop_stores(ids: list[int]) -> int:
    """Drop these stores' partitions and rows (one transaction); returns how many there were."""
    with transaction.atomic():
        locked = list(VectorStore.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        VectorStore.objects.filter(pk__in=[store.pk for store in locked]).delete()  # post_delete drops each partition
    return len(locked)


def drop_partition(store: VectorStore) -> None:
    """The store's items (research.models' post_delete of VectorStore: a store deleted any
    way, its institution's deletion included, takes its partition with it)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {store.partition}")


def delete_store(store: VectorStore) -> None:
    drop_stores([store.pk])


# --- items --------------------------------------------------------------------------------------

ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ID_PATTERN = r"^(?!\.+$)[^/\x00-\x1f\x7f]+$"  # for the schema; Python checks with ID_CHARS
ID_CHARS = re.compile(r"[^/\x00-\x1f\x7f]+")
ID_HELP = "1 to 200 characters, no '/' and no control characters; unique in the store."


class Item(BaseModel):
    """One row of an upsert."""

    model_config = ConfigDict(extra="forbid")

    id: ExternalId
    vector: Annotated[list[Annotated[float, Field(allow_inf_nan=False, strict=True)]], Field(min_length=1)]
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def addressable(cls, value: str) -> str:
        if not ID_CHARS.fullmatch(value):
            raise ValueError("No '/' and no control characters: the id is part of the item's URL.")
        if not value.strip("."):
            raise ValueError("Not only dots: '.' and '..' are not addressable in a URL.")
        return value


_items = TypeAdapter(list[Item])
_item = TypeAdapter(Item)


@dataclass
class Batch:
    """Validated rows, their vectors as one float32 matrix, and each row's key in errors."""

    items: list[Item]
    matrix: np.ndarray
    keys: list[str] = field(default_factory=list)


def parse_items(body: bytes, media_type: str, store: VectorStore) -> Batch:
    """An upsert's body (a JSON array, or NDJSON: one object a line) checked as a whole:
    BatchInvalid with every bad row (by index, or ``line N``), BatchTooLarge past MAX_ROWS."""
    if media_type == RawNDJSONParser.media_type:
        items, lines = bulk.validate_ndjson(_item, body, max_rows=MAX_ROWS)
        keys = [f"line {number}" for number in lines]
    else:
        items = bulk.validate_json_array(_items, body, max_rows=MAX_ROWS)
        keys = [str(index) for index in range(len(items))]
    if not items:
        raise bulk.BatchInvalid({"non_field_errors": ["No items: send at least one."]})
    return checked(items, keys, store)


def checked(items: list[Item], keys: list[str], store: VectorStore) -> Batch:
    """Rows that fit the store: its dimension, finite in 32 bits, no zero vector under cosine,
    no id twice."""
    problems: dict[int, dict[str, list[str]]] = {}

    def problem(index: int, name: str, message: str) -> None:
        problems.setdefault(index, {}).setdefault(name, []).append(message)

    def invalid() -> bulk.BatchInvalid:
        return bulk.BatchInvalid({keys[index]: fields for index, fields in sorted(problems.items())})

    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if len(item.vector) != store.dimension:
            problem(index, "vector", f"Has {len(item.vector)} values; the store's dimension is {store.dimension}.")
        seen = first.setdefault(item.id, index)
        if seen != index:
            problem(index, "id", f"'{item.id}' is also the id of row {keys[seen]}: ids must be unique in a batch.")
    if problems:
        raise invalid()
    with np.errstate(over="ignore"):
        matrix = np.array([item.vector for item in items], dtype=np.float32)
    for index in np.flatnonzero(~np.isfinite(matrix).all(axis=1)):
        problem(int(index), "vector", "Holds a value too large for a 32-bit float.")
    if store.metric == Metric.COSINE:
        for index in np.flatnonzero(~matrix.any(axis=1)):
            problem(int(index), "vector", "Is all zeros: a zero vector has no cosine distance.")
    if problems:
        raise invalid()
    return Batch(items, matrix, keys)


@dataclass(frozen=True)
class Upserted:
    received: int
    inserted: int
    updated: int


STAGE = "research_vectoritem_stage"
STAGE_COLUMNS = {"external_id": "text", "embedding": "vector", "metadata": "jsonb"}


def upsert(store: VectorStore, batch: Batch) -> Upserted:
    """Insert or replace the batch's items, all or none. A large batch (see BUILD_FROM) is
    loaded with the index dropped and the index built afterwards; meanwhile searches of the
    store wait."""
    with transaction.atomic():
        locked = VectorStore.objects.select_for_update().filter(pk=store.pk).first()
        if locked is None:
            raise StoreGone
        received = len(batch.items)
        rebuild = received >= BUILD_FROM and received >= REBUILD_SHARE * (locked.item_count + received)
        with (
            vectors.registered().cursor() as cursor,
            vectors.local_setting(cursor, "statement_timeout", UPSERT_TIMEOUT),
        ):
            cursor.execute(f"CREATE TEMP TABLE {STAGE} (external_id text, embedding vector, metadata jsonb)")
            bulk.copy_rows(
                cursor,
                STAGE,
                STAGE_COLUMNS,
                (
                    (item.id, vector, Jsonb(item.metadata, dumps=bulk.dump_json))
                    for item, vector in zip(batch.items, batch.matrix, strict=True)
                ),
            )
            if rebuild:
                cursor.execute(f"DROP INDEX {locked.partition}_hnsw")
            cursor.execute(
                f"""WITH written AS (
                    INSERT INTO {locked.partition} (store_id, external_id, embedding, metadata)
                    SELECT %(store)s, external_id, embedding, metadata FROM {STAGE}
                    ON CONFLICT (store_id, external_id) DO UPDATE
                        SET embedding = EXCLUDED.embedding, metadata = EXCLUDED.metadata
                    RETURNING xmax = 0 AS fresh
                ) SELECT count(*) FILTER (WHERE fresh), count(*) FROM written""",
                {"store": locked.pk},
            )
            inserted, written = cursor.fetchone()
            cursor.execute(f"DROP TABLE {STAGE}")
            if rebuild:
                with vectors.local_setting(cursor, "maintenance_work_mem", INDEX_BUILD_MEMORY):
                    cursor.execute(_index_sql(locked))
        locked.item_count += inserted
        VectorStore.objects.filter(pk=locked.pk).update(item_count=locked.item_count)
    store.item_count = locked.item_count
    return Upserted(received=written, inserted=inserted, updated=written - inserted)


def delete_item(store: VectorStore, external_id: str) -> bool:
    """Remove one item; False if the store has none with this id."""
    with transaction.atomic():
        locked = VectorStore.objects.select_for_update().filter(pk=store.pk).first()
        if locked is None:
            raise StoreGone
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {locked.partition} WHERE external_id = %s", [external_id])
            deleted = cursor.rowcount
        if deleted:
            VectorStore.objects.filter(pk=locked.pk).update(item_count=locked.item_count - deleted)
    return bool(deleted)


# --- search -------------------------------------------------------------------------------------


def query_vector(value, store: VectorStore, field_name: str = "vector") -> np.ndarray:
    """A search's vector checked against the store, or a StoreError naming the field."""
    try:
        vector = np.asarray(value)
    except (TypeError, ValueError):
        raise StoreError(field_name, "Must be a list of numbers.") from None
    if vector.ndim != 1 or vector.dtype.kind not in "iuf":
        raise StoreError(field_name, "Must be a list of numbers.")
    if vector.shape[0] != store.dimension:
        raise StoreError(field_name, f"Has {vector.shape[0]} values; the store's dimension is {store.dimension}.")
    with np.errstate(over="ignore"):
        vector = vector.astype(np.float32)
    if not np.isfinite(vector).all():
        raise StoreError(field_name, "Holds a value that is not a finite 32-bit number.")
    if store.metric == Metric.COSINE and not vector.any():
        raise StoreError(field_name, "Is all zeros: a zero vector has no cosine distance.")
    return vector


@dataclass(frozen=True)
class Match:
    id: str
    distance: float
    metadata: dict


@dataclass(frozen=True)
class Found:
    results: list[Match]
    exact: bool  # ranked exactly, not through the index


def _rows(rows) -> list[Match]:
    # Django's connections hand jsonb back as text (its JSONField decodes it); json, not orjson,
    # keeps an integer beyond 64 bits exact.
    return [Match(external_id, float(distance), json.loads(metadata)) for external_id, distance, metadata in rows]


def search(store: VectorStore, vector: np.ndarray, k: int = 10, where: dict | None = None) -> Found:
    """The ``k`` items nearest to ``vector`` (among those whose metadata holds every key and
    value of ``where``), nearest first; k of them whenever k items match."""
    try:
        # A raw psycopg cursor: Django's wrapper makes its errors Django's (a timeout: 503).
        with connection.wrap_database_errors, vectors.binary_cursor() as cursor:
            return _search(cursor, store, vector, k, where or None)
    except ProgrammingError as error:
        if isinstance(error.__cause__, UndefinedTable):  # dropped since the store was read
            raise StoreGone from None
        raise


def exact_search(store: VectorStore, vector: np.ndarray, k: int = 10, where: dict | None = None) -> Found:
    """search() ranked exactly, every distance computed (what the index is measured against)."""
    with connection.wrap_database_errors, vectors.binary_cursor() as cursor:
        return _exact(cursor, store, vector, k, where or None)


def _exact(cursor, store, vector, k, where) -> Found:
    # The uncast column matches no index expression: every distance (in the filter's
    # matches, found through the GIN index) is computed.
    op = OPERATORS[store.metric].sql
    cursor.execute(
        f"""SELECT external_id, embedding {op} %(v)b AS distance, metadata FROM {store.partition}
        {"WHERE metadata @> %(where)b" if where else ""}
        ORDER BY distance, external_id LIMIT %(k)b""",
        {"v": vector, "k": k, "where": Jsonb(where) if where else None},
    )
    return Found(_rows(cursor.fetchall()), exact=True)


def _few_matches(cursor, store, vector, k, where) -> tuple[Found | None, int]:
    """The filter's matches ranked exactly if at most EXACT_UP_TO match (None otherwise), and
    how many match (counted up to EXACT_UP_TO + 1): one query, the matches found through the
    GIN index."""
    op = OPERATORS[store.metric].sql
    cursor.execute(
        # The window counts rows without their vectors (a 5,000-row window of vectors spills to disk).
        f"""SELECT external_id, distance, metadata, matches FROM (
            SELECT external_id, distance, metadata, count(*) OVER () AS matches FROM (
                SELECT external_id, embedding {op} %(v)b AS distance, metadata FROM {store.partition}
                WHERE metadata @> %(where)b LIMIT %(cap)b
            ) m
        ) ranked ORDER BY distance, external_id LIMIT %(k)b""",
        {"v": vector, "k": k, "where": Jsonb(where), "cap": EXACT_UP_TO + 1},
    )
    rows = cursor.fetchall()
    matches = rows[0][3] if rows else 0
    if matches > EXACT_UP_TO:
        return None, matches
    return Found(_rows(row[:3] for row in rows), exact=True), matches


def _search(cursor, store: VectorStore, vector, k: int, where: dict | None) -> Found:
    size = store.item_count
    if size <= EXACT_UP_TO:
        return _exact(cursor, store, vector, k, where)
    fetch = max(EF_SEARCH, k)
    if where:
        ranked, matches = _few_matches(cursor, store, vector, k, where)
        if ranked is not None:
            return ranked
        # More than EXACT_UP_TO match: at least that share of the store does.
        fetch = max(fetch, math.ceil(OVERFETCH * k * size / matches))
    fetch = min(fetch, MAX_K)
    op, typed = OPERATORS[store.metric].sql, f"vector({store.dimension})"
    distance = f"embedding::{typed} {op} %(v)b::{typed}"  # the index's expression
    nearest = f"SELECT external_id, {distance} AS distance, metadata FROM {store.partition} ORDER BY distance"
    if where:  # the index's nearest, over-fetched, then the filter
        query = f"""SELECT * FROM ({nearest} LIMIT %(fetch)b) nearest WHERE metadata @> %(where)b
            ORDER BY distance, external_id LIMIT %(k)b"""
    else:
        query = f"{nearest} LIMIT %(k)b"
    params = {"v": vector, "k": k, "fetch": fetch, "where": Jsonb(where) if where else None}
    found = vectors.with_setting(cursor, "hnsw.ef_search", str(fetch), query, params)
    if len(found) < k and (where or len(found) < size):  # the filter (or the graph) left too few
        return _exact(cursor, store, vector, k, where)
    return Found(_rows(found), exact=False)
