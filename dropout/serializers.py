from rest_framework import serializers

from dropout.models import Band, DropoutModel, DropoutPrediction, Enrollment, Presentation, Target
from veritas.api.serializers import StrictSerializer


class PresentationSerializer(serializers.ModelSerializer):
    course = serializers.CharField(source="course.code")

    class Meta:
        model = Presentation
        fields = ["id", "course", "code", "start_date", "length_days"]


class StudentRefSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    external_id = serializers.CharField()
    name = serializers.CharField()


class ReasonSerializer(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.JSONField(help_text="The feature's value (a number, or the course's code).")
    contribution = serializers.FloatField(help_text="Its contribution to the risk, in log-odds (TreeSHAP).")
    text = serializers.CharField(help_text="The reason in words.")


class ModelRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = DropoutModel
        fields = ["id", "name", "target", "cutoff_day", "is_active"]


class PredictionSerializer(serializers.ModelSerializer):
    enrollment = serializers.IntegerField(source="enrollment_id")
    student = StudentRefSerializer(source="enrollment.student")
    presentation = PresentationSerializer(source="enrollment.presentation")
    model = ModelRefSerializer()
    reasons = ReasonSerializer(many=True)

    class Meta:
        model = DropoutPrediction
        fields = [
            "id",
            "enrollment",
            "student",
            "presentation",
            "model",
            "cutoff_day",
            "probability",
            "band",
            "reasons",
            "predicted_at",
        ]


class EnrollmentSerializer(serializers.ModelSerializer):
    student = StudentRefSerializer()
    presentation = PresentationSerializer()
    band = serializers.ChoiceField(
        source="risk_band", choices=Band.choices, allow_null=True, help_text="The latest prediction's band, if any."
    )

    class Meta:
        model = Enrollment
        fields = [
            "id",
            "student",
            "presentation",
            "registered_day",
            "unregistered_day",
            "final_result",
            "gender",
            "region",
            "highest_education",
            "imd_band",
            "age_band",
            "previous_attempts",
            "studied_credits",
            "disability",
            "band",
        ]


class EnrollmentRiskSerializer(serializers.Serializer):
    enrollment = serializers.IntegerField(source="id")
    presentation = PresentationSerializer()
    final_result = serializers.CharField()
    unregistered_day = serializers.IntegerField(allow_null=True)
    predictions = PredictionSerializer(many=True, help_text="The latest prediction per target.")


class StudentRiskSerializer(serializers.Serializer):
    student = StudentRefSerializer()
    enrollments = EnrollmentRiskSerializer(many=True)


class ModelSerializer(serializers.ModelSerializer):
    trained_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = DropoutModel
        fields = [
            "id",
            "name",
            "target",
            "cutoff_day",
            "algorithm",
            "feature_version",
            "features",
            "train_presentations",
            "validation_presentations",
            "metrics",
            "threshold_medium",
            "threshold_high",
            "sha256",
            "trained_at",
            "trained_by",
            "is_active",
        ]


class ModelDetailSerializer(ModelSerializer):
    class Meta(ModelSerializer.Meta):
        fields = [*ModelSerializer.Meta.fields, "parameters", "card"]


class TrainSerializer(StrictSerializer):
    target = serializers.ChoiceField(choices=Target.choices, default=Target.WITHDRAWN)
    cutoff_day = serializers.IntegerField(min_value=0, max_value=9999)
    train_presentations = serializers.ListField(
        child=serializers.CharField(max_length=20),
        min_length=1,
        max_length=50,
        help_text="Presentation codes to train on: 2013J (every course's) or AAA-2013J.",
    )
    validation_presentations = serializers.ListField(
        child=serializers.CharField(max_length=20),
        min_length=1,
        max_length=50,
        help_text="Later presentation codes to validate on.",
    )
    activate = serializers.BooleanField(default=False)


class TrainingTaskSerializer(serializers.Serializer):
    id = serializers.CharField()
    status = serializers.CharField(help_text="READY, RUNNING, SUCCESSFUL or FAILED.")
    enqueued_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    model = serializers.IntegerField(allow_null=True, help_text="The trained model's id, once SUCCESSFUL.")
    error = serializers.CharField(allow_null=True, help_text="Why it FAILED.")


class EventRowSerializer(serializers.Serializer):
    """One click row (the schema of ``POST events/``; validation is pydantic's, dropout/ingest.py)."""

    code_module = serializers.CharField(max_length=45, help_text="The course, e.g. AAA.")
    code_presentation = serializers.RegexField(r"^\d{4}[A-L]$", help_text="E.g. 2014J.")
    id_student = serializers.CharField(max_length=45, help_text="The student's external id.")
    id_site = serializers.CharField(max_length=45, help_text="The learning activity's external id.")
    date = serializers.IntegerField(min_value=-999, max_value=9999, help_text="Days from the presentation's start.")
    sum_click = serializers.IntegerField(min_value=1, max_value=2_000_000_000)


class EventBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
