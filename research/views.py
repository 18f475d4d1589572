import orjson
from django.conf import settings
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.request import Empty
from rest_framework.response import Response

from research import qac, services
from research.auth import InstitutionKeyAuthentication, InstitutionRateThrottle, IsInstitution
from research.models import JobStatus, QACModel, UsageMetrics
from research.serializers import (
    AppliedSerializer,
    ApplyOptionsSerializer,
    ApplySerializer,
    FitOptionsSerializer,
    FitSerializer,
    JobListSerializer,
    JobSerializer,
    QACModelSerializer,
    ResearchHealthSerializer,
    UsageSerializer,
    params_from,
)
from veritas.api.authentication import BearerTokenAuthentication
from veritas.api.errors import Conflict
from veritas.api.filters import FilterSet
from veritas.api.permissions import IsStaff
from veritas.api.views import UUID_PATTERN, APIView, GenericViewSet
from veritas.health import check_database


class ResearchView:
    """What every research endpoint shares: an institution key, its rate limits, and the
    parsed body handed to the audit (research/middleware.py)."""

    # Personal tokens and sessions authenticate too, so that they get a 403 that says what
    # is needed (only usage/ lets staff in).
    authentication_classes = [InstitutionKeyAuthentication, BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [IsInstitution]
    throttle_classes = [InstitutionRateThrottle]

    def finalize_response(self, request, response, *args, **kwargs):
        parsed = request.__dict__.get("_full_data", Empty)
        already = hasattr(request._request, "research_data")  # e.g. a QAC body, decoded by the view
        if parsed is not Empty and not already and request.stream is not None:  # the view parsed a body
            request._request.research_data = parsed
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def institution(self):
        return self.request._request.institution


def matrix_body(request, options_serializer):
    """A QAC body: the embedding checked as one NumPy matrix, the rest by the serializer; every
    problem reported in one 400."""
    raw = request.data
    try:
        body = orjson.loads(memoryview(raw)) if raw else None
    except orjson.JSONDecodeError as error:
        raise exceptions.ParseError(f"JSON parse error: {error}") from None
    request._request.research_data = body
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    problems, embedding = {}, None
    if "embedding" not in body:
        problems["embedding"] = ["This field is required."]
    else:
        try:
            embedding = qac.as_matrix(body["embedding"])
        except qac.QACError as error:
            problems["embedding"] = [str(error)]
    options = options_serializer(data={key: value for key, value in body.items() if key != "embedding"})
    if not options.is_valid():
        problems.update(options.errors)
    if problems:
        raise exceptions.ValidationError(problems)
    return embedding, options


def qac_problem(error: qac.QACError) -> exceptions.ValidationError:
    return exceptions.ValidationError({error.field: [str(error)]})


@extend_schema(tags=["research"])
class QACViewSet(ResearchView, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """QAC models of your institution: fit one from an embedding, apply it to another.
    Inputs of more than RESEARCH_QAC_INLINE_MAX_VALUES numbers run as jobs (202)."""

    serializer_class = QACModelSerializer
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return QACModel.objects.none()
        return QACModel.objects.filter(institution=self.institution).defer("graph").order_by("-created_at", "-id")

    @property
    def max_body_size(self):
        return settings.RESEARCH_MAX_BODY_BYTES

    @extend_schema(
        request=FitSerializer,
        responses={201: QACModelSerializer, 202: OpenApiResponse(JobSerializer, description="Queued as a job.")},
    )
    def fit(self, request):
        """Build the symmetrised k-nearest-neighbour graph of the embedding's rows and store it."""
        embedding, options = matrix_body(request, FitOptionsSerializer)
        params = params_from(options.validated_data.get("params"))
        name = options.validated_data["name"]
        if embedding.shape[0] <= params.k_nn:
            raise exceptions.ValidationError(
                {"params": {"k_nn": [f"Must be below the number of rows ({embedding.shape[0]})."]}}
            )
        if services.is_large(embedding):
            job = services.queue_job(
                institution=self.institution,
                kind=JobStatus.Kind.QAC_FIT,
                embedding=embedding,
                params={"params": params.__dict__, "name": name},
            )
            return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        try:
            model = services.fit(institution=self.institution, embedding=embedding, params=params, name=name)
        except qac.QACError as error:
            raise qac_problem(error) from None
        return Response(QACModelSerializer(model).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ApplySerializer,
        responses={
            200: AppliedSerializer,
            202: OpenApiResponse(JobSerializer, description="Queued as a job."),
            404: OpenApiResponse(description="No such model of your institution."),
        },
    )
    def apply(self, request):
        """Smooth an embedding with one of your models."""
        embedding, options = matrix_body(request, ApplyOptionsSerializer)
        data = options.validated_data
        model = self.get_queryset().filter(pk=data["model"]).first()
        if model is None:
            raise exceptions.NotFound("No such QAC model.")
        if data["graph"] == "model" and embedding.shape[0] != model.n_rows:
            raise exceptions.ValidationError(
                {"embedding": [f"Has {embedding.shape[0]} rows; the model was fitted on {model.n_rows}."]}
            )
        if services.is_large(embedding):
            job = services.queue_job(
                institution=self.institution,
                kind=JobStatus.Kind.QAC_APPLY,
                embedding=embedding,
                params={"model": str(model.pk), "graph": data["graph"], "null_seed": data["null_seed"]},
            )
            return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)
        try:
            applied = services.apply(
                model=model, embedding=embedding, graph_source=data["graph"], null_seed=data["null_seed"]
            )
        except qac.QACError as error:
            raise qac_problem(error) from None
        return Response(applied.as_dict())


@extend_schema(tags=["research"])
class JobViewSet(ResearchView, mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Your institution's jobs (large QAC fits and applies), run by ``make worker``."""

    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return JobStatus.objects.none()
        return JobStatus.objects.filter(institution=self.institution).defer("payload").order_by("-created_at", "-id")

    def get_serializer_class(self):
        return JobListSerializer if self.action == "list" else JobSerializer

    @extend_schema(request=None, responses={200: JobSerializer})
    @action(detail=True, methods=["post"], filter_backends=[])
    def cancel(self, request, pk=None):
        """Cancel a queued job; one already running or finished is a 409."""
        job = self.get_object()
        if not services.cancel_job(job):
            raise Conflict(f"The job is {job.status}: only a queued job can be cancelled.")
        return Response(JobSerializer(job).data)


class UsageFilter(FilterSet):
    since = filters.DateFilter(field_name="day", lookup_expr="gte", help_text="First day (UTC), inclusive.")
    until = filters.DateFilter(field_name="day", lookup_expr="lte", help_text="Last day (UTC), inclusive.")
    route = filters.CharFilter(field_name="route")
    institution = filters.CharFilter(field_name="institution__slug", help_text="Staff only: one institution.")

    class Meta:
        model = UsageMetrics
        fields = ["since", "until", "route", "institution"]


class InstitutionOrStaff(permissions.BasePermission):
    message = "Needs an institution API key, or a staff account."

    def has_permission(self, request, view):
        return IsInstitution().has_permission(request, view) or IsStaff().has_permission(request, view)


@extend_schema(tags=["research"])
class UsageViewSet(ResearchView, mixins.ListModelMixin, GenericViewSet):
    """Requests, errors and times per route and day: your institution's; staff see every
    institution's (personal token or session)."""

    serializer_class = UsageSerializer
    filterset_class = UsageFilter
    permission_classes = [InstitutionOrStaff]

    def get_queryset(self):
        rows = UsageMetrics.objects.select_related("institution").order_by("-day", "route", "institution_id")
        if getattr(self, "swagger_fake_view", False):
            return rows.none()
        institution = getattr(self.request._request, "institution", None)
        if institution is not None:
            return rows.filter(institution=institution)
        return rows  # staff

    def filter_queryset(self, queryset):
        institution = getattr(self.request._request, "institution", None)
        if institution is not None and "institution" in self.request.query_params:
            raise exceptions.ValidationError({"institution": ["Staff only: an institution sees its own usage."]})
        return super().filter_queryset(queryset)


@extend_schema(tags=["research"], auth=[])
class HealthView(APIView):
    """Anonymous, as the legacy's: the database's status and latency, pgvector's version,
    the QAC engines available. Nothing secret (no host names, no versions of the server)."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: ResearchHealthSerializer, 503: ResearchHealthSerializer})
    def get(self, request):
        report = check_database()
        body = {
            "status": "ok" if report.ok else "degraded",
            "database": {"status": report.status, "latency_ms": report.latency_ms},
            "pgvector": report.pgvector_version,
            "engines": sorted(qac.engines()),
        }
        return Response(body, status=200 if report.ok else 503)
