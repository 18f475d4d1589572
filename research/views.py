import orjson
from django.conf import settings
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.request import Empty
from rest_framework.response import Response

from research import qac, services, vectors
from research.auth import InstitutionKeyAuthentication, InstitutionRateThrottle, IsInstitution
from research.models import JobStatus, QACModel, UsageMetrics, VectorStore
from research.serializers import (
    AppliedSerializer,
    ApplyOptionsSerializer,
    ApplySerializer,
    FitOptionsSerializer,
    FitSerializer,
    FoundSerializer,
    JobListSerializer,
    JobSerializer,
    QACModelSerializer,
    ResearchHealthSerializer,
    SearchOptionsSerializer,
    SearchSerializer,
    UpsertedSerializer,
    UsageSerializer,
    VectorItemSerializer,
    VectorStoreCreateSerializer,
    VectorStoreSerializer,
    VectorStoreUpdateSerializer,
)
from veritas.api.authentication import BearerTokenAuthentication
from veritas.api.errors import Conflict, PayloadTooLarge
from veritas.api.filters import FilterSet
from veritas.api.parsers import RawBody, RawJSONParser, RawNDJSONParser
from veritas.api.permissions import IsStaff
from veritas.api.views import UUID_PATTERN, APIView, GenericViewSet, json_body
from veritas.bulk import BatchInvalid, BatchTooLarge
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


def numeric_body(request, field_name: str, convert, options_serializer):
    """A body whose ``field_name`` is numbers (a QAC embedding, a search vector): that field
    checked as a whole with NumPy by ``convert`` (raising an error with a ``field``), the rest
    by the serializer; every problem reported in one 400. Returns (value, options)."""
    raw = request.data
    try:
        body = orjson.loads(memoryview(raw)) if raw else None
    except orjson.JSONDecodeError as error:
        raise exceptions.ParseError(f"JSON parse error: {error}") from None
    request._request.research_data = body
    if not isinstance(body, dict):
        raise exceptions.ValidationError({"non_field_errors": ["Expected a JSON object."]})
    problems, value = {}, None
    if field_name not in body:
        problems[field_name] = ["This field is required."]
    else:
        try:
            value = convert(body[field_name])
        except (qac.QACError, vectors.StoreError) as error:
            problems[error.field] = [str(error)]
    options = options_serializer(data={key: item for key, item in body.items() if key != field_name})
    if not options.is_valid():
        problems.update(options.errors)
    if problems:
        raise exceptions.ValidationError(problems)
    return value, options


def matrix_body(request, options_serializer):
    return numeric_body(request, "embedding", qac.as_matrix, options_serializer)


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
        params = qac.Params.from_dict(options.validated_data.get("params"))
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


@extend_schema(tags=["research"])
class VectorStoreViewSet(
    ResearchView, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, GenericViewSet
):
    """Your institution's vector stores (pgvector): create one, upsert items in bulk, search
    with metadata filters, delete an item or the store. A store past its ``expires_at`` (24
    hours by default) is gone (404) and dropped by ``prune_research``."""

    serializer_class = VectorStoreSerializer
    lookup_field = "public_id"
    lookup_value_regex = UUID_PATTERN

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return VectorStore.objects.none()
        return VectorStore.objects.live().filter(institution=self.institution).order_by("-created_at", "-id")

    @property
    def max_body_size(self):
        return settings.RESEARCH_MAX_BODY_BYTES if self.action == "items" else None

    @extend_schema(
        request=VectorStoreCreateSerializer,
        responses={201: VectorStoreSerializer, 409: OpenApiResponse(description="The name is taken.")},
    )
    def create(self, request):
        """A new, empty store: a name unique among your stores, a dimension (1 to 2000) and a metric."""
        form = VectorStoreCreateSerializer(data=json_body(request))
        form.is_valid(raise_exception=True)
        try:
            store = vectors.create_store(institution=self.institution, **form.validated_data)
        except vectors.NameTaken as error:
            raise Conflict(str(error)) from None
        return Response(VectorStoreSerializer(store).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=VectorStoreUpdateSerializer, responses={200: VectorStoreSerializer})
    def partial_update(self, request, public_id=None):
        """Move the store's expiry (keep it longer, or let it go sooner)."""
        store = self.get_object()
        form = VectorStoreUpdateSerializer(data=json_body(request), partial=True)
        form.is_valid(raise_exception=True)
        if "expires_at" in form.validated_data:
            store.expires_at = form.validated_data["expires_at"]
            if not VectorStore.objects.filter(pk=store.pk).update(expires_at=store.expires_at):
                raise exceptions.NotFound("No such vector store.")  # deleted meanwhile
        return Response(VectorStoreSerializer(store).data)

    def perform_destroy(self, instance):
        vectors.delete_store(instance)

    @extend_schema(
        request={
            "application/json": VectorItemSerializer(many=True),
            "application/x-ndjson": VectorItemSerializer,
        },
        responses={200: UpsertedSerializer},
        description=(
            f"Insert or replace items: a JSON array of up to {vectors.MAX_ROWS:,} items, or NDJSON (one item a "
            "line, `Content-Type: application/x-ndjson`), within RESEARCH_MAX_BODY_BYTES (64 MiB by default). "
            "An item with an id already in the store replaces it. The batch is checked as a whole first (the "
            "store's dimension, finite numbers, no zero vector in a cosine store, no id twice): one bad row "
            "answers 400 naming the row (its index, or `line N`) and nothing is written."
        ),
    )
    @action(detail=True, methods=["post"], parser_classes=[RawJSONParser, RawNDJSONParser], filter_backends=[])
    def items(self, request, public_id=None):
        store = self.get_object()
        body = request.data if isinstance(request.data, RawBody) else RawBody()
        try:
            batch = vectors.parse_items(body, body.media_type, store)
        except BatchTooLarge as error:
            raise PayloadTooLarge(str(error)) from None
        except BatchInvalid as error:
            if error.parse_error:
                raise exceptions.ParseError(error.parse_error) from None
            raise exceptions.ValidationError(error.fields) from None
        request._request.research_data = batch.items  # audited from the rows (research/audit.py)
        try:
            written = vectors.upsert(store, batch)
        except vectors.StoreGone:
            raise exceptions.NotFound("No such vector store.") from None
        return Response(UpsertedSerializer(written).data)

    @extend_schema(request=None, responses={204: None, 404: OpenApiResponse(description="No such store or item.")})
    @action(detail=True, methods=["delete"], url_path=r"items/(?P<external_id>[^/]+)", filter_backends=[])
    def item(self, request, public_id=None, external_id=None):
        """Delete one item by its id."""
        store = self.get_object()
        try:
            deleted = vectors.delete_item(store, external_id)
        except vectors.StoreGone:
            deleted = False
        if not deleted:
            raise exceptions.NotFound("No such item in this store.")
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=SearchSerializer, responses={200: FoundSerializer})
    @action(detail=True, methods=["post"], parser_classes=[RawJSONParser], filter_backends=[])
    def search(self, request, public_id=None):
        """The k items nearest to a vector, nearest first, optionally among those whose metadata
        has given values: k results whenever k items match."""
        store = self.get_object()
        vector, options = numeric_body(
            request, "vector", lambda value: vectors.query_vector(value, store), SearchOptionsSerializer
        )
        try:
            found = vectors.search(store, vector, options.validated_data["k"], options.validated_data["filter"])
        except vectors.StoreGone:
            raise exceptions.NotFound("No such vector store.") from None
        return Response(FoundSerializer(found).data)


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
