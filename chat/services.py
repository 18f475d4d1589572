"""Chat writes: documents (upload, ingestion), and later sessions and messages. Every write is
audited through veritas.audit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from pgvector.django import CosineDistance

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
                chunk_bytes=sum(len(p.text.encode()) for _, p, _ in rows),
                embedding_model=embedder.name,
            )
        progress(1)


def queue_ingestion(documents: Sequence[Document]) -> int:
    """Mark ``documents`` pending and queue their ingestion (chat.tasks); those being ingested
    right now are left alone. How many were queued."""
    from chat import tasks  # tasks imports this module

    ids = [d.pk for d in documents if d.status != Status.PROCESSING]
    Document.objects.filter(pk__in=ids).update(status=Status.PENDING, failure="")
    for pk in ids:
        tasks.ingest_document.enqueue(pk)
    return len(ids)


def ingest_again(*, actor, documents: Sequence[Document]) -> int:
    """Queue ``documents`` for ingestion again (the admin's action), audited."""
    with transaction.atomic():
        queued = queue_ingestion(documents)
        audit.record("update", actor=actor, model=Document, changes={"queued for ingestion": queued})
    return queued


def rename_document(*, actor, document: Document, title: str) -> None:
    with transaction.atomic():
        before = Document.objects.values_list("title", flat=True).get(pk=document.pk)
        Document.objects.filter(pk=document.pk).update(title=title)
        audit.record("update", actor=actor, obj=document, changes=audit.diff({"title": before}, {"title": title}))


def _fail(document: Document, reason: str) -> None:
    Chunk.objects.filter(document=document).delete()
    Document.objects.filter(pk=document.pk).update(status=Status.FAILED, failure=reason, chunk_count=0, chunk_bytes=0)


def delete_document(*, actor, document: Document) -> None:
    with transaction.atomic():
        audit.record("delete", actor=actor, obj=document, changes={"chunks": document.chunk_count})
        document.delete()


# --- conversations ------------------------------------------------------------------------------

SNIPPET = 300


def _title(message: str) -> str:
    line = " ".join(message.split())
    return line if len(line) <= 60 else line[:59].rstrip() + "…"


@dataclass
class Turn:
    """A question on its way to an answer: stored, with what retrieval found for it."""

    session: ChatSession
    asked: ChatMessage
    passages: list[generators.Passage]
    history: list[dict]
    started: float


def ask(*, actor, message: str, session: ChatSession | None = None) -> Turn:
    """Store the user's message (in a new session, titled from it, when none is given), then
    retrieve from their documents and the shared base (only those). The passages are numbered
    by relevance (cosine similarity of the question to the chunk, from the stored vectors);
    ``history`` is the session's last CHAT_LLM_HISTORY messages before this one."""
    started = time.perf_counter()
    with transaction.atomic():
        if session is None:
            session = ChatSession.objects.create(owner=actor, title=_title(message))
        asked = ChatMessage.objects.create(session=session, role=Role.USER, content=message)
    vector = get_embedder().embed([message])[0]
    hits = retrieval.search(message, actor.pk, k=generators.PASSAGES * 2, vector=vector)
    chunks = (
        Chunk.objects.filter(pk__in=[hit.chunk_id for hit in hits])
        .select_related("document")
        .annotate(similarity=1 - CosineDistance("embedding", vector))
    )
    chunks = sorted(chunks, key=lambda chunk: (-chunk.similarity, chunk.pk))
    passages = [
        generators.Passage(
            n=n,
            text=chunk.text,
            similarity=float(chunk.similarity),
            citation={
                "n": n,
                "document": str(chunk.document.uuid),
                "title": chunk.document.title,
                "chunk": chunk.pk,
                "start": chunk.char_start,
                "end": chunk.char_end,
                "snippet": chunk.text[:SNIPPET],
                "score": round(float(chunk.similarity), 4),
            },
        )
        for n, chunk in enumerate(chunks, start=1)
    ]
    history = []
    if generators.get_generator().uses_history:
        earlier = session.messages.exclude(pk=asked.pk).order_by("-created_at", "-id")[: settings.CHAT_LLM_HISTORY]
        history = [{"role": m.role, "content": m.content} for m in reversed(earlier)]
    return Turn(session, asked, passages, history, started)


def reply(turn: Turn, answer: generators.Answer) -> ChatMessage:
    """Store the answer with its citations (and the generator, latency and token counts)."""
    with transaction.atomic():
        stored = ChatMessage.objects.create(
            session=turn.session,
            role=Role.ASSISTANT,
            content=answer.text,
            citations=answer.citations,
            generator=answer.generator,
            latency_ms=round((time.perf_counter() - turn.started) * 1000),
            prompt_tokens=answer.prompt_tokens,
            completion_tokens=answer.completion_tokens,
        )
        ChatSession.objects.filter(pk=turn.session.pk).update(
            last_message_at=stored.created_at, updated_at=stored.created_at
        )
        turn.session.last_message_at = turn.session.updated_at = stored.created_at
        changes = {"session": str(turn.session.uuid), "messages": 2}
        audit.record("create", actor=turn.session.owner, model=ChatMessage, changes=changes)
    return stored


def converse(
    *, actor, message: str, session: ChatSession | None = None
) -> tuple[ChatSession, ChatMessage, ChatMessage]:
    """Ask and answer (CHAT_GENERATOR). When the generator fails (generators.UpstreamError),
    the user's message stays stored and the error goes up."""
    turn = ask(actor=actor, message=message, session=session)
    answer = generators.get_generator().answer(message, turn.passages, turn.history)
    return turn.session, turn.asked, reply(turn, answer)


def answer_pieces(turn: Turn) -> Iterator[str | ChatMessage]:
    """The answer in pieces as the generator writes them, then the answer as stored."""
    answer = None
    for item in generators.get_generator().stream(turn.asked.content, turn.passages, turn.history):
        if isinstance(item, generators.Answer):
            answer = item
        else:
            yield item
    yield reply(turn, answer)


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
