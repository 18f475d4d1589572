"""The dropout API (/api/v1/dropout/): thin views over dropout/selectors.py, dropout/ingest.py and
dropout/tasks.py.

Scoping is the querysets' (``visible_to``): support staff (the app's view permission) see every
enrolment and prediction, other staff those of the students of the cohorts they teach; another
student's enrolment is a 404. Models carry no personal data (their cards aggregate): every staff
member reads them, to know how far to trust a band.
"""

from django.db.models import Prefetch
from django.tasks import TaskResultStatus
from django.tasks.exceptions import TaskResultDoesNotExist
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.decorators import action
from rest_framework.response import Response

from dashboard.models import Student
from dropout import ingest, selectors, tasks, training
from dropout.filters import EnrollmentFilter, ModelFilter, PredictionFilter
from dropout.models import DropoutModel, DropoutPrediction, Enrollment, LearningEvent
from dropout.serializers import (
    EnrollmentSerializer,
    EventBatchResultSerializer,
    EventRowSerializer,
    ModelDetailSerializer,
    ModelSerializer,
    PredictionSerializer,
    StudentRiskSerializer,
    TrainingTaskSerializer,
    TrainSerializer,
)
from veritas import bulk
from veritas.api.errors import batch_errors
from veritas.api.parsers import RawBody, RawCSVParser, RawJSONParser
from veritas.api.permissions import IsStaff, ModelPermissions
from veritas.api.views import APIView, GenericViewSet, json_body


class StaffOrSupport(permissions.BasePermission):
    """Staff (scoped to their cohorts) and support staff (the app's view permission)."""

    message = "Staff only: risk predictions need a staff account."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or user.has_perm("dropout.view_enrollment")))


@extend_schema(tags=["dropout"])
class EnrollmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Enrolments with their background and their latest risk band, as far as the caller may
    see them."""

    serializer_class = EnrollmentSerializer
    filterset_class = EnrollmentFilter
    permission_classes = [permissions.IsAuthenticated, StaffOrSupport]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Enrollment.objects.none()
        return (
            Enrollment.objects.visible_to(self.request.user)
            .select_related("student", "presentation__course")
            .annotate(risk_band=selectors.latest_band_subquery())
            .order_by("presentation__start_date", "presentation_id", "student__external_id", "id")
        )


@extend_schema(tags=["dropout"])
class PredictionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Predictions, highest probability first, each with its reasons."""

    serializer_class = PredictionSerializer
    filterset_class = PredictionFilter
    permission_classes = [permissions.IsAuthenticated, StaffOrSupport]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DropoutPrediction.objects.none()
        return (
            DropoutPrediction.objects.visible_to(self.request.user)
            .select_related("enrollment__student", "enrollment__presentation__course", "model")
            .order_by("-probability", "id")
        )


@extend_schema(tags=["dropout"])
class StudentRiskView(APIView):
    """A student's risk: each enrolment with its latest prediction per target and the reasons."""

    permission_classes = [permissions.IsAuthenticated, StaffOrSupport]
    queryset = Enrollment.objects.none()

    @extend_schema(responses=StudentRiskSerializer)
    def get(self, request, uuid):
        enrollments = Enrollment.objects.visible_to(request.user).filter(student__uuid=uuid)
        student = Student.objects.filter(uuid=uuid, enrollments__in=enrollments).distinct().first()
        if student is None:
            raise exceptions.NotFound("No such student among those whose risk you may see.")
        predictions = (
            DropoutPrediction.objects.filter(enrollment__in=enrollments)
            .select_related("model", "enrollment__student", "enrollment__presentation__course")
            .order_by("model__target", "-predicted_at", "-id")
        )
        rows = list(
            enrollments.select_related("presentation__course")
            .order_by("presentation__start_date", "id")
            .prefetch_related(Prefetch("predictions", predictions, to_attr="all_predictions"))
        )
        for enrollment in rows:
            latest = {}
            for prediction in enrollment.all_predictions:
                latest.setdefault(prediction.model.target, prediction)
            enrollment.predictions_latest = list(latest.values())
        data = {
            "student": student,
            "enrollments": [
                {
                    "id": e.pk,
                    "presentation": e.presentation,
                    "final_result": e.final_result,
                    "unregistered_day": e.unregistered_day,
                    "predictions": e.predictions_latest,
                }
                for e in rows
            ],
        }
        return Response(StudentRiskSerializer(data).data)


class TrainingPermission(ModelPermissions):
    """Training needs ``dropout.add_dropoutmodel`` (reading its status too)."""

    perms_map = {**ModelPermissions.perms_map, "GET": ["%(app_label)s.add_%(model_name)s"]}


@extend_schema(tags=["dropout"])
class ModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Trained models; one with its card (data, features, metrics, calibration, ROC curve, the
    metrics per group, bands, limits)."""

    queryset = DropoutModel.objects.select_related("trained_by").defer("artefact", "card", "parameters")
    serializer_class = ModelSerializer
    filterset_class = ModelFilter
    permission_classes = [permissions.IsAuthenticated, IsStaff]
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        if self.action == "retrieve":
            return DropoutModel.objects.select_related("trained_by").defer("artefact")
        return super().get_queryset()

    def get_serializer_class(self):
        return ModelDetailSerializer if self.action == "retrieve" else ModelSerializer

    @extend_schema(
        request=TrainSerializer,
        responses={
            202: TrainingTaskSerializer,
            400: OpenApiResponse(description="Unknown presentations, a cut-off beyond the course, or a bad body."),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        permission_classes=[permissions.IsAuthenticated, TrainingPermission],
        filter_backends=[],
        pagination_class=None,
    )
    def train(self, request):
        """Queue a training (``make worker`` runs it): the presentations and cut-off are checked
        now; too few positives fails the task, with its reason in ``error``."""
        body = TrainSerializer(data=json_body(request))
        body.is_valid(raise_exception=True)
        data = body.validated_data
        try:
            train_items = training.presentations(data["train_presentations"])
        except training.TrainingError as error:
            raise exceptions.ValidationError({"train_presentations": [str(error)]}) from None
        try:
            validation_items = training.presentations(data["validation_presentations"])
        except training.TrainingError as error:
            raise exceptions.ValidationError({"validation_presentations": [str(error)]}) from None
        try:
            training.check_cutoff([*train_items, *validation_items], data["cutoff_day"])
        except training.TrainingError as error:
            raise exceptions.ValidationError({"cutoff_day": [str(error)]}) from None
        result = tasks.train_model.enqueue(
            target=data["target"],
            cutoff_day=data["cutoff_day"],
            train=data["train_presentations"],
            validation=data["validation_presentations"],
            activate=data["activate"],
            actor_id=request.user.pk,
        )
        return Response(TrainingTaskSerializer(task_status(result)).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=TrainingTaskSerializer)
    @action(
        detail=False,
        methods=["get"],
        url_path=r"train/(?P<task_id>[0-9a-fA-F-]{1,64})",
        permission_classes=[permissions.IsAuthenticated, TrainingPermission],
        filter_backends=[],
        pagination_class=None,
    )
    def training_status(self, request, task_id=None):
        """A queued training's status, and the model once it is done."""
        try:
            result = tasks.train_model.get_result(task_id)
        except (TaskResultDoesNotExist, NotImplementedError, ValueError):
            raise exceptions.NotFound("No such training task.") from None
        return Response(TrainingTaskSerializer(task_status(result)).data)


def task_status(result) -> dict:
    model = error = None
    if result.status == TaskResultStatus.SUCCESSFUL:
        model = result.return_value["model"]
    elif result.status == TaskResultStatus.FAILED and result.errors:
        error = result.errors[-1].traceback.strip().splitlines()[-1]
    return {
        "id": str(result.id),
        "status": result.status,
        "enqueued_at": result.enqueued_at,
        "finished_at": result.finished_at,
        "model": model,
        "error": error,
    }


@extend_schema(tags=["dropout"])
class EventViewSet(GenericViewSet):
    """Click events in bulk (the learning platform's feed)."""

    queryset = LearningEvent.objects.none()
    serializer_class = EventRowSerializer
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    max_body_size = ingest.MAX_BYTES
    parser_classes = [RawJSONParser, RawCSVParser]

    @extend_schema(
        request={"application/json": EventRowSerializer(many=True), "text/csv": OpenApiTypes.STR},
        responses={201: EventBatchResultSerializer, 415: OpenApiResponse(description="Neither JSON nor CSV.")},
        description=(
            f"A JSON array of up to {ingest.MAX_ROWS} click rows, or a CSV file with studentVle.csv's columns "
            f"(code_module, code_presentation, id_student, id_site, date, sum_click), at most "
            f"{ingest.MAX_BYTES // (1024 * 1024)} MiB. Every row is validated and resolved first (the enrolment of "
            "the student on that presentation, the site): one bad row answers 400 with the row index (CSV: "
            "`line N`) and field messages, and nothing is stored. Needs `dropout.add_learningevent`; without "
            "`dropout.view_enrollment` only the students of the cohorts you teach."
        ),
    )
    def create(self, request):
        body = request.data if isinstance(request.data, RawBody) else RawBody()  # no body at all
        with batch_errors():
            if body.media_type == RawCSVParser.media_type:
                rows = ingest.parse_events_csv(bulk.csv_text(body))
            else:
                rows = ingest.parse_events(body)
            result = ingest.ingest_events(rows, actor=request.user)
        return Response(EventBatchResultSerializer(result).data, status=status.HTTP_201_CREATED)
