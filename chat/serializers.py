from rest_framework import serializers

from chat.models import Document


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
