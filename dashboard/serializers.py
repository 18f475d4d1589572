"""The dashboard API's shapes. Output serializers read the models; request serializers
(StrictSerializer: an unknown field is a 400) validate the body's form, and the services
(dashboard/services.py) validate the rest, write and audit."""

import math

from django.db.models.functions import Lower
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from dashboard.models import (
    EXTERNAL_ID,
    AssessmentKind,
    AssessmentLog,
    Cohort,
    ConceptModule,
    Draft,
    DraftStatus,
    DraftVersion,
    Student,
)
from dashboard.selectors import METHODS
from veritas.api.schema import closed, trimmed
from veritas.api.serializers import LookupField, PrimaryKeyRelatedField, StrictSerializer, UTCDateTimeField
from veritas.models import User

# PositiveIntegerField's column is a PostgreSQL integer.
INTEGER_MAX = 2**31 - 1


def _request_user(serializer):
    return serializer.context["request"].user


# --- students -----------------------------------------------------------------------------------


class StudentSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True, help_text="The student's own login (username), if any."
    )
    cohorts = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="The ids of their cohorts.")

    class Meta:
        model = Student
        fields = ["uuid", "external_id", "name", "email", "user", "is_active", "cohorts", "created_at", "updated_at"]
        read_only_fields = fields


class StudentUpdateSerializer(StrictSerializer):
    """PUT (every field but the optional ones) or PATCH (any of them)."""

    external_id = serializers.CharField(
        max_length=64, validators=[EXTERNAL_ID], help_text="The school's id, e.g. s001; unique."
    )
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(max_length=254, help_text="Unique, whatever the case.")
    user = LookupField(
        slug_field="username",
        queryset=User.objects.all(),
        required=False,
        allow_null=True,
        help_text="The student's own login (a username). Needs dashboard.change_student.",
    )
    is_active = serializers.BooleanField(required=False)

    def validate_email(self, value):
        # The database's constraint is on lower(email); said here so the 400 names the field.
        taken = Student.objects.annotate(email_lower=Lower("email")).filter(email_lower=value.lower())
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError("A student with this email address already exists.")
        return value


class StudentCreateSerializer(StudentUpdateSerializer):
    """A new student, optionally into cohorts."""

    cohorts = PrimaryKeyRelatedField(
        many=True,
        queryset=Cohort.objects.none(),
        required=False,
        help_text="Ids of cohorts to add the student to. Staff without dashboard.add_student must name "
        "cohorts they teach.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "request" in self.context:
            self.fields["cohorts"].child_relation.queryset = Cohort.objects.visible_to(_request_user(self))


# --- cohorts ------------------------------------------------------------------------------------


class CohortSerializer(serializers.ModelSerializer):
    staff = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="username", help_text="Usernames of its staff."
    )
    students = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="uuid", help_text="The uuids of its students."
    )

    class Meta:
        model = Cohort
        fields = ["id", "name", "term", "staff", "students", "created_at"]
        read_only_fields = fields


class CohortWriteSerializer(StrictSerializer):
    """A cohort: PUT replaces the memberships it names, PATCH changes what it names."""

    name = serializers.CharField(max_length=200)
    term = serializers.CharField(max_length=50, help_text="E.g. 2026 autumn. A name is unique within its term.")
    staff = LookupField(
        many=True, slug_field="username", queryset=User.objects.all(), required=False, help_text="Usernames."
    )
    students = LookupField(
        many=True, slug_field="uuid", queryset=Student.objects.all(), required=False, help_text="Student uuids."
    )


class OverviewRowSerializer(serializers.Serializer):
    uuid = serializers.UUIDField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    mean = serializers.FloatField(allow_null=True, help_text="Mean percentage of all their assessments.")
    trend = serializers.FloatField(allow_null=True, help_text="Least-squares slope, percentage points per day.")
    last_activity = serializers.DateTimeField(allow_null=True, help_text="Their latest assessment's taken_at.")
    recent_assessments = serializers.IntegerField(source="recent", help_text="Assessments in the last 14 days.")
    declining = serializers.BooleanField()
    inactive = serializers.BooleanField()


OVERVIEW_COLUMNS = list(OverviewRowSerializer().fields)


class OverviewQuerySerializer(serializers.Serializer):
    flag = serializers.ChoiceField(choices=["declining", "inactive"], required=False)


# --- concept modules ----------------------------------------------------------------------------


class ConceptModuleSerializer(serializers.ModelSerializer):
    prerequisites = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code", help_text="Codes of the modules it requires."
    )

    class Meta:
        model = ConceptModule
        fields = ["id", "subject", "code", "name", "order", "description", "prerequisites"]
        read_only_fields = fields


class ConceptModuleWriteSerializer(StrictSerializer):
    """A concept module; ``prerequisites`` by code."""

    subject = serializers.CharField(max_length=100)
    code = serializers.CharField(max_length=50, validators=[EXTERNAL_ID], help_text="Unique, e.g. ALG1.")
    name = serializers.CharField(max_length=200)
    order = serializers.IntegerField(min_value=0, max_value=INTEGER_MAX, required=False)
    description = serializers.CharField(allow_blank=True, required=False)
    prerequisites = LookupField(
        many=True,
        slug_field="code",
        queryset=ConceptModule.objects.all(),
        required=False,
        help_text="Codes of the modules it requires; a cycle is a 400 naming its modules.",
    )


# --- assessments --------------------------------------------------------------------------------


class AssessmentSerializer(serializers.ModelSerializer):
    student = serializers.SlugRelatedField(slug_field="uuid", read_only=True, help_text="The student's uuid.")
    student_external_id = serializers.CharField(source="student.external_id", read_only=True)
    concept_modules = serializers.SlugRelatedField(many=True, read_only=True, slug_field="code")
    recorded_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    percentage = serializers.FloatField(read_only=True)

    class Meta:
        model = AssessmentLog
        fields = [
            "id",
            "student",
            "student_external_id",
            "kind",
            "subject",
            "score",
            "max_score",
            "percentage",
            "taken_at",
            "concept_modules",
            "recorded_by",
            "comment",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def _score_schema(pattern: str, minimum: float) -> dict:
    return {
        "oneOf": [
            {"type": "string", "format": "decimal", "pattern": pattern},
            {"type": "number", "minimum": minimum, "maximum": 999999.99, "multipleOf": 0.01},
        ],
        "example": "85.5",
    }


@extend_schema_field(_score_schema(r"^\d{1,6}(?:\.\d{1,2})?$", 0))
class ScoreField(serializers.DecimalField):
    """A score: 0 to 999999.99 with two decimal places at most, as a numeric string
    ("85.5") or a JSON number (85.5; a float within rounding of a cent is taken as it)."""

    def __init__(self, **kwargs):
        super().__init__(max_digits=8, decimal_places=2, min_value=0, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, float) and math.isfinite(data) and abs(data - round(data, 2)) < 1e-6:
            data = f"{round(data, 2):.2f}"  # 0.57 may arrive as 0.5700000000000001
        return super().to_internal_value(data)


@extend_schema_field(_score_schema(r"^0*[1-9]\d{0,5}(?:\.\d{1,2})?$", 0.01))
class MaxScoreField(ScoreField):
    """A maximum score: above 0 (the schema's string pattern says 1 or more; 0.5 is taken too)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value <= 0:
            raise serializers.ValidationError("Must be above 0.")
        return value


class AssessmentCorrectSerializer(StrictSerializer):
    """A correction: any of the fields (PATCH)."""

    kind = serializers.ChoiceField(choices=AssessmentKind.choices)
    subject = serializers.CharField(max_length=100)
    score = ScoreField(help_text="0 to max_score.")
    max_score = MaxScoreField(default=100, help_text="Above 0; default 100.")
    taken_at = UTCDateTimeField(help_text="ISO 8601 with a UTC offset.")
    concept_modules = LookupField(
        many=True, slug_field="code", queryset=ConceptModule.objects.all(), required=False, help_text="Module codes."
    )
    comment = serializers.CharField(allow_blank=True, max_length=2000, required=False)

    def validate(self, attrs):
        score = attrs.get("score", getattr(self.instance, "score", None))
        max_score = attrs.get("max_score", getattr(self.instance, "max_score", None))
        if score is not None and max_score is not None and score > max_score:
            field = "score" if "score" in attrs else "max_score"
            raise serializers.ValidationError({field: [f"The score {score} is above max_score {max_score}."]})
        return attrs


class AssessmentCreateSerializer(AssessmentCorrectSerializer):
    """One assessment of a student you teach."""

    student = LookupField(
        slug_field="uuid",
        queryset=Student.objects.none(),
        help_text="The student's uuid.",
        error_messages={"does_not_exist": "No student {value} among those you may see."},
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "request" in self.context:
            # One the caller cannot see reads exactly as one that does not exist.
            self.fields["student"].queryset = Student.objects.visible_to(_request_user(self))


@closed
@trimmed
class AssessmentRowSerializer(serializers.Serializer):
    """One row of ``POST assessments/bulk/``, for the schema only: rows are validated by
    dashboard.ingest.AssessmentRow."""

    student = serializers.CharField(max_length=64, help_text="The student's external_id.")
    kind = serializers.ChoiceField(choices=AssessmentKind.choices)
    subject = serializers.CharField(max_length=100)
    score = ScoreField()
    max_score = MaxScoreField(required=False, help_text="Default 100.")
    taken_at = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset.")
    concept_modules = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text="Module codes (CSV: 'A;B')."
    )
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class BulkResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField(help_text="Rows received.")
    created = serializers.IntegerField(help_text="Assessments stored.")
    students = serializers.IntegerField(help_text="Distinct students they are about.")


# --- performance --------------------------------------------------------------------------------


class ModuleRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    name = serializers.CharField()
    subject = serializers.CharField()


class PerformanceSerializer(serializers.Serializer):
    subject = serializers.CharField(help_text="Subject records only (else empty).")
    concept_module = ModuleRefSerializer(allow_null=True, help_text="Concept records only.")
    count = serializers.IntegerField()
    mean = serializers.FloatField()
    last = serializers.FloatField()
    best = serializers.FloatField()
    decaying = serializers.FloatField()
    n_mastery = serializers.FloatField(allow_null=True)
    trend = serializers.FloatField(allow_null=True, help_text="Percentage points per day.")
    first_at = serializers.DateTimeField()
    last_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    score = serializers.FloatField(allow_null=True, help_text="By the chosen method (percent).")
    mastered = serializers.BooleanField(allow_null=True, help_text="score ≥ threshold.")
    percentile = serializers.FloatField(
        allow_null=True, help_text="Share (0-100) of the student's cohort peers with a lower score; null alone."
    )


class StudentPerformanceSerializer(serializers.Serializer):
    student = serializers.UUIDField()
    method = serializers.ChoiceField(choices=list(METHODS))
    threshold = serializers.FloatField()
    overall = PerformanceSerializer(allow_null=True)
    subjects = PerformanceSerializer(many=True)
    concepts = PerformanceSerializer(many=True)


class PerformanceQuerySerializer(serializers.Serializer):
    method = serializers.ChoiceField(choices=list(METHODS), required=False)


# --- drafts -------------------------------------------------------------------------------------


class DraftVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = DraftVersion
        fields = ["number", "title", "word_count", "submitted_at"]
        read_only_fields = fields


class DraftSerializer(serializers.ModelSerializer):
    student = serializers.SlugRelatedField(slug_field="uuid", read_only=True, help_text="The student's uuid.")
    status = serializers.ChoiceField(choices=DraftStatus.choices, read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    allowed_transitions = serializers.ListField(
        child=serializers.ChoiceField(choices=DraftStatus.choices),
        read_only=True,
        help_text="The statuses it may move to next.",
    )

    class Meta:
        model = Draft
        fields = [
            "id",
            "student",
            "title",
            "body",
            "status",
            "allowed_transitions",
            "feedback",
            "reviewer",
            "created_at",
            "updated_at",
            "submitted_at",
            "reviewed_at",
        ]
        read_only_fields = fields


class DraftDetailSerializer(DraftSerializer):
    versions = DraftVersionSerializer(many=True, read_only=True, help_text="One per submission, oldest first.")

    class Meta(DraftSerializer.Meta):
        fields = [*DraftSerializer.Meta.fields, "versions"]
        read_only_fields = fields


class DraftWriteSerializer(StrictSerializer):
    """A draft's title and body."""

    title = serializers.CharField(max_length=200)
    body = serializers.CharField(allow_blank=True, required=False, trim_whitespace=False)


class ReturnDraftSerializer(StrictSerializer):
    """Feedback for the student."""

    feedback = serializers.CharField(help_text="What to change: required, not blank.")


class AcceptDraftSerializer(StrictSerializer):
    """Optional closing feedback."""

    feedback = serializers.CharField(allow_blank=True, trim_whitespace=False, required=False)
