"""Chat: conversations (sessions and messages) and documents (chunks with embeddings) for
retrieval-augmented answers.

Privacy is the rule: a session, its messages and a user's documents are their owner's alone
(``owned_by``); the shared knowledge base (documents without an owner) is read by everyone and
written by staff with the permission. Retrieval filters by owner before anything else sees text
(chat/retrieval.py).
"""

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

SEARCH_CONFIG = "english"
# The columns' tsvectors come from triggers rather than Django's GeneratedField, whose system
# check asks the server for its version: every manage.py command would then need the database
# up (verify_database, embedded_db status) to start at all.


class ChatSession(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="UUID")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_sessions")
    title = models.CharField(max_length=200)
    pinned = models.BooleanField(default=False)
    archived = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        permissions = [("read_conversations", "Can read other users' conversations (admin, read-only)")]
        indexes = [
            # A user's sessions, newest first (the list's cursor).
            models.Index(fields=["owner", "-updated_at", "-id"], name="chat_session_owner_idx"),
        ]

    def __str__(self):
        return self.title


class Role(models.TextChoices):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"


class ChatMessage(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="UUID")
    session = models.ForeignKey(ChatSession, on_delete=models.CASCADE, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()
    citations = models.JSONField(default=list, blank=True, help_text="[{n, document, chunk, snippet, score}]")
    generator = models.CharField(max_length=100, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Filled by a database trigger from ``content`` (migration 0001): never written here.
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A session's messages in order (the cursor).
            models.Index(fields=["session", "created_at", "id"], name="chat_message_session_idx"),
            # Search over a user's messages.
            GinIndex(fields=["search"], name="chat_message_search_idx"),
        ]

    def __str__(self):
        return f"{self.role}: {self.content[:60]}"


class Status(models.TextChoices):
    PENDING = "pending"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class Document(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="UUID")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="chat_documents",
        help_text="Empty: the shared knowledge base.",
    )
    title = models.CharField(max_length=300)
    filename = models.CharField(max_length=300)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, verbose_name="SHA-256")
    content = models.BinaryField(help_text="The file as uploaded (until it is ingested again).")
    text = models.TextField(blank=True, help_text="The extracted text; chunk offsets point into it.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    failure = models.TextField(blank=True, help_text="Why ingestion failed.")
    chunk_count = models.PositiveIntegerField(default=0)
    chunk_bytes = models.PositiveBigIntegerField(
        default=0, help_text="The chunks' total length in bytes (full-text ranking's average chunk length)."
    )
    embedding_model = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # The same file twice for one owner is one document (and once in the shared base).
            models.UniqueConstraint(fields=["owner", "sha256"], name="chat_document_owner_sha_uniq"),
            models.UniqueConstraint(
                fields=["sha256"], condition=models.Q(owner__isnull=True), name="chat_document_shared_sha_uniq"
            ),
        ]

    def __str__(self):
        return self.title


class Chunk(models.Model):
    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    # The document's owner, copied: retrieval filters chunks by it before ranking.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    char_start = models.PositiveIntegerField(help_text="Offset of the first character in the document's text.")
    char_end = models.PositiveIntegerField(help_text="Offset after the last character.")
    embedding = VectorField(dimensions=settings.CHAT_EMBEDDING_DIMENSIONS)
    # Filled by a database trigger from ``text`` (migration 0001): never written here.
    search = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["document", "ordinal"], name="chat_chunk_uniq")]
        indexes = [
            # Approximate nearest neighbours by cosine distance (large scopes).
            HnswIndex(
                name="chat_chunk_embedding_idx",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_cosine_ops"],
            ),
            # Full-text search.
            GinIndex(fields=["search"], name="chat_chunk_search_idx"),
            # A scope's chunks (the exact scan of small scopes, deleting a user's data).
            models.Index(fields=["owner"], name="chat_chunk_owner_idx"),
        ]

    def __str__(self):
        return f"{self.document_id} #{self.ordinal}"
