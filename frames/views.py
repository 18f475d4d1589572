"""The FRAMES API (/api/v1/frames/): thin views over frames/services.py (every write, checked
and audited there) and frames/selectors.py (energy loss roll-ups, comparisons, continuity).

Scoping is the querysets' (``visible_to``): a row the caller may not see is a 404, and absent
from lists. Whether the caller may *write* a visible row is the services' call (403).
Researchers (the ``frames.research`` permission) read everything; faculty their
university's rows and the interfaces with an end there; students their own record.
"""

from decimal import Decimal

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from frames import lms, selectors, services
from frames.filters import (
    AssignmentFilter,
    DepartureFilter,
    EventFilter,
    FeedbackFilter,
    InterfaceFilter,
    ModuleFilter,
    OutcomeFilter,
    ProjectFilter,
    SectionFilter,
    StudentFilter,
    TeamFilter,
)
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
    faculty_university_id,
    is_researcher,
)
from frames.serializers import (
    DEFAULT_THRESHOLD,
    AssignedSerializer,
    AssignmentSerializer,
    AssignSerializer,
    AssignValueSerializer,
    ComparisonSerializer,
    ContinuitySerializer,
    CurrentValueSerializer,
    DepartureSerializer,
    EventBatchResultSerializer,
    EventRowSerializer,
    EventSerializer,
    FactorModelSerializer,
    FactorModelWriteSerializer,
    FactorValueSerializer,
    FactorValueWriteSerializer,
    FacultySerializer,
    FeedbackSerializer,
    FeedbackWriteSerializer,
    FunnelSerializer,
    InterfaceDetailSerializer,
    InterfaceSerializer,
    InterfaceWriteSerializer,
    ModelValidationSerializer,
    ModuleAnalyticsSerializer,
    ModuleDetailSerializer,
    ModuleSerializer,
    ModuleWriteSerializer,
    OutcomeSerializer,
    OutcomeWriteSerializer,
    OverdueSerializer,
    ProgressSerializer,
    ProjectSerializer,
    ProjectWriteSerializer,
    RiskFactorSerializer,
    RiskFactorWriteSerializer,
    RollupSerializer,
    SectionSerializer,
    SectionWriteSerializer,
    StudentSerializer,
    StudentWriteSerializer,
    TeamSerializer,
    TeamWriteSerializer,
    TermAdvancedSerializer,
    UniversitySerializer,
    ValidateRequestSerializer,
    ValidationReportSerializer,
    ViewSectionSerializer,
)
from veritas.api import views as api_views
from veritas.api.errors import Conflict, batch_errors
from veritas.api.pagination import CursorPagination
from veritas.api.parsers import RawBody, RawJSONParser
from veritas.api.views import GenericViewSet, ServiceWrites, json_body, query


class IsConsortiumMember(permissions.BasePermission):
    """Faculty of a university, or researchers: the research data's readers."""

    message = "FRAMES research data is for faculty of a consortium university and researchers."

    def has_permission(self, request, view):
        return is_researcher(request.user) or faculty_university_id(request.user) is not None


MEMBERS = [permissions.IsAuthenticated, IsConsortiumMember]
CONFLICT = OpenApiResponse(description="The records' state does not allow it; the detail says why.")


class MembersAndStudents(permissions.BasePermission):
    """Faculty, researchers, and students (who read their own rows)."""

    message = "For faculty of a consortium university, researchers and students."

    def has_permission(self, request, view):
        user = request.user
        return IsConsortiumMember().has_permission(request, view) or Student.objects.filter(user=user).exists()


class MembersWrite(IsConsortiumMember):
    """Anyone signed in reads (the queryset scopes what); faculty and researchers write."""

    message = "Only faculty of a consortium university and researchers write FRAMES research data."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or super().has_permission(request, view)


def _not_a_fake(view) -> bool:
    return not getattr(view, "swagger_fake_view", False)  # drf-spectacular, building the schema


class Conflicts:
    """frames.services.Conflict (the LMS's too) answers 409."""

    def handle_exception(self, exc):
        if isinstance(exc, services.Conflict):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)


class ScopedReadViewSet(Conflicts, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
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
        query(NoParametersSerializer, request, set())
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
    permission_classes = [permissions.IsAuthenticated, MembersAndStudents, MembersWrite]  # a student reads their own
    related = ("user",)


@extend_schema(tags=["frames"])
class DepartureViewSet(ScopedReadViewSet):
    """Who left which team when a term ended (``advance-term``), newest first."""

    model = Departure
    serializer_class = DepartureSerializer
    filterset_class = DepartureFilter


@extend_schema(tags=["frames"])
@extend_schema_view(destroy=extend_schema(responses={204: None, 409: CONFLICT}))
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
    if model is None and raw.isascii() and raw.isdecimal() and int(raw) < 2**63:
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
    @extend_schema(parameters=[MODEL_PARAMETER])
    @action(
        detail=True,
        methods=["post"],
        url_path="factor-values",
        filter_backends=[],
        allowed_query_params=frozenset({"model"}),
    )
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
        query(NoParametersSerializer, request, set())
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
        rows = selectors.rollup(interfaces, model, params["by"], user=request.user)
        return Response(RollupSerializer(rows, many=True).data)


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


class NoParametersSerializer(serializers.Serializer):
    """No parameters of its own (page and page_size are the pagination's): any other is a 400."""


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
        """The model's validation rows of the outcomes you may see, newest run first."""
        query(NoParametersSerializer, request, {"page", "page_size"})
        outcomes = Outcome.objects.visible_to(request.user)
        rows = ModelValidation.objects.filter(model=self.get_object(), outcome__in=outcomes)
        rows = rows.order_by("-validated_at", "outcome_id")
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


# --- the onboarding LMS --------------------------------------------------------------------------


class StudentsAct(permissions.BasePermission):
    """The student's own actions (start, view, complete, feedback): a login with a student record."""

    message = "Only students take modules: your login has no active student record."

    def has_permission(self, request, view):
        return Student.objects.filter(user=request.user, active=True).exists()


STUDENT_ACTION = {"methods": ["post"], "detail": True, "permission_classes": [permissions.IsAuthenticated, StudentsAct]}


@extend_schema(tags=["frames"])
@extend_schema_view(
    update=extend_schema(responses={200: ModuleDetailSerializer, 409: CONFLICT}),
    partial_update=extend_schema(responses={200: ModuleDetailSerializer, 409: CONFLICT}),
)
class ModuleViewSet(ScopedViewSet):
    """Onboarding modules, one row per revision. Faculty write their university's modules
    (researchers: consortium modules, with no university) while a revision is a draft;
    ``publish/`` makes it the key's published revision, ``revise/`` starts the next draft (a
    published module's content changes only so: a 409 otherwise), ``assign/`` gives it to
    students. Students see the published modules assigned to them and ``start/``, ``view/``,
    ``complete/`` them and give ``feedback/``: starting before the prerequisites are complete is
    a 409 naming them."""

    model, saver, instance_name = Module, lms.save_module, "module"
    serializer_class = ModuleSerializer
    write_serializer_class = ModuleWriteSerializer
    filterset_class = ModuleFilter
    permission_classes = [permissions.IsAuthenticated, MembersAndStudents, MembersWrite]
    related = ("author",)
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def get_queryset(self):
        modules = super().get_queryset()
        return modules.prefetch_related("sections") if self.action == "retrieve" else modules

    def get_serializer_class(self):
        return ModuleSerializer if self.action in ("list", "funnel") else ModuleDetailSerializer

    @extend_schema(request=None, responses={200: ModuleDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        """A draft with sections becomes its key's published revision (the previous one is archived)."""
        return self.answer(lms.publish(actor=request.user, module=self.get_object()))

    @extend_schema(request=None, responses={200: ModuleDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def archive(self, request, pk=None):
        """Withdraw the published revision."""
        return self.answer(lms.archive(actor=request.user, module=self.get_object()))

    @extend_schema(request=None, responses={201: ModuleDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def revise(self, request, pk=None):
        """A draft copy (content and sections) as the key's next revision; one draft at a time."""
        return self.answer(lms.new_revision(actor=request.user, module=self.get_object()), status.HTTP_201_CREATED)

    @extend_schema(request=AssignSerializer, responses={200: AssignedSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        """Assign the published revision to students of your university (researchers: any)."""
        module = self.get_object()
        data = self.validated(AssignSerializer)
        result = lms.assign(
            actor=request.user, module=module, students=data["students"], due_at=data.get("due_at"),
            required=data["required"],
        )  # fmt: skip
        return Response(AssignedSerializer(result).data)

    @extend_schema(responses={200: ProgressSerializer(many=True)})
    @action(detail=True, methods=["get"], filter_backends=[], permission_classes=MEMBERS)
    def progress(self, request, pk=None):
        """The progress of the module's learners you may see, most recently active first."""
        query(NoParametersSerializer, request, {"page", "page_size"})
        rows = ModuleProgress.objects.visible_to(request.user).filter(module=self.get_object())
        page = self.paginate_queryset(rows.order_by("-last_accessed_at", "student_id"))
        return self.get_paginated_response(ProgressSerializer(page, many=True).data)

    @extend_schema(responses={200: ModuleAnalyticsSerializer}, filters=False)
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None, permission_classes=MEMBERS)
    def analytics(self, request, pk=None):
        """The module's funnel (assigned, started, completed), median time per section, the
        section where learners drop off, and its feedback: over your university's learners
        (researchers: everyone's)."""
        query(NoParametersSerializer, request, set())
        analytics = lms.module_analytics(self.get_object(), lms.scope_of(request.user))
        return Response(ModuleAnalyticsSerializer(analytics).data)

    @extend_schema(responses={200: FunnelSerializer(many=True)})
    @action(detail=False, methods=["get"], permission_classes=MEMBERS)
    def funnel(self, request):
        """The completion funnel of every module you may see (filters as the list): students
        assigned, of whom started, of whom completed, of your university (researchers:
        everyone). The same few queries however many modules and students."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        rows = lms.funnel(page, lms.scope_of(request.user))
        return self.get_paginated_response(FunnelSerializer(rows, many=True).data)

    def _student_module(self):
        return lms.student_of(self.request.user), self.get_object()

    @extend_schema(request=None, responses={200: ProgressSerializer, 409: CONFLICT})
    @action(**STUDENT_ACTION)
    def start(self, request, pk=None):
        """Start (or resume) an assigned module: 409 naming the prerequisites not yet complete."""
        student, module = self._student_module()
        return Response(ProgressSerializer(lms.start(student=student, module=module)).data)

    @extend_schema(request=ViewSectionSerializer, responses={200: ProgressSerializer, 409: CONFLICT})
    @action(**STUDENT_ACTION)
    def view(self, request, pk=None):
        """You spent ``duration_seconds`` on a section of a module you started."""
        student, module = self._student_module()
        data = self.validated(ViewSectionSerializer)
        section = module.sections.filter(pk=data["section"]).first()
        if section is None:
            raise exceptions.ValidationError({"section": [f"No section {data['section']} in this module."]})
        progress = lms.view_section(student=student, module=module, section=section, seconds=data["duration_seconds"])
        return Response(ProgressSerializer(progress).data)

    @extend_schema(request=None, responses={200: ProgressSerializer, 409: CONFLICT})
    @action(**STUDENT_ACTION)
    def complete(self, request, pk=None):
        """Complete the module: every section must have been viewed (409 naming those left)."""
        student, module = self._student_module()
        return Response(ProgressSerializer(lms.complete(student=student, module=module)).data)

    @extend_schema(request=FeedbackWriteSerializer, responses={200: FeedbackSerializer, 409: CONFLICT})
    @action(**STUDENT_ACTION)
    def feedback(self, request, pk=None):
        """Rate an assigned module from 1 to 5, with an optional comment (again: replaced)."""
        student, module = self._student_module()
        data = self.validated(FeedbackWriteSerializer)
        feedback = lms.give_feedback(student=student, module=module, rating=data["rating"], comment=data["comment"])
        return Response(FeedbackSerializer(feedback).data)


@extend_schema(tags=["frames"])
@extend_schema_view(
    create=extend_schema(responses={201: SectionSerializer, 409: CONFLICT}),
    update=extend_schema(responses={200: SectionSerializer, 409: CONFLICT}),
    partial_update=extend_schema(responses={200: SectionSerializer, 409: CONFLICT}),
    destroy=extend_schema(responses={204: None, 409: CONFLICT}),
)
class SectionViewSet(ServiceWrites, ScopedReadViewSet):
    """Modules' sections, in order; written while their module is a draft (409 otherwise)."""

    serializer_class = SectionSerializer
    write_serializer_class = SectionWriteSerializer
    filterset_class = SectionFilter
    permission_classes = [permissions.IsAuthenticated, MembersAndStudents, MembersWrite]

    def get_queryset(self):
        if not _not_a_fake(self):
            return ModuleSection.objects.none()
        return ModuleSection.objects.filter(module__in=Module.objects.visible_to(self.request.user))

    def save(self, data, instance=None):
        return lms.save_section(actor=self.request.user, data=data, section=instance)

    def remove(self, instance):
        lms.delete_section(actor=self.request.user, section=instance)


@extend_schema(tags=["frames"])
class AssignmentViewSet(ScopedReadViewSet):
    """Module assignments: a student's own (their to-do list, with due dates), faculty their
    university's students', researchers all. ``overdue/``: required ones past due, per university."""

    model = ModuleAssignment
    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    permission_classes = [permissions.IsAuthenticated, MembersAndStudents]
    related = ("module", "assigned_by")

    @extend_schema(responses={200: OverdueSerializer(many=True)}, filters=False)
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None, permission_classes=MEMBERS)
    def overdue(self, request):
        """Per university (of the students you may see): required assignments past their due
        date and not completed (any revision of it), and how many students have one."""
        query(NoParametersSerializer, request, set())
        return Response(OverdueSerializer(lms.overdue(Student.objects.visible_to(request.user)), many=True).data)


@extend_schema(tags=["frames"])
class FeedbackViewSet(ScopedReadViewSet):
    """Module feedback: a student's own; faculty their university's students'; researchers all."""

    model = ModuleFeedback
    serializer_class = FeedbackSerializer
    filterset_class = FeedbackFilter
    permission_classes = [permissions.IsAuthenticated, MembersAndStudents]


class NewestEventsFirst(CursorPagination):
    ordering = ("-at", "-id")


EVENTS_DESCRIPTION = (
    f"Up to {lms.MAX_ROWS} events as a JSON array, at most {lms.MAX_BYTES // (1024 * 1024)} MiB: student, module, "
    "section (required for section_view), event_type, duration_seconds, at (with a UTC offset). Every row is "
    "validated first, then checked against the database (a student you may not write, an unknown module, a "
    "section of another module); any bad row answers 400 with `fields` keyed by the row's index and nothing is "
    "stored. More rows: 413. The progress of every (student, module) pair the batch touches is recomputed from "
    "all its events. One audit entry records the counts."
)


@extend_schema(tags=["frames"])
class EventViewSet(mixins.ListModelMixin, GenericViewSet):
    """Module analytics events (append-only), newest first (cursor pagination): faculty their
    university's students', researchers all. POST a batch (bulk, COPY)."""

    serializer_class = EventSerializer
    filterset_class = EventFilter
    pagination_class = NewestEventsFirst
    permission_classes = MEMBERS
    max_body_size = lms.MAX_BYTES
    parser_classes = [RawJSONParser]

    def get_queryset(self):
        if not _not_a_fake(self):
            return ModuleAnalyticsEvent.objects.none()
        return ModuleAnalyticsEvent.objects.visible_to(self.request.user)

    @extend_schema(
        request=EventRowSerializer(many=True),
        responses={201: EventBatchResultSerializer, 415: OpenApiResponse(description="Not JSON.")},
        description=EVENTS_DESCRIPTION,
    )
    def create(self, request):
        body = request.data if isinstance(request.data, RawBody) else RawBody()
        with batch_errors():
            result = lms.ingest_events(lms.parse_events(body), actor=request.user)
        return Response(EventBatchResultSerializer(result).data, status=status.HTTP_201_CREATED)
