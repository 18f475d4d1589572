"""The FRAMES API (/api/v1/frames/): thin views over frames/services.py (every write, checked
and audited there) and frames/selectors.py (energy loss roll-ups, comparisons, continuity).

Scoping is the querysets' (``visible_to``): a row the caller may not see is a 404, and absent
from lists. Whether the caller may *write* a visible row is the services' call (403).
Researchers (the ``frames.research`` permission) read everything; faculty their
university's rows and the interfaces with an end there; students their own record.
"""

from decimal import Decimal

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import exceptions, mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from frames import selectors, services
from frames.filters import DepartureFilter, InterfaceFilter, OutcomeFilter, ProjectFilter, StudentFilter, TeamFilter
from frames.models import (
    Departure,
    FactorModel,
    FactorValue,
    Faculty,
    Interface,
    InterfaceFactorValue,
    Level,
    ModelFactor,
    ModelValidation,
    Outcome,
    Project,
    RiskFactor,
    Student,
    Team,
    University,
    faculty_university_id,
    is_researcher,
)
from frames.serializers import (
    DEFAULT_THRESHOLD,
    AssignValueSerializer,
    ComparisonSerializer,
    ContinuitySerializer,
    CurrentValueSerializer,
    DepartureSerializer,
    FactorModelSerializer,
    FactorModelWriteSerializer,
    FactorValueSerializer,
    FactorValueWriteSerializer,
    FacultySerializer,
    InterfaceDetailSerializer,
    InterfaceSerializer,
    InterfaceWriteSerializer,
    ModelValidationSerializer,
    OutcomeSerializer,
    OutcomeWriteSerializer,
    ProjectSerializer,
    ProjectWriteSerializer,
    RiskFactorSerializer,
    RiskFactorWriteSerializer,
    RollupSerializer,
    StudentSerializer,
    StudentWriteSerializer,
    TeamSerializer,
    TeamWriteSerializer,
    TermAdvancedSerializer,
    UniversitySerializer,
    ValidateRequestSerializer,
    ValidationReportSerializer,
)
from veritas.api import views as api_views
from veritas.api.views import GenericViewSet, ServiceWrites, json_body, query


class IsConsortiumMember(permissions.BasePermission):
    """Faculty of a university, or researchers: the research data's readers."""

    message = "FRAMES research data is for faculty of a consortium university and researchers."

    def has_permission(self, request, view):
        return is_researcher(request.user) or faculty_university_id(request.user) is not None


MEMBERS = [permissions.IsAuthenticated, IsConsortiumMember]


class MembersWrite(IsConsortiumMember):
    """Anyone signed in reads (the queryset scopes what); faculty and researchers write."""

    message = "Only faculty of a consortium university and researchers write FRAMES research data."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or super().has_permission(request, view)


def _not_a_fake(view) -> bool:
    return not getattr(view, "swagger_fake_view", False)  # drf-spectacular, building the schema


class ScopedReadViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """A model's rows as far as the caller may see them (``model.objects.visible_to``)."""

    model = None
    permission_classes = MEMBERS
    lookup_value_regex = r"\d+"
    related = ()

    def get_queryset(self):
        rows = self.model.objects.all()
        if not _not_a_fake(self):
            return rows.none()
        rows = rows.visible_to(self.request.user)
        return rows.select_related(*self.related) if self.related else rows


class ScopedViewSet(ServiceWrites, ScopedReadViewSet):
    """The same, written through a service: ``saver(actor=, data=, <instance_name>=instance)``
    and ``services.delete``."""

    saver = None
    instance_name = ""

    def save(self, data, instance=None):
        return type(self).saver(actor=self.request.user, data=data, **{self.instance_name: instance})

    def remove(self, instance):
        services.delete(actor=self.request.user, instance=instance)


# --- the consortium ------------------------------------------------------------------------------


@extend_schema(tags=["frames"])
class UniversityViewSet(ScopedReadViewSet):
    """The consortium's universities: researchers see all, faculty their own. Managed in the admin."""

    model = University
    serializer_class = UniversitySerializer

    @extend_schema(request=None, responses={200: TermAdvancedSerializer})
    @action(detail=True, methods=["post"], url_path="advance-term")
    def advance_term(self, request, pk=None):
        """End the university's term: every active student has a term fewer; those with none
        left graduate and a departure records the team each left. All or nothing, audited.
        The university's faculty, or researchers."""
        result = services.advance_term(actor=request.user, university=self.get_object())
        return Response(TermAdvancedSerializer(result).data)


@extend_schema(tags=["frames"])
class FacultyViewSet(ScopedReadViewSet):
    """Faculty members: of the caller's university (researchers: all). Managed in the admin."""

    model = Faculty
    serializer_class = FacultySerializer


@extend_schema(tags=["frames"])
class ProjectViewSet(ScopedViewSet):
    """Projects: a university's (its faculty write them) and the consortium's (no university,
    such as PROVES: every member reads them, researchers write them)."""

    model, saver, instance_name = Project, services.save_project, "project"
    serializer_class = ProjectSerializer
    write_serializer_class = ProjectWriteSerializer
    filterset_class = ProjectFilter


@extend_schema(tags=["frames"])
class TeamViewSet(ScopedViewSet):
    """Student teams of a university; ``continuity/`` says who leaves and whether the lead can
    be replaced."""

    model, saver, instance_name = Team, services.save_team, "team"
    serializer_class = TeamSerializer
    write_serializer_class = TeamWriteSerializer
    filterset_class = TeamFilter

    @extend_schema(responses={200: ContinuitySerializer}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def continuity(self, request, pk=None):
        """The team's active members, how many are outgoing (in their last term) and their
        share, the lead, the established members who could take over, and whether the lead is
        at risk (outgoing with no one established to take over)."""
        return Response(ContinuitySerializer(selectors.team_continuity(self.get_object())).data)


@extend_schema(tags=["frames"])
class StudentViewSet(ScopedViewSet):
    """Student participants. Faculty read and write their university's; a student reads their
    own record. ``status`` follows from ``terms_remaining`` (4 or more incoming, 2 or 3
    established, below outgoing)."""

    model, saver, instance_name = Student, services.save_student, "student"
    serializer_class = StudentSerializer
    write_serializer_class = StudentWriteSerializer
    filterset_class = StudentFilter
    permission_classes = [permissions.IsAuthenticated, MembersWrite]  # a student reads their own
    related = ("user",)


@extend_schema(tags=["frames"])
class DepartureViewSet(ScopedReadViewSet):
    """Who left which team when a term ended (``advance-term``), newest first."""

    model = Departure
    serializer_class = DepartureSerializer
    filterset_class = DepartureFilter


@extend_schema(tags=["frames"])
class OutcomeViewSet(ScopedViewSet):
    """Recorded outcomes of a university's projects (mission or program success, by cohort
    year): what models are validated against."""

    model, saver, instance_name = Outcome, services.save_outcome, "outcome"
    serializer_class = OutcomeSerializer
    write_serializer_class = OutcomeWriteSerializer
    filterset_class = OutcomeFilter


# --- interfaces ----------------------------------------------------------------------------------

MODEL_PARAMETER = OpenApiParameter(
    "model", OpenApiTypes.STR, description="A factor model's name or id (default: the active model)."
)


def factor_model(raw: str | None, param: str = "model") -> FactorModel:
    """The model a query names (by name or id), or the active one; else a 400 naming ``param``."""
    if raw in (None, ""):
        model = FactorModel.objects.filter(is_active=True).first()
        if model is None:
            raise exceptions.ValidationError({param: ["No model is active: name one (its name or id)."]})
        return model
    model = FactorModel.objects.filter(name=raw).first() if "\x00" not in raw else None
    if model is None and raw.isdigit() and int(raw) < 2**63:
        model = FactorModel.objects.filter(pk=int(raw)).first()
    if model is None:
        raise exceptions.ValidationError({param: [f"No factor model {raw!r}."]})
    return model


@extend_schema(tags=["frames"])
class InterfaceViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Interfaces between teams, faculty, students and projects, each with its energy loss and
    level under a factor model (``?model=``, the active one by default): min(1, the sum of
    contribution x weight over the model's enabled factors), low < 0.15 <= moderate < 0.35 <=
    high < 0.60 <= critical. A cross-university interface is visible at both universities;
    faculty at either end write it."""

    serializer_class = InterfaceSerializer
    write_serializer_class = InterfaceWriteSerializer
    filterset_class = InterfaceFilter
    permission_classes = MEMBERS
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "delete", "head", "options"]

    def get_queryset(self):
        if not _not_a_fake(self):
            return Interface.objects.none()
        interfaces = Interface.objects.visible_to(self.request.user).order_by("id")
        if self.action in ("list", "retrieve", "factor_values"):
            interfaces = interfaces.with_loss(factor_model(self.request.query_params.get("model")))
        if self.action in ("retrieve", "factor_values"):
            current = InterfaceFactorValue.objects.filter(ended_at__isnull=True).select_related("factor", "value")
            interfaces = interfaces.prefetch_related(Prefetch("factor_values", current, to_attr="current_values"))
        return interfaces

    def get_serializer_class(self):
        return InterfaceDetailSerializer if self.action in ("retrieve", "factor_values") else InterfaceSerializer

    @extend_schema(request=InterfaceWriteSerializer, responses={201: InterfaceSerializer})
    def create(self, request, *args, **kwargs):
        """A new interface between two entities of the consortium; you must be faculty at one of
        its ends' universities (or a researcher). It has no factor values yet: its loss is 0
        (low) under any model."""
        interface = services.create_interface(actor=request.user, data=self.validated(InterfaceWriteSerializer))
        interface.loss, interface.level = Decimal(0), Level.LOW
        return Response(InterfaceSerializer(interface).data, status=status.HTTP_201_CREATED)

    def remove(self, instance):
        services.delete_interface(actor=self.request.user, interface=instance)

    @extend_schema(request=AssignValueSerializer, responses={200: InterfaceDetailSerializer})
    @action(detail=True, methods=["post"], url_path="factor-values", filter_backends=[])
    def factor_values(self, request, pk=None):
        """Give the interface a value of a factor from now on; its previous value of that factor
        ends now (``history/`` keeps it). Faculty at either end, or researchers."""
        interface = self.get_object()
        value = self.validated(AssignValueSerializer)["value"]
        services.assign_factor_value(actor=request.user, interface=interface, value=value)
        return self.retrieve(request, pk=pk)

    @extend_schema(responses={200: CurrentValueSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def history(self, request, pk=None):
        """Every value the interface has had, newest first within each factor."""
        interface = self.get_object()
        rows = interface.factor_values.select_related("factor", "value").order_by("factor__name", "-assigned_at")
        return Response(CurrentValueSerializer(rows, many=True).data)

    @extend_schema(
        filters=False,
        parameters=[
            MODEL_PARAMETER,
            OpenApiParameter("by", OpenApiTypes.STR, enum=list(selectors.ROLLUPS), required=True),
        ],
        responses={200: RollupSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def rollup(self, request):
        """Energy loss per team, project or university (``by``): the interfaces with an end
        there, their mean and maximum loss and how many are critical, worst first."""
        params = query(RollupQuerySerializer, request, {"by", "model"})
        model = factor_model(params.get("model"))
        interfaces = Interface.objects.visible_to(request.user)
        return Response(RollupSerializer(selectors.rollup(interfaces, model, params["by"]), many=True).data)


class RollupQuerySerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=list(selectors.ROLLUPS))
    model = serializers.CharField(required=False)


# --- factors and models --------------------------------------------------------------------------


class ResearchersWrite(permissions.BasePermission):
    """Members read; researchers write (refused before the body is looked at)."""

    message = "Only researchers (the frames.research permission) manage risk factors and models."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or is_researcher(request.user)


@extend_schema(tags=["frames"])
class RiskFactorViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Risk factors with their values; researchers manage them."""

    queryset = RiskFactor.objects.prefetch_related("values")
    serializer_class = RiskFactorSerializer
    write_serializer_class = RiskFactorWriteSerializer
    permission_classes = [*MEMBERS, ResearchersWrite]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def save(self, data, instance=None):
        return services.save_factor(actor=self.request.user, data=data, factor=instance)


@extend_schema(tags=["frames"])
class FactorValueViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The values a factor can take and the energy loss each contributes (0 to 1)."""

    queryset = FactorValue.objects.all()
    serializer_class = FactorValueSerializer
    write_serializer_class = FactorValueWriteSerializer
    permission_classes = [*MEMBERS, ResearchersWrite]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def save(self, data, instance=None):
        return services.save_factor_value(actor=self.request.user, data=data, value=instance)


class CompareQuerySerializer(serializers.Serializer):
    a = serializers.CharField(help_text="A model's name or id.")
    b = serializers.CharField(help_text="Another model's name or id.")


@extend_schema(tags=["frames"])
class FactorModelViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Factor models: a weight (0 to 2) per factor. Exactly one is active (the default for
    energy loss). Researchers create and change them, activate one, validate one against the
    recorded outcomes and judge it (``validation_status``, audited)."""

    queryset = FactorModel.objects.prefetch_related(
        Prefetch("weights", ModelFactor.objects.select_related("factor").order_by("factor__name"))
    )
    serializer_class = FactorModelSerializer
    write_serializer_class = FactorModelWriteSerializer
    permission_classes = [*MEMBERS, ResearchersWrite]
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    optional_body_actions = ("validate",)

    def save(self, data, instance=None):
        return services.save_model(actor=self.request.user, data=data, model=instance)

    def answer(self, instance, status_code=status.HTTP_200_OK):
        return super().answer(self.get_queryset().get(pk=instance.pk), status_code)

    @extend_schema(request=None, responses={200: FactorModelSerializer})
    @action(detail=True, methods=["post"])
    def activate(self, request, pk=None):
        """Make this the active model (the one energy loss uses by default)."""
        return self.answer(services.activate_model(actor=request.user, model=self.get_object()))

    @extend_schema(request=ValidateRequestSerializer, responses={200: ValidationReportSerializer})
    @action(detail=True, methods=["post"])
    def validate(self, request, pk=None):
        """Predict each recorded outcome's project risk (the mean energy loss of the interfaces
        at the project or its teams), compare with what happened, store a validation row per
        outcome (one run) and report ROC AUC, Brier score, accuracy at ``threshold`` and n,
        with a warning when there is too little data to conclude."""
        model = self.get_object()
        body = ValidateRequestSerializer(data=json_body(request, optional=True))
        body.is_valid(raise_exception=True)
        report = services.validate_model(
            actor=request.user, model=model, threshold=body.validated_data.get("threshold", DEFAULT_THRESHOLD)
        )
        return Response(ValidationReportSerializer(report).data)

    @extend_schema(responses={200: ModelValidationSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[])
    def validations(self, request, pk=None):
        """The model's validation rows, newest run first."""
        rows = ModelValidation.objects.filter(model=self.get_object()).order_by("-validated_at", "outcome_id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ModelValidationSerializer(page, many=True).data)

    @extend_schema(
        filters=False,
        parameters=[
            OpenApiParameter("a", OpenApiTypes.STR, required=True, description="A model's name or id."),
            OpenApiParameter("b", OpenApiTypes.STR, required=True, description="Another model's name or id."),
        ],
        responses={200: ComparisonSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], filter_backends=[])
    def compare(self, request):
        """Two models side by side: every interface you may see, with its loss and level under
        each and the difference (b - a), largest change first."""
        params = query(CompareQuerySerializer, request, {"a", "b", "page", "page_size"})
        a, b = factor_model(params["a"], "a"), factor_model(params["b"], "b")
        rows = selectors.compare(Interface.objects.visible_to(request.user), a, b)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(ComparisonSerializer(page, many=True).data)


@extend_schema(tags=["frames"])
class ActionViewSet(api_views.ActionViewSet):
    """FRAMES' audit trail (object types ``frames.*``), newest first."""

    object_types_prefix = "frames."
