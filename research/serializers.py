from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from research import qac, vectors
from research.models import MAX_VECTOR_DIMENSION, JobStatus, Metric, QACModel, UsageMetrics, VectorStore
from veritas.api.serializers import StrictSerializer, UTCDateTimeField

MATRIX_HELP = "A matrix: a list of rows, each a list of numbers, all rows of one length."


class QACParamsSerializer(StrictSerializer):
    k_nn = serializers.IntegerField(min_value=1, max_value=128, default=15, help_text="Neighbours per row.")
    weight = serializers.ChoiceField(choices=["binary", "gaussian"], default="binary")
    sigma = serializers.FloatField(
        min_value=1e-12,
        required=False,
        allow_null=True,
        help_text="Gaussian width; default: the median distance to the k-th neighbour.",
    )
    beta = serializers.FloatField(min_value=0, max_value=10, default=0.7, help_text="Smoothing strength.")
    # "lambda" is a Python keyword: declared under another name, renamed in __init__.
    lambda_ = serializers.FloatField(min_value=0, max_value=10, default=0.05, help_text="Shrinkage (lambda).")
    engine = serializers.ChoiceField(choices=["laplace"], default="laplace", help_text="The engines installed.")

    def get_fields(self):
        fields = super().get_fields()
        fields["lambda"] = fields.pop("lambda_")
        available = sorted(qac.engines())  # the registry: laplace and any a package added
        fields["engine"].choices = available
        fields["engine"].error_messages["invalid_choice"] = (
            f"Unknown engine '{{input}}': available: {', '.join(available)}."
        )
        return fields


# The embedding is checked as a whole with NumPy (research/qac.as_matrix), not number by number
# by DRF: the *Options serializers validate the rest, the full ones document the body.


def matrix_field():
    row = serializers.ListField(child=serializers.FloatField(), min_length=1)
    return serializers.ListField(child=row, min_length=2, help_text=MATRIX_HELP)


class FitOptionsSerializer(StrictSerializer):
    params = QACParamsSerializer(required=False)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class FitSerializer(FitOptionsSerializer):
    embedding = matrix_field()


class ApplyOptionsSerializer(StrictSerializer):
    model = serializers.UUIDField(help_text="The id of one of your QAC models.")
    graph = serializers.ChoiceField(
        choices=["model", "input"],
        default="model",
        help_text="model: the stored graph (the row count must match); input: a graph built from this embedding "
        "with the model's parameters (what the legacy API did).",
    )
    null_seed = serializers.IntegerField(
        min_value=0, default=0, help_text="Seed of the row permutation of the null reference."
    )


class ApplySerializer(ApplyOptionsSerializer):
    embedding = matrix_field()


class QACModelSerializer(serializers.ModelSerializer):
    class Meta:
        model = QACModel
        fields = [
            "id",
            "name",
            "engine",
            "params",
            "n_rows",
            "n_columns",
            "sha256",
            "size_bytes",
            "metrics",
            "created_at",
        ]
        read_only_fields = fields


class AppliedSerializer(serializers.Serializer):
    model = serializers.UUIDField()
    engine = serializers.CharField()
    graph = serializers.ChoiceField(choices=["model", "input"])
    embedding = serializers.ListField(child=serializers.ListField(child=serializers.FloatField()))
    metrics = serializers.DictField(
        help_text="psi_fidelity = 1 - |Z - Z0|/|Z0|; coherence_gain = (E0 - E1)/E0 with E = tr(Z'LZ); "
        "null_coherence_gain: the same on a row-permuted copy of the input (null_seed)."
    )


class JobListSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()

    class Meta:
        model = JobStatus
        fields = ["id", "url", "kind", "status", "progress", "error", "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_url(self, job) -> str:
        return f"/api/v1/research/jobs/{job.pk}/"


class JobSerializer(JobListSerializer):
    """A job with its result (a fit: the model's id and metrics; an apply: as POST qac/apply)."""

    class Meta(JobListSerializer.Meta):
        fields = [*JobListSerializer.Meta.fields, "result"]
        read_only_fields = fields


class UsageSerializer(serializers.ModelSerializer):
    institution = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    mean_ms = serializers.SerializerMethodField()

    class Meta:
        model = UsageMetrics
        fields = ["institution", "day", "route", "requests", "errors", "mean_ms", "max_ms", "total_ms"]
        read_only_fields = fields

    def get_mean_ms(self, row) -> float:
        return round(row.total_ms / row.requests, 3) if row.requests else 0.0


class ResearchHealthDatabaseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ready", "not_ready", "unavailable"])
    latency_ms = serializers.FloatField(allow_null=True)


class ResearchHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "degraded"])
    database = ResearchHealthDatabaseSerializer()
    pgvector = serializers.CharField(allow_null=True, help_text="The pgvector extension's version.")
    engines = serializers.ListField(child=serializers.CharField(), help_text="The QAC engines installed.")


# --- vector stores ------------------------------------------------------------------------------


class VectorStoreSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = VectorStore
        fields = ["id", "name", "dimension", "metric", "item_count", "created_at", "expires_at"]
        read_only_fields = fields


def expiry_field(**kwargs):
    return UTCDateTimeField(help_text="When prune_research drops the store (UTC offset required).", **kwargs)


def future(value):
    if value <= timezone.now():
        raise serializers.ValidationError("Must be in the future.")
    return value


class VectorStoreCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200, help_text="Unique among your institution's stores.")
    dimension = serializers.IntegerField(min_value=1, max_value=MAX_VECTOR_DIMENSION)
    metric = serializers.ChoiceField(choices=Metric.choices, default=Metric.COSINE)
    expires_at = expiry_field(required=False, validators=[future])


class VectorStoreUpdateSerializer(StrictSerializer):
    expires_at = expiry_field(validators=[future])


class VectorItemSerializer(StrictSerializer):
    """One row of an upsert (documentation: the batch is validated by research/vectors.py)."""

    id = serializers.RegexField(vectors.ID_PATTERN, max_length=200, help_text=vectors.ID_HELP)
    vector = serializers.ListField(child=serializers.FloatField(), help_text="The store's dimension of numbers.")
    metadata = serializers.DictField(required=False, help_text="Any JSON object; searches filter on it.")


class UpsertedSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    updated = serializers.IntegerField()


JSON_SCALAR = {"nullable": True, "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}


@extend_schema_field({"type": "object", "additionalProperties": JSON_SCALAR})
class MetadataFilterField(serializers.DictField):
    """``{key: value}``: items whose metadata has every key with exactly this value (a
    string, number, true/false or null)."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        for key, value in data.items():
            if value is not None and not isinstance(value, str | int | float | bool):
                raise serializers.ValidationError({key: ["Must be a string, number, true, false or null."]})
            if "\x00" in key or (isinstance(value, str) and "\x00" in value):
                raise serializers.ValidationError({key: ["Metadata holds no NUL character (\\u0000)."]})
        return data


class SearchOptionsSerializer(StrictSerializer):
    k = serializers.IntegerField(min_value=1, max_value=vectors.MAX_K, default=10, help_text="How many results.")
    filter = MetadataFilterField(
        required=False,
        default=dict,
        help_text="Metadata equality: items whose metadata has each key with exactly this value. "
        "k results whenever k items match.",
    )


class SearchSerializer(SearchOptionsSerializer):
    vector = serializers.ListField(child=serializers.FloatField(), help_text="The store's dimension of numbers.")


class MatchSerializer(serializers.Serializer):
    id = serializers.CharField()
    distance = serializers.FloatField(
        help_text="cosine: 1 - cosine similarity; l2: Euclidean distance; inner_product: minus the inner product."
    )
    metadata = serializers.DictField()


class FoundSerializer(serializers.Serializer):
    results = MatchSerializer(many=True)
    exact = serializers.BooleanField(help_text="Ranked exactly (a small store or filter) rather than by the index.")
