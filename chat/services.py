"""Chat writes: documents (upload, ingestion), and later sessions and messages. Every write is
audited through veritas.audit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence

from django.db import transaction

from chat import documents as docs
from chat import generators, retrieval
from chat.embedding import get_embedder
from chat.models import ChatMessage, ChatSession, Chunk, Document, Role, Status
from veritas import audit, bulk, vectors

CHUNK_COLUMNS = {
    "document_id": "int8",
    "owner_id": "int8",
    "ordinal": "int4",
    "text": "text",
    "char_start": "int4",
    "char_end": "int4",
    "embedding": "vector",
}


class UnsupportedType(Exception):
    pass


def add_document(
    *, actor, owner, filename: str, content_type: str, data: bytes, title: str = "", extract: bool = False
) -> tuple[Document, bool]:
    """Store an upload (pending ingestion); the same file twice for one owner is the same
    document (``created`` False). With ``extract`` the text is extracted now (uploads: a file
    without text is refused at once, ExtractionError), else at ingestion."""
    kind = docs.kind_of(content_type, filename, data)
    if kind is None:
        raise UnsupportedType(f"{content_type or 'This type'} is not supported: upload text, Markdown, HTML or PDF.")
    text = docs.extract(data, kind) if extract else ""
    sha = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        existing = Document.objects.filter(owner=owner, sha256=sha).first()
        if existing is not None:
            return existing, False
        document = Document.objects.create(
            owner=owner,
            title=(title or filename.rsplit("/", 1)[-1])[:300],
            filename=filename[:300],
            content_type=docs.TYPE_OF[kind]
            if content_type in ("", "application/octet-stream")
            else content_type.split(";")[0].strip().lower(),
            size=len(data),
            sha256=sha,
            content=data,
            text=text,
        )
        audit.record("create", actor=actor, obj=document, changes={"size": len(data), "shared": owner is None})
    return document, True


def ingest(documents: Sequence[Document], *, progress: Callable[[int], None] = lambda n: None) -> None:
    """Extract, chunk, embed and store the chunks of ``documents`` (their earlier chunks are
    replaced). A document that cannot be read is marked failed with the reason; the others go on."""
    embedder = get_embedder()
    pieces: list[tuple[Document, docs.Piece]] = []
    for document in documents:
        Document.objects.filter(pk=document.pk).update(status=Status.PROCESSING)
        if not document.text:
            kind = docs.kind_of(document.content_type, document.filename)
            try:
                document.text = docs.extract(bytes(document.content), kind)
            except docs.ExtractionError as error:
                _fail(document, str(error))
                continue
        pieces.extend((document, piece) for piece in docs.chunks(document.text))
    embeddings = embedder.embed([piece.text for _, piece in pieces]) if pieces else []
    by_document: dict[int, list] = {}
    for (document, piece), vector in zip(pieces, embeddings, strict=True):
        by_document.setdefault(document.pk, []).append((document, piece, vector))
    for document in documents:
        rows = by_document.get(document.pk)
        if rows is None:
            continue
        with transaction.atomic(), vectors.registered().cursor() as cursor:
            Chunk.objects.filter(document=document).delete()
            bulk.copy_rows(
                cursor,
                Chunk._meta.db_table,
                CHUNK_COLUMNS,
                ((d.pk, d.owner_id, p.ordinal, p.text, p.start, p.end, v) for d, p, v in rows),
            )
            Document.objects.filter(pk=document.pk).update(
                status=Status.READY,
                failure="",
                text=document.text,
                chunk_count=len(rows),
                embedding_model=embedder.name,
            )
        progress(1)


def _fail(document: Document, reason: str) -> None:
    Chunk.objects.filter(document=document).delete()
    Document.objects.filter(pk=document.pk).update(status=Status.FAILED, failure=reason, chunk_count=0)


def delete_document(*, actor, document: Document) -> None:
    with transaction.atomic():
        audit.record("delete", actor=actor, obj=document, changes={"chunks": document.chunk_count})
        document.delete()


# --- conversations ------------------------------------------------------------------------------

SNIPPET = 300


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= 60 else line[:59].rstrip() + "…"


def converse(
    *, actor, message: str, session: ChatSession | None = None
) -> tuple[ChatSession, ChatMessage, ChatMessage]:
    """Store the user's message, retrieve from their documents and the shared base (only
    those), answer with the extractive generator, store the answer with its citations. A new
    session (titled from the message) when none is given."""
    started = time.perf_counter()
    with transaction.atomic():
        if session is None:
            session = ChatSession.objects.create(owner=actor, title=_title(message))
        asked = ChatMessage.objects.create(session=session, role=Role.USER, content=message)
    hits = retrieval.search(message, actor.pk, k=generators.PASSAGES * 2)
    chunks = {c.pk: c for c in Chunk.objects.filter(pk__in=[h.chunk_id for h in hits]).select_related("document")}
    ordered = [(hit, chunks[hit.chunk_id]) for hit in hits if hit.chunk_id in chunks]
    scores = generators.similarities(message, [chunk.text for _, chunk in ordered]) if ordered else []
    passages = [
        generators.Passage(
            n=n,
            text=chunk.text,
            similarity=float(score),
            citation={
                "n": n,
                "document": str(chunk.document.uuid),
                "title": chunk.document.title,
                "chunk": chunk.pk,
                "start": chunk.char_start,
                "end": chunk.char_end,
                "snippet": chunk.text[:SNIPPET],
                "score": round(float(score), 4),
            },
        )
        for n, ((_, chunk), score) in enumerate(zip(ordered, scores, strict=True), start=1)
    ]
    passages.sort(key=lambda p: -p.similarity)
    for n, passage in enumerate(passages, start=1):  # numbered in the order cited
        passage.n = passage.citation["n"] = n
    answer = generators.ExtractiveGenerator().answer(message, passages)
    with transaction.atomic():
        reply = ChatMessage.objects.create(
            session=session,
            role=Role.ASSISTANT,
            content=answer.text,
            citations=answer.citations,
            generator=answer.generator,
            latency_ms=round((time.perf_counter() - started) * 1000),
        )
        ChatSession.objects.filter(pk=session.pk).update(last_message_at=reply.created_at, updated_at=reply.created_at)
        audit.record("create", actor=actor, model=ChatMessage, changes={"session": str(session.uuid), "messages": 2})
    session.refresh_from_db()
    return session, asked, reply


def update_session(*, actor, session: ChatSession, data: dict) -> ChatSession:
    with transaction.atomic():
        before = audit.snapshot(session, list(data))
        for name, value in data.items():
            setattr(session, name, value)
        session.save(update_fields=[*data, "updated_at"])
        audit.record(
            "update", actor=actor, obj=session, changes=audit.diff(before, audit.snapshot(session, list(data)))
        )
    return session


def delete_session(*, actor, session: ChatSession) -> None:
    with transaction.atomic():
        audit.record("delete", actor=actor, obj=session, object_repr="a chat session")
        session.delete()


def delete_my_data(*, actor) -> dict[str, int]:
    """Every session, message, document and chunk of ``actor``; the counts, audited."""
    with transaction.atomic():
        counts = {
            "sessions": ChatSession.objects.filter(owner=actor).count(),
            "messages": ChatMessage.objects.filter(session__owner=actor).count(),
            "documents": Document.objects.filter(owner=actor).count(),
            "chunks": Chunk.objects.filter(owner=actor).count(),
        }
        Chunk.objects.filter(owner=actor).delete()
        Document.objects.filter(owner=actor).delete()
        ChatMessage.objects.filter(session__owner=actor).delete()
        ChatSession.objects.filter(owner=actor).delete()
        audit.record(
            "delete",
            actor=actor,
            model=ChatSession,
            object_repr="all of a user's chat data",
            changes={"counts": counts},
        )
    return counts


def export(sessions) -> list[dict]:
    """Sessions with their messages, as plain data (JSON export)."""
    out = []
    for session in sessions.prefetch_related("messages"):
        out.append(
            {
                "uuid": str(session.uuid),
                "title": session.title,
                "pinned": session.pinned,
                "archived": session.archived,
                "created_at": session.created_at.isoformat(),
                "messages": [
                    {
                        "uuid": str(m.uuid),
                        "role": m.role,
                        "content": m.content,
                        "citations": m.citations,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in session.messages.all()
                ],
            }
        )
    return out


def as_markdown(exported: list[dict]) -> str:
    parts = []
    for session in exported:
        parts.append(f"# {session['title']}\n\n_{session['created_at']}_\n")
        for message in session["messages"]:
            parts.append(f"**{message['role']}** ({message['created_at']}):\n\n{message['content']}\n")
            for citation in message["citations"]:
                parts.append(f"> [{citation['n']}] {citation['title']}: {citation['snippet']}\n")
    return "\n".join(parts)
