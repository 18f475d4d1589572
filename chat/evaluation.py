"""Retrieval quality on a BEIR-format collection (``evaluate_retrieval``): the corpus goes in as
documents of a throw-away owner through the normal ingestion path, every query runs through the
product's retrieval, documents are ranked by their best chunk, and nDCG@10 (graded relevance as
gain, log2 discount, as pytrec_eval), recall@100 and MRR@10 are averaged over the queries that
have judgements. Everything happens in one transaction that is rolled back: nothing is left."""

from __future__ import annotations

import csv
import json
import math
import uuid
from collections.abc import Callable
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from chat import retrieval, services
from chat.models import Document

DEPTH = 100


class CollectionError(Exception):
    pass


def load(directory: Path) -> tuple[dict[str, str], dict[str, str], dict[str, dict[str, int]]]:
    """(corpus {id: text}, queries {id: text}, qrels {query: {doc: grade}})."""
    missing = [name for name in ("corpus.jsonl", "queries.jsonl", "qrels.tsv") if not (directory / name).is_file()]
    if missing:
        raise CollectionError(f"{directory} lacks {', '.join(missing)} (a BEIR-format collection).")
    corpus, queries, qrels = {}, {}, {}
    with (directory / "corpus.jsonl").open() as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                corpus[str(row["_id"])] = "\n\n".join(part for part in (row.get("title"), row.get("text")) if part)
    with (directory / "queries.jsonl").open() as lines:
        for line in lines:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    with (directory / "qrels.tsv").open(newline="") as stream:
        for row in csv.DictReader(stream, delimiter="\t"):
            grade = int(float(row["score"]))
            if grade > 0:
                qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = grade
    return corpus, queries, qrels


def ndcg(ranked: list[str], grades: dict[str, int], depth: int = 10) -> float:
    dcg = sum(grades.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:depth]))
    ideal = sum(grade / math.log2(i + 2) for i, grade in enumerate(sorted(grades.values(), reverse=True)[:depth]))
    return dcg / ideal if ideal else 0.0


def evaluate(directory: Path, *, mode: str, progress: Callable[[str, int], None] = lambda stage, n: None) -> dict:
    corpus, queries, qrels = load(directory)
    judged = [query for query in queries if query in qrels]
    with transaction.atomic():
        owner = get_user_model().objects.create_user(f"evaluation-{uuid.uuid4().hex[:12]}", password=None)
        by_document: dict[int, list[str]] = {}
        added = []
        for corpus_id, text in corpus.items():
            document, created = services.add_document(
                actor=None, owner=owner, filename=f"{corpus_id}.txt", content_type="text/plain", data=text.encode()
            )
            by_document.setdefault(document.pk, []).append(corpus_id)
            if created:
                added.append(document)
        services.ingest(added, progress=lambda n: progress("ingest", n))
        totals = {"ndcg_at_10": 0.0, "recall_at_100": 0.0, "mrr_at_10": 0.0}
        for query in judged:
            hits = retrieval.search(queries[query], owner.pk, k=DEPTH * 3, mode=mode)
            ranked: list[str] = []
            for hit in hits:  # documents by their best chunk
                for corpus_id in by_document.get(hit.document_id, []):
                    if corpus_id not in ranked:
                        ranked.append(corpus_id)
            grades = qrels[query]
            totals["ndcg_at_10"] += ndcg(ranked, grades)
            totals["recall_at_100"] += len(set(ranked[:DEPTH]) & set(grades)) / len(grades)
            first = next((i for i, doc in enumerate(ranked[:10]) if doc in grades), None)
            totals["mrr_at_10"] += 0.0 if first is None else 1 / (first + 1)
            progress("query", 1)
        chunks = sum(Document.objects.filter(owner=owner).values_list("chunk_count", flat=True))
        transaction.set_rollback(True)
    n = len(judged) or 1
    return {
        "mode": mode,
        **{name: round(total / n, 4) for name, total in totals.items()},
        "queries": len(judged),
        "documents": len(corpus),
        "chunks": chunks,
    }
