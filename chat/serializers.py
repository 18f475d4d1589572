from rest_framework import serializers

from chat.models import ChatMessage, ChatSession, Document
from veritas.api.serializers import StrictSerializer


class DocumentSerializer(serializers.ModelSerializer):
    shared = serializers.SerializerMethodField()

    class Meta:
        model = Document
        fields = [
            "uuid",
            "title",
            "filename",
            "content_type",
            "size",
            "sha256",
            "status",
            "failure",
            "chunk_count",
            "embedding_model",
            "shared",
            "created_at",
            "updated_at",
        ]

    def get_shared(self, obj) -> bool:
        return obj.owner_id is None


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="Text, Markdown, HTML or PDF.")
    title = serializers.CharField(max_length=300, required=False, help_text="Default: the file's name.")


class HealthSerializer(serializers.Serializer):
    database = serializers.BooleanField()
    pgvector = serializers.CharField(allow_null=True, help_text="The extension's version.")
    embedding_model = serializers.CharField()
    embedding_loaded = serializers.BooleanField()
    dimension = serializers.IntegerField()
    queue_backlog = serializers.IntegerField(allow_null=True, help_text="Tasks waiting (database task queue).")


class SessionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ChatSession
        fields = ["uuid", "title", "pinned", "archived", "created_at", "updated_at", "last_message_at"]


class SessionUpdateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200, required=False)
    pinned = serializers.BooleanField(required=False)
    archived = serializers.BooleanField(required=False)


class CitationSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="The [n] in the answer.")
    document = serializers.UUIDField()
    title = serializers.CharField()
    chunk = serializers.IntegerField()
    start = serializers.IntegerField(help_text="Offsets of the passage in the document's text.")
    end = serializers.IntegerField()
    snippet = serializers.CharField()
    score = serializers.FloatField(help_text="Cosine similarity of the passage to the question.")


class MessageSerializer(serializers.ModelSerializer):
    citations = CitationSerializer(many=True)

    class Meta:
        model = ChatMessage
        fields = [
            "uuid",
            "role",
            "content",
            "citations",
            "generator",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "created_at",
        ]


class ChatRequestSerializer(StrictSerializer):
    message = serializers.CharField(max_length=10_000)
    session = serializers.UUIDField(required=False, help_text="Continue this session; none: a new one.")


class ChatResponseSerializer(serializers.Serializer):
    session = SessionSerializer()
    message = MessageSerializer(help_text="The user's message, as stored.")
    answer = MessageSerializer()


class DeletedSerializer(serializers.Serializer):
    sessions = serializers.IntegerField()
    messages = serializers.IntegerField()
    documents = serializers.IntegerField()
    chunks = serializers.IntegerField()


class FoundMessageSerializer(MessageSerializer):
    session = serializers.UUIDField(source="session.uuid")
    session_title = serializers.CharField(source="session.title")

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "session", "session_title"]


class MessageSearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(max_length=500, help_text="Words to find in your messages (web-search syntax).")


class ExportMessageSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    role = serializers.CharField()
    content = serializers.CharField()
    citations = serializers.ListField(child=serializers.DictField())
    created_at = serializers.DateTimeField()


class ExportSessionSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    title = serializers.CharField()
    pinned = serializers.BooleanField()
    archived = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    messages = ExportMessageSerializer(many=True)


class RetrievalRequestSerializer(StrictSerializer):
    query = serializers.CharField(max_length=10_000)
    k = serializers.IntegerField(min_value=1, max_value=100, default=10, help_text="How many chunks.")
    mode = serializers.ChoiceField(["hybrid", "fts", "vector"], default="hybrid")


class RetrievedChunkSerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    score = serializers.FloatField(help_text="Hybrid: the fused score Σ 1/(k + rank); fts: BM25; vector: cosine.")
    fts_rank = serializers.IntegerField(allow_null=True, help_text="Rank in the full-text list (none: absent).")
    fts_score = serializers.FloatField(allow_null=True, help_text="BM25 score.")
    vector_rank = serializers.IntegerField(allow_null=True, help_text="Rank in the vector list (none: absent).")
    similarity = serializers.FloatField(allow_null=True, help_text="Cosine similarity to the query.")
    chunk = serializers.IntegerField()
    ordinal = serializers.IntegerField()
    document = serializers.UUIDField()
    title = serializers.CharField()
    shared = serializers.BooleanField()
    start = serializers.IntegerField()
    end = serializers.IntegerField()
    text = serializers.CharField()
