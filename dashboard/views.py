"""The dashboard API (/api/v1/dashboard/): thin views over dashboard/services.py (every write,
validated and audited there) and dashboard/selectors.py (performance, cohort overviews).

Scoping is the querysets' (``visible_to``): a row the caller may not see is a 404, and absent
from lists. Whether the caller may *write* a visible row is the services' call (403).
"""

from django.conf import settings
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from dashboard import ingest, selectors, services
from dashboard.filters import AssessmentFilter, ConceptModuleFilter, DraftFilter, StudentFilter
from dashboard.models import AssessmentLog, Cohort, ConceptModule, Draft, Scope, Student, is_dashboard_admin
from dashboard.serializers import (
    OVERVIEW_COLUMNS,
    AcceptDraftSerializer,
    AssessmentCorrectSerializer,
    AssessmentCreateSerializer,
    AssessmentRowSerializer,
    AssessmentSerializer,
    BulkResultSerializer,
    CohortSerializer,
    CohortWriteSerializer,
    ConceptModuleSerializer,
    ConceptModuleWriteSerializer,
    DraftDetailSerializer,
    DraftSerializer,
    DraftWriteSerializer,
    OverviewQuerySerializer,
    OverviewRowSerializer,
    PerformanceQuerySerializer,
    ReturnDraftSerializer,
    StudentCreateSerializer,
    StudentPerformanceSerializer,
    StudentSerializer,
    StudentUpdateSerializer,
)
from veritas import bulk
from veritas.api import views as api_views
from veritas.api.errors import Conflict, batch_errors
from veritas.api.pagination import CursorPagination
from veritas.api.parsers import RawBody, RawCSVParser, RawJSONParser
from veritas.api.permissions import WriteModelPermissions
from veritas.api.renderers import CSVRenderer
from veritas.api.views import UUID_PATTERN, GenericViewSet, ServiceWrites, WriteSchema, json_body, query
from veritas.models import User

# --- students -----------------------------------------------------------------------------------


@extend_schema(tags=["dashboard"])
class StudentViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The student register, as far as the caller may see it: administrators (the app's model
    permissions) all of it, staff the students of the cohorts they teach, a student their own
    record. Addressed by the public ``uuid``. Staff create students into a cohort they teach
    (``cohorts``); holders of ``dashboard.add_student`` into any or none. Deleting needs
    ``dashboard.delete_student``; linking a login (``user``) ``dashboard.change_student``."""

    serializer_class = StudentSerializer
    write_serializer_class = StudentUpdateSerializer
    filterset_class = StudentFilter
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # drf-spectacular, building the schema
            return Student.objects.none()
        students = Student.objects.visible_to(self.request.user)
        if self.action == "performance":
            return students
        return students.select_related("user").prefetch_related(Prefetch("cohorts", Cohort.objects.only("id")))

    def check_request(self) -> None:
        # Before the body is validated: a 400 "no such user" would tell who has a login.
        linking = hasattr(self.request.data, "keys") and "user" in self.request.data
        if linking and not is_dashboard_admin(self.request.user, "change"):
            raise exceptions.PermissionDenied(
                "Linking a student to a login needs the dashboard.change_student permission."
            )

    @extend_schema(request=StudentCreateSerializer, responses={201: StudentSerializer})
    def create(self, request, *args, **kwargs):
        self.check_request()
        data = self.validated(StudentCreateSerializer)
        cohorts = data.pop("cohorts", [])
        student = services.create_student(actor=request.user, data=data, cohorts=cohorts)
        return self.answer(student, status.HTTP_201_CREATED)

    def save(self, data, instance=None):
        return services.update_student(actor=self.request.user, student=instance, data=data)

    def remove(self, instance):
        services.delete_student(actor=self.request.user, student=instance)

    @extend_schema(
        filters=False,
        parameters=[
            OpenApiParameter(
                "method",
                OpenApiTypes.STR,
                enum=list(selectors.METHODS),
                description=f"The mastery method `score` and `mastered` use (default {selectors.DEFAULT_METHOD}).",
            )
        ],
        responses=StudentPerformanceSerializer,
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def performance(self, request, uuid=None):
        """The student's performance: overall, per subject and per concept module, each with
        the chosen mastery method's score, whether it reaches DASHBOARD_MASTERY_THRESHOLD, and
        the percentile among the students of their cohorts. Read from the stored records
        (kept exact on every write): three queries at most, however many assessments."""
        method = query(PerformanceQuerySerializer, request, {"method"}).get("method", selectors.DEFAULT_METHOD)
        student = self.get_object()
        threshold = settings.DASHBOARD_MASTERY["THRESHOLD"]
        records = selectors.student_performance(student, method=method, threshold=threshold)
        data = {
            "student": student.uuid,
            "method": method,
            "threshold": threshold,
            "overall": next((r for r in records if r.scope == Scope.OVERALL), None),
            "subjects": [r for r in records if r.scope == Scope.SUBJECT],
            "concepts": [r for r in records if r.scope == Scope.CONCEPT],
        }
        return Response(StudentPerformanceSerializer(data).data)


# --- cohorts ------------------------------------------------------------------------------------


@extend_schema(tags=["dashboard"])
class CohortViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Cohorts: staff see those they teach, administrators all. Creating, changing and
    deleting need the model permissions (``dashboard.add_cohort``, …)."""

    serializer_class = CohortSerializer
    write_serializer_class = CohortWriteSerializer
    permission_classes = [permissions.IsAuthenticated, WriteModelPermissions]
    lookup_value_regex = r"\d+"
    # The overview's CSV columns (veritas.api.renderers.CSVRenderer).
    csv_header = OVERVIEW_COLUMNS

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Cohort.objects.none()
        cohorts = Cohort.objects.visible_to(self.request.user)
        if self.action == "overview":
            return cohorts
        return cohorts.prefetch_related(
            Prefetch("staff", User.objects.only("id", "username")),
            Prefetch("students", Student.objects.only("id", "uuid")),
        )

    def save(self, data, instance=None):
        return services.save_cohort(actor=self.request.user, data=data, cohort=instance)

    def remove(self, instance):
        services.delete_cohort(actor=self.request.user, cohort=instance)

    @extend_schema(
        filters=False,
        parameters=[
            OpenApiParameter(
                "flag", OpenApiTypes.STR, enum=["declining", "inactive"], description="Only the students so flagged."
            ),
            OpenApiParameter(
                "format",
                OpenApiTypes.STR,
                enum=["json", "csv"],
                description="`csv`: the same rows as a CSV file with a header line (or send `Accept: text/csv`).",
            ),
        ],
        responses={200: OverviewRowSerializer(many=True)},
    )
    @action(
        detail=True,
        methods=["get"],
        filter_backends=[],
        pagination_class=None,
        renderer_classes=[JSONRenderer, CSVRenderer],
    )
    def overview(self, request, pk=None):
        """One row per student of the cohort: mean, trend, last activity, assessments in the
        last 14 days and the flags (docs/dashboard.md): *declining* — at least 4 assessments,
        a negative trend and the recent level (decaying average) at least 5 points under the
        mean; *inactive* — an active student with no assessment in the last 14 days. The
        cohort's staff and administrators only. At most five queries, whatever the size;
        ``?format=csv`` exports it."""
        flag = query(OverviewQuerySerializer, request, {"flag"}).get("flag")
        cohort = self.get_object()
        rows = selectors.cohort_overview(cohort)
        if flag:
            rows = [row for row in rows if getattr(row, flag)]
        response = Response(OverviewRowSerializer(rows, many=True).data)
        if request.accepted_renderer.format == CSVRenderer.format:
            response["Content-Disposition"] = f'attachment; filename="cohort-{cohort.pk}-overview.csv"'
        return response


# --- concept modules ----------------------------------------------------------------------------


@extend_schema(tags=["dashboard"])
class ConceptModuleViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """The curriculum's concept modules, readable by every user; writes need the model
    permissions. ``prerequisites`` are module codes; a change that would close a cycle is a
    400 naming ``prerequisites`` and the modules along the cycle."""

    serializer_class = ConceptModuleSerializer
    write_serializer_class = ConceptModuleWriteSerializer
    filterset_class = ConceptModuleFilter
    permission_classes = [permissions.IsAuthenticated, WriteModelPermissions]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return ConceptModule.objects.prefetch_related(
            Prefetch("prerequisites", ConceptModule.objects.only("id", "code"))
        )

    def save(self, data, instance=None):
        return services.save_module(actor=self.request.user, data=data, module=instance)

    def remove(self, instance):
        services.delete_module(actor=self.request.user, module=instance)


# --- assessments --------------------------------------------------------------------------------


class NewestAssessmentsFirst(CursorPagination):
    ordering = ("-taken_at", "-id")


class RecordsAssessments(permissions.BasePermission):
    """Bulk recording: staff who teach a cohort, or holders of dashboard.change_student."""

    message = "Recording assessments needs a cohort you teach or the dashboard.change_student permission."

    def has_permission(self, request, view):
        user = request.user
        return is_dashboard_admin(user, "change") or Student.objects.taught_by(user).exists()


BULK_DESCRIPTION = (
    f"Up to {ingest.MAX_ROWS} assessments as a JSON array (`application/json`) or CSV with a header line "
    f"(`text/csv`: student, kind, subject, score, max_score, taken_at, concept_modules as `A;B`, comment), at "
    f"most {ingest.MAX_BYTES // (1024 * 1024)} MiB. `student` is the external id. Every row is validated "
    "first; any bad row (including a student you may not record for, or an unknown module code) answers 400 "
    "with `fields` keyed by the row's index (CSV: `line N`) and nothing is stored. More rows: 413. One audit "
    "entry records the counts. Needs a cohort you teach or dashboard.change_student."
)


@extend_schema(tags=["dashboard"])
class AssessmentViewSet(ServiceWrites, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Assessments of the students the caller may see, newest first. Staff of the student's
    cohorts (or holders of dashboard.change_student) record, correct (PATCH) and delete
    them; a student reads their own. Every write keeps the performance records exact."""

    serializer_class = AssessmentSerializer
    write_serializer_class = AssessmentCorrectSerializer
    filterset_class = AssessmentFilter
    pagination_class = NewestAssessmentsFirst
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    max_body_size = None  # the default limit; bulk/ sets its own

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return AssessmentLog.objects.none()
        return (
            AssessmentLog.objects.visible_to(self.request.user)
            .select_related("student", "recorded_by")
            .prefetch_related(Prefetch("concept_modules", ConceptModule.objects.only("id", "code")))
        )

    @extend_schema(request=AssessmentCreateSerializer, responses={201: AssessmentSerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated(AssessmentCreateSerializer)
        student = data.pop("student")
        assessment = services.record_assessment(actor=request.user, student=student, data=data)
        return self.answer(assessment, status.HTTP_201_CREATED)

    def save(self, data, instance=None):
        return services.correct_assessment(actor=self.request.user, assessment=instance, data=data)

    def remove(self, instance):
        services.delete_assessment(actor=self.request.user, assessment=instance)

    @extend_schema(
        filters=False,
        request={
            "application/json": AssessmentRowSerializer(many=True),
            "text/csv": OpenApiTypes.STR,
        },
        responses={201: BulkResultSerializer, 415: OpenApiResponse(description="Neither JSON nor CSV.")},
        description=BULK_DESCRIPTION,
    )
    @action(
        detail=False,
        methods=["post"],
        parser_classes=[RawJSONParser, RawCSVParser],
        max_body_size=ingest.MAX_BYTES,
        permission_classes=[permissions.IsAuthenticated, RecordsAssessments],
        filter_backends=[],
    )
    def bulk(self, request):
        body = request.data if isinstance(request.data, RawBody) else RawBody()  # no body at all
        with batch_errors():
            if body.media_type == RawCSVParser.media_type:
                rows = ingest.parse_csv(bulk.csv_text(body))
            else:
                rows = ingest.parse_json(body)
            report = ingest.import_assessments(rows, actor=request.user)
        return Response(BulkResultSerializer(report).data, status=status.HTTP_201_CREATED)


# --- drafts -------------------------------------------------------------------------------------

CONFLICT = OpenApiResponse(description="The draft's status does not allow it; the detail names the allowed moves.")


@extend_schema(tags=["dashboard"])
class DraftViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Students' written work and its review. The student (the login of the student record)
    writes a draft, edits it while it is a draft or returned, and submits it (a version is
    kept per submission); the staff of the student's cohorts (or holders of
    dashboard.change_draft) start a review, then return it with feedback or accept it. A
    move the draft's status does not allow is a 409 naming the allowed ones."""

    serializer_class = DraftSerializer
    filterset_class = DraftFilter
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "head", "options"]
    schema = WriteSchema()
    optional_body_actions = ("accept",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Draft.objects.none()
        drafts = Draft.objects.visible_to(self.request.user).select_related("student", "reviewer")
        return drafts if self.action == "list" else drafts.prefetch_related("versions")

    def get_serializer_class(self):
        return DraftSerializer if self.action == "list" else DraftDetailSerializer

    def handle_exception(self, exc):
        if isinstance(exc, services.TransitionNotAllowed):
            exc = Conflict(str(exc))
        return super().handle_exception(exc)

    def body(self, serializer_class, partial=False, optional=False) -> dict:
        data = serializer_class(data=json_body(self.request, optional=optional), partial=partial)
        data.is_valid(raise_exception=True)
        return data.validated_data

    def answer(self, draft, status_code=status.HTTP_200_OK) -> Response:
        return Response(DraftDetailSerializer(draft).data, status=status_code)

    @extend_schema(request=DraftWriteSerializer, responses={201: DraftDetailSerializer})
    def create(self, request):
        """A new draft of your own (your login must be a student's)."""
        student = Student.objects.filter(user=request.user).first()
        if student is None:
            raise exceptions.PermissionDenied("Only students write drafts: your login has no student record.")
        data = self.body(DraftWriteSerializer)
        draft = services.create_draft(
            actor=request.user, student=student, title=data["title"], body=data.get("body", "")
        )
        return self.answer(draft, status.HTTP_201_CREATED)

    @extend_schema(request=DraftWriteSerializer, responses={200: DraftDetailSerializer, 409: CONFLICT})
    def partial_update(self, request, pk=None):
        """Edit the title or body: the owner, while the draft is a draft or returned."""
        draft = self.get_object()
        return self.answer(
            services.edit_draft(actor=request.user, draft=draft, data=self.body(DraftWriteSerializer, partial=True))
        )

    @extend_schema(request=None, responses={200: DraftDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """The owner submits (from draft or returned); the body is kept as a new version."""
        return self.answer(services.submit_draft(actor=request.user, draft=self.get_object()))

    @extend_schema(request=None, responses={200: DraftDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="start-review")
    def start_review(self, request, pk=None):
        """Staff start reviewing a submitted draft."""
        return self.answer(services.start_review(actor=request.user, draft=self.get_object()))

    @extend_schema(request=ReturnDraftSerializer, responses={200: DraftDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="return")
    def return_draft(self, request, pk=None):
        """Staff return a draft in review with feedback (required); the student may resubmit."""
        draft = self.get_object()
        feedback = self.body(ReturnDraftSerializer)["feedback"]
        return self.answer(services.return_draft(actor=request.user, draft=draft, feedback=feedback))

    @extend_schema(request=AcceptDraftSerializer, responses={200: DraftDetailSerializer, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        """Staff accept a draft in review (final), with optional feedback."""
        draft = self.get_object()
        feedback = self.body(AcceptDraftSerializer, optional=True).get("feedback", "")
        return self.answer(services.accept_draft(actor=request.user, draft=draft, feedback=feedback))


# --- the audit trail ----------------------------------------------------------------------------


@extend_schema(tags=["dashboard"])
class ActionViewSet(api_views.ActionViewSet):
    """The dashboard's audit trail (object types ``dashboard.*``), newest first. Staff see
    their own entries and those about the students they may see; holders of
    veritas.view_actionlog see every entry."""

    object_types_prefix = "dashboard."
