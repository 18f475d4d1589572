"""The FRAMES API's shapes. Output serializers read the models; request serializers
(StrictSerializer: an unknown field is a 400) validate the body's form, and the services
(frames/services.py) check who may write, write and audit."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_serializer
from rest_framework import serializers

from frames.models import (
    Departure,
    EntityKind,
    FactorModel,
    FactorValue,
    Faculty,
    Interface,
    InterfaceFactorValue,
    Level,
    ModelFactor,
    ModelValidation,
    Module,
    ModuleAnalyticsEvent,
    ModuleAssignment,
    ModuleFeedback,
    ModuleProgress,
    ModuleSection,
    Outcome,
    Project,
    RiskFactor,
    Student,
    Team,
    University,
)
from veritas.api.serializers import (
    LookupField,
    PrimaryKeyRelatedField,
    StrictSerializer,
    StringListField,
    UTCDateTimeField,
)

LOSS = {"max_digits": 12, "decimal_places": 8, "coerce_to_string": False}


class VisibleRelatedField(PrimaryKeyRelatedField):
    """An id of a row the caller may see (the model's ``visible_to``): any other id reads as
    "does not exist", never as "not yours"."""

    def get_queryset(self):
        request = self.context.get("request")
        return self.queryset.visible_to(request.user) if request is not None else self.queryset.none()


# --- the consortium ------------------------------------------------------------------------------


class UniversitySerializer(serializers.ModelSerializer):
    class Meta:
        model = University
        fields = ["id", "code", "name", "is_lead", "active"]
        read_only_fields = fields


class FacultySerializer(serializers.ModelSerializer):
    class Meta:
        model = Faculty
        fields = ["id", "university", "name", "role", "active"]
        read_only_fields = fields


class ProjectSerializer(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "university", "name", "type", "is_collaborative", "duration_months"]
        read_only_fields = fields


class ProjectWriteSerializer(StrictSerializer):
    university = VisibleRelatedField(
        queryset=University.objects.all(),
        allow_null=True,
        help_text="The university's id; null for a consortium project (researchers only).",
    )
    name = serializers.CharField(max_length=200)
    type = serializers.CharField(max_length=50, required=False, allow_blank=True)
    is_collaborative = serializers.BooleanField(required=False)
    duration_months = serializers.IntegerField(min_value=1, max_value=600, required=False, allow_null=True)


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "university", "project", "name", "discipline"]
        read_only_fields = fields


class TeamWriteSerializer(StrictSerializer):
    university = VisibleRelatedField(queryset=University.objects.all(), help_text="The university's id.")
    project = VisibleRelatedField(queryset=Project.objects.all(), required=False, allow_null=True)
    name = serializers.CharField(max_length=200)
    discipline = serializers.CharField(max_length=100, required=False, allow_blank=True)


@extend_schema_serializer(component_name="FramesStudent")  # dashboard has a Student too
class StudentSerializer(serializers.ModelSerializer):
    user = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Student
        fields = [
            "id",
            "university",
            "user",
            "name",
            "team",
            "expertise_area",
            "graduation_term",
            "terms_remaining",
            "status",
            "is_lead",
            "active",
            "graduated_at",
        ]
        read_only_fields = fields


class StudentWriteSerializer(StrictSerializer):
    university = VisibleRelatedField(queryset=University.objects.all(), help_text="The university's id.")
    name = serializers.CharField(max_length=200)
    team = VisibleRelatedField(queryset=Team.objects.all(), required=False, allow_null=True)
    expertise_area = serializers.CharField(max_length=100, required=False, allow_blank=True)
    graduation_term = serializers.CharField(max_length=20, required=False, allow_blank=True)
    terms_remaining = serializers.IntegerField(min_value=0, max_value=20, required=False)
    is_lead = serializers.BooleanField(required=False)


class DepartureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Departure
        fields = ["id", "student", "team", "university", "left_at", "was_lead"]
        read_only_fields = fields


class TermAdvancedSerializer(serializers.Serializer):
    advanced = serializers.IntegerField(help_text="Active students who moved on a term.")
    graduated = serializers.IntegerField(help_text="Of whom graduated (inactive now, recorded as departures).")


class ContinuitySerializer(serializers.Serializer):
    team = serializers.IntegerField(source="team.pk")
    members = serializers.IntegerField(help_text="Active members.")
    outgoing = serializers.IntegerField(help_text="Members in their last term (status outgoing).")
    outgoing_share = serializers.FloatField()
    lead = serializers.IntegerField(source="lead.pk", allow_null=True, help_text="The lead student's id.")
    lead_outgoing = serializers.BooleanField()
    successors = serializers.SerializerMethodField(help_text="Established members who could take over the lead.")
    lead_at_risk = serializers.BooleanField(help_text="The lead is outgoing and no established member can take over.")

    def get_successors(self, continuity) -> list[int]:
        return [student.pk for student in continuity.successors]


# --- risk factors and models ---------------------------------------------------------------------


class FactorValueSerializer(serializers.ModelSerializer):
    contribution = serializers.DecimalField(max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True)

    class Meta:
        model = FactorValue
        fields = ["id", "factor", "name", "display_name", "description", "contribution", "order"]
        read_only_fields = fields


class FactorValueWriteSerializer(StrictSerializer):
    factor = PrimaryKeyRelatedField(queryset=RiskFactor.objects.all())
    name = serializers.SlugField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    contribution = serializers.DecimalField(
        max_digits=5, decimal_places=4, min_value=0, max_value=1, coerce_to_string=False,
        help_text="0 to 1, at most four decimal places.",
    )  # fmt: skip
    order = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class RiskFactorSerializer(serializers.ModelSerializer):
    values = FactorValueSerializer(many=True, read_only=True)

    class Meta:
        model = RiskFactor
        fields = ["id", "name", "display_name", "description", "category", "confidence", "active", "values"]
        read_only_fields = fields


class RiskFactorWriteSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=RiskFactor.Category.choices)
    confidence = serializers.ChoiceField(choices=RiskFactor.Confidence.choices, required=False)
    active = serializers.BooleanField(required=False)


class WeightSerializer(serializers.ModelSerializer):
    factor = serializers.SlugRelatedField(slug_field="name", read_only=True)
    weight = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False, read_only=True)

    class Meta:
        model = ModelFactor
        fields = ["factor", "weight", "enabled"]
        read_only_fields = fields


class WeightWriteSerializer(StrictSerializer):
    factor = LookupField(slug_field="name", queryset=RiskFactor.objects.all(), help_text="The factor's name.")
    weight = serializers.DecimalField(
        max_digits=4, decimal_places=3, min_value=0, max_value=2, coerce_to_string=False,
        help_text="0 to 2 (1 is neutral), at most three decimal places.",
    )  # fmt: skip
    enabled = serializers.BooleanField(required=False, default=True)


class FactorModelSerializer(serializers.ModelSerializer):
    weights = WeightSerializer(many=True, read_only=True)

    class Meta:
        model = FactorModel
        fields = [
            "id",
            "name",
            "display_name",
            "hypothesis",
            "is_baseline",
            "is_active",
            "validation_status",
            "created_at",
            "weights",
        ]
        read_only_fields = fields


class FactorModelWriteSerializer(StrictSerializer):
    name = serializers.SlugField(max_length=64)
    display_name = serializers.CharField(max_length=200)
    hypothesis = serializers.CharField(required=False, allow_blank=True)
    validation_status = serializers.ChoiceField(
        choices=FactorModel.ValidationStatus.choices, required=False, help_text="A researcher's judgement (audited)."
    )
    weights = WeightWriteSerializer(
        many=True, required=False, help_text="The model's factors; given, they replace the model's list."
    )

    def validate_weights(self, rows):
        names = [row["factor"].name for row in rows]
        if repeated := sorted({name for name in names if names.count(name) > 1}):
            raise serializers.ValidationError(f"Each factor once: {', '.join(repeated)} repeated.")
        return rows


DEFAULT_THRESHOLD = Decimal("0.35")  # the high level's floor


class ValidateRequestSerializer(StrictSerializer):
    threshold = serializers.DecimalField(
        max_digits=4,
        decimal_places=3,
        min_value=0,
        max_value=1,
        required=False,
        coerce_to_string=False,
        help_text="The predicted risk from which a project counts as predicted to fail (default 0.35, the "
        "high level's floor).",
    )


class ValidationReportSerializer(serializers.Serializer):
    run = serializers.UUIDField()
    n = serializers.IntegerField(help_text="Outcomes compared.")
    failures = serializers.IntegerField(help_text="Of which failed (knowledge lost).")
    roc_auc = serializers.FloatField(allow_null=True, help_text="Null when only one kind of outcome is present.")
    brier = serializers.FloatField(allow_null=True)
    accuracy = serializers.FloatField(allow_null=True)
    threshold = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False)
    warning = serializers.CharField(help_text="Empty when there is enough data to conclude.")


class ModelValidationSerializer(serializers.ModelSerializer):
    predicted_risk = serializers.DecimalField(read_only=True, **LOSS)

    class Meta:
        model = ModelValidation
        fields = ["id", "model", "outcome", "run", "predicted_risk", "actual_loss", "validated_at"]
        read_only_fields = fields


class OutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Outcome
        fields = ["id", "university", "project", "outcome_type", "success", "cohort_year", "notes", "recorded_at"]
        read_only_fields = fields


class OutcomeWriteSerializer(StrictSerializer):
    university = VisibleRelatedField(queryset=University.objects.all())
    project = VisibleRelatedField(queryset=Project.objects.all(), required=False, allow_null=True)
    outcome_type = serializers.ChoiceField(choices=Outcome.Type.choices)
    success = serializers.BooleanField()
    cohort_year = serializers.IntegerField(min_value=1950, max_value=2100, required=False, allow_null=True)
    notes = serializers.CharField(required=False, allow_blank=True)


# --- interfaces ----------------------------------------------------------------------------------


class CurrentValueSerializer(serializers.ModelSerializer):
    factor = serializers.SlugRelatedField(slug_field="name", read_only=True)
    value = serializers.SlugRelatedField(slug_field="name", read_only=True)
    value_id = serializers.IntegerField(read_only=True)
    contribution = serializers.DecimalField(
        source="value.contribution", max_digits=5, decimal_places=4, coerce_to_string=False, read_only=True
    )

    class Meta:
        model = InterfaceFactorValue
        fields = ["factor", "value", "value_id", "contribution", "assigned_at", "ended_at"]
        read_only_fields = fields


class InterfaceSerializer(serializers.ModelSerializer):
    loss = serializers.DecimalField(
        read_only=True, help_text="Energy loss under the model asked for (the active one by default).", **LOSS
    )
    level = serializers.ChoiceField(choices=Level.choices, read_only=True)
    bond_type = serializers.ChoiceField(choices=Interface.Bond.choices, allow_blank=True, read_only=True)

    class Meta:
        model = Interface
        fields = [
            "id",
            "from_kind",
            "from_id",
            "to_kind",
            "to_id",
            "interface_type",
            "bond_type",
            "from_university",
            "to_university",
            "cross_university",
            "created_at",
            "loss",
            "level",
        ]
        read_only_fields = fields


class InterfaceDetailSerializer(InterfaceSerializer):
    factor_values = CurrentValueSerializer(
        source="current_values", many=True, read_only=True, help_text="The current value of each factor."
    )

    class Meta(InterfaceSerializer.Meta):
        fields = [*InterfaceSerializer.Meta.fields, "factor_values"]
        read_only_fields = fields


class InterfaceWriteSerializer(StrictSerializer):
    from_kind = serializers.ChoiceField(choices=EntityKind.choices)
    from_id = serializers.IntegerField(min_value=1)
    to_kind = serializers.ChoiceField(choices=EntityKind.choices)
    to_id = serializers.IntegerField(min_value=1)
    interface_type = serializers.ChoiceField(choices=Interface.Type.choices)
    bond_type = serializers.ChoiceField(choices=Interface.Bond.choices, required=False, allow_blank=True)


class AssignValueSerializer(StrictSerializer):
    value = PrimaryKeyRelatedField(
        queryset=FactorValue.objects.select_related("factor"),
        help_text="The factor value's id; the interface's current value of that factor ends now.",
    )


class ComparisonSerializer(serializers.Serializer):
    interface = serializers.IntegerField()
    loss_a = serializers.DecimalField(**LOSS)
    level_a = serializers.ChoiceField(choices=Level.choices)
    loss_b = serializers.DecimalField(**LOSS)
    level_b = serializers.ChoiceField(choices=Level.choices)
    difference = serializers.DecimalField(help_text="loss_b - loss_a.", **LOSS)


class RollupSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The team, project or university (null: none).")
    name = serializers.CharField()
    interfaces = serializers.IntegerField()
    mean_loss = serializers.DecimalField(**LOSS)
    max_loss = serializers.DecimalField(**LOSS)
    critical = serializers.IntegerField(help_text="Interfaces at the critical level.")


# --- the onboarding LMS --------------------------------------------------------------------------


class SectionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModuleSection
        fields = ["id", "module", "order", "section_type", "title", "content", "duration_minutes"]
        read_only_fields = fields


class SectionWriteSerializer(StrictSerializer):
    module = VisibleRelatedField(queryset=Module.objects.all(), help_text="The module's id (a draft revision).")
    order = serializers.IntegerField(min_value=0, max_value=32767)
    section_type = serializers.ChoiceField(choices=ModuleSection.Type.choices, required=False)
    title = serializers.CharField(max_length=200)
    content = serializers.CharField(required=False, allow_blank=True)
    duration_minutes = serializers.IntegerField(min_value=0, max_value=32767, required=False)


class ModuleSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = Module
        fields = [
            "id",
            "key",
            "revision",
            "title",
            "category",
            "estimated_minutes",
            "university",
            "author",
            "status",
            "prerequisites",
            "tags",
            "created_at",
            "published_at",
        ]
        read_only_fields = fields


class ModuleDetailSerializer(ModuleSerializer):
    sections = SectionSerializer(many=True, read_only=True)

    class Meta(ModuleSerializer.Meta):
        fields = [*ModuleSerializer.Meta.fields, "sections"]
        read_only_fields = fields


class ModuleWriteSerializer(StrictSerializer):
    key = serializers.SlugField(max_length=64, help_text="The stable id across revisions; set when created.")
    title = serializers.CharField(max_length=200)
    category = serializers.CharField(max_length=50, required=False, allow_blank=True)
    estimated_minutes = serializers.IntegerField(min_value=0, max_value=32767, required=False)
    university = VisibleRelatedField(
        queryset=University.objects.all(), allow_null=True, help_text="Null: a consortium module (researchers)."
    )
    prerequisites = StringListField(
        child=serializers.SlugField(max_length=64), required=False, max_length=50, help_text="Module keys."
    )
    tags = StringListField(child=serializers.CharField(max_length=40), required=False, max_length=50)


class ProgressSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModuleProgress
        fields = [
            "student",
            "module",
            "status",
            "percent",
            "current_section",
            "started_at",
            "completed_at",
            "last_accessed_at",
            "total_seconds",
            "completed_sections",
        ]
        read_only_fields = fields


class AssignmentSerializer(serializers.ModelSerializer):
    module_key = serializers.CharField(source="module.key", read_only=True)
    module_title = serializers.CharField(source="module.title", read_only=True)
    assigned_by = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)

    class Meta:
        model = ModuleAssignment
        fields = [
            "id",
            "module",
            "module_key",
            "module_title",
            "student",
            "due_at",
            "required",
            "assigned_by",
            "assigned_at",
        ]
        read_only_fields = fields


class AssignSerializer(StrictSerializer):
    students = VisibleRelatedField(
        many=True, queryset=Student.objects.all(), allow_empty=False, help_text="Student ids (at most 1,000)."
    )
    due_at = UTCDateTimeField(required=False, allow_null=True)
    required = serializers.BooleanField(required=False, default=True)

    def validate_students(self, students):
        if len(students) > 1000:
            raise serializers.ValidationError("At most 1,000 students at a time.")
        return students


class AssignedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="Already assigned: given the new due date and flag.")


class ViewSectionSerializer(StrictSerializer):
    section = serializers.IntegerField(min_value=1, help_text="The section's id.")
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False, default=0)


class FeedbackWriteSerializer(StrictSerializer):
    rating = serializers.IntegerField(min_value=1, max_value=5)
    comment = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")


class FeedbackSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModuleFeedback
        fields = ["id", "student", "module", "rating", "comment", "created_at"]
        read_only_fields = fields


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ModuleAnalyticsEvent
        fields = ["id", "student", "module", "section", "event_type", "duration_seconds", "at", "received_at"]
        read_only_fields = fields


@extend_schema_serializer(component_name="FramesEventRow")  # dropout has one too
class EventRowSerializer(StrictSerializer):
    """The schema of one row of ``POST events/`` (validated by pydantic, frames.lms.EventRow)."""

    student = serializers.IntegerField(min_value=1)
    module = serializers.IntegerField(min_value=1)
    section = serializers.IntegerField(min_value=1, required=False, allow_null=True)
    event_type = serializers.ChoiceField(choices=ModuleAnalyticsEvent.Type.choices)
    duration_seconds = serializers.IntegerField(min_value=0, max_value=86_400, required=False)
    at = serializers.DateTimeField(help_text="ISO 8601 with a UTC offset.")


@extend_schema_serializer(component_name="FramesEventBatchResult")  # dropout has one too
class EventBatchResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    progress_refreshed = serializers.IntegerField(help_text="(student, module) progress rows recomputed.")


class FunnelSerializer(serializers.Serializer):
    module = serializers.IntegerField()
    key = serializers.CharField()
    revision = serializers.IntegerField()
    title = serializers.CharField()
    assigned = serializers.IntegerField()
    started = serializers.IntegerField(help_text="Of the assigned students.")
    completed = serializers.IntegerField(help_text="Of the assigned students.")


class SectionAnalyticsSerializer(serializers.Serializer):
    section = serializers.IntegerField()
    order = serializers.IntegerField()
    title = serializers.CharField()
    views = serializers.IntegerField()
    median_seconds = serializers.FloatField(allow_null=True)
    stopped_here = serializers.IntegerField(help_text="Learners in progress whose last viewed section this is.")


class ModuleAnalyticsSerializer(serializers.Serializer):
    funnel = FunnelSerializer()
    sections = SectionAnalyticsSerializer(many=True)
    drop_off = SectionAnalyticsSerializer(allow_null=True, help_text="Where most unfinished learners stopped.")
    feedback_count = serializers.IntegerField()
    average_rating = serializers.FloatField(allow_null=True)


class OverdueSerializer(serializers.Serializer):
    university = serializers.IntegerField()
    name = serializers.CharField()
    overdue = serializers.IntegerField(help_text="Required assignments past due and not completed.")
    students = serializers.IntegerField()
