from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, mixins, permissions, status
from rest_framework.response import Response

from monitoring import ingest, selectors, services
from monitoring.filters import SINCE_HELP, UNTIL_HELP, LogFilter, ResultFilter, TransitionFilter
from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, SystemHealth
from monitoring.serializers import (
    EvaluationSerializer,
    HealthTransitionSerializer,
    IngestResultSerializer,
    LogEntryInSerializer,
    LogSerializer,
    MonitoringResultSerializer,
    OverallHealthSerializer,
    StatisticsQuerySerializer,
    StatisticsSerializer,
    SystemHealthSerializer,
)
from veritas.api.errors import PayloadTooLarge
from veritas.api.pagination import CursorPagination
from veritas.api.parsers import RawBody, RawJSONParser, RawNDJSONParser
from veritas.api.permissions import IsStaff, ModelPermissions
from veritas.api.views import APIView, GenericViewSet


class NewestLogsFirst(CursorPagination):
    ordering = ("-timestamp", "-id")


class NewestTransitionsFirst(CursorPagination):
    ordering = ("-at", "-id")


class NewestResultsFirst(CursorPagination):
    ordering = ("-evaluated_at", "-id")


class LogSchema(AutoSchema):
    """drf-spectacular cannot tell that the oneOf body of ``POST logs/`` is required (it
    reads that from a serializer's required fields): it is (an empty body is a 400)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None and self.method == "POST":
            body["required"] = True
        return body


@extend_schema(tags=["monitoring"])
class LogViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Logs: bulk ingestion, listing newest first, one log by id."""

    queryset = MonitoringLog.objects.all()
    serializer_class = LogSerializer
    filterset_class = LogFilter
    pagination_class = NewestLogsFirst
    lookup_value_regex = r"\d+"
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    max_body_size = ingest.MAX_BYTES
    schema = LogSchema()

    def get_parsers(self):
        if self.request is not None and self.request.method == "POST":
            return [RawJSONParser(), RawNDJSONParser()]
        return super().get_parsers()

    @extend_schema(
        request={
            # One object or an array of them: oneOf in the schema.
            "application/json": PolymorphicProxySerializer(
                component_name="LogBatch",
                serializers=[LogEntryInSerializer, LogEntryInSerializer(many=True)],
                resource_type_field_name=None,
                many=False,
            ),
            "application/x-ndjson": LogEntryInSerializer,
        },
        responses={201: IngestResultSerializer},
        description=(
            f"One log object, a JSON array of up to {ingest.MAX_ROWS} of them, or NDJSON (one object per line, "
            f"`Content-Type: application/x-ndjson`), at most {ingest.MAX_BYTES // (1024 * 1024)} MiB. Every row is "
            "validated first: one bad row answers 400 with the row index (NDJSON: `line N`) and field messages, "
            "and nothing is stored. A timestamp needs a UTC offset and may be at most "
            "MONITORING_MAX_FUTURE_SECONDS (default 300) ahead of the server's clock. Rows whose `event_id` is "
            "already stored for their source are skipped and counted as duplicates. Needs the "
            "`monitoring.add_monitoringlog` permission."
        ),
    )
    def create(self, request):
        body = request.data if isinstance(request.data, RawBody) else RawBody()  # no body at all
        try:
            if body.media_type == RawNDJSONParser.media_type:
                entries = ingest.parse_ndjson(body)
            else:
                entries = ingest.parse_json(body)
        except ingest.BatchTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from None
        except ingest.BatchInvalid as exc:
            if exc.parse_error:
                raise exceptions.ParseError(exc.parse_error) from None
            raise exceptions.ValidationError(exc.fields) from None
        result = ingest.ingest(entries)
        return Response(IngestResultSerializer(result).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["monitoring"])
class StatisticsView(APIView):
    """Counts per level and source, oldest and newest log; exact, from the hourly rollup."""

    queryset = MonitoringLog.objects.none()
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
    allowed_query_params = frozenset({"source", "level", "since", "until", "hourly"})

    @extend_schema(
        parameters=[
            OpenApiParameter("source", OpenApiTypes.STR, many=True, description="Repeat for several sources."),
            OpenApiParameter("level", OpenApiTypes.STR, many=True, enum=Level.values, description="Repeatable."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description=SINCE_HELP),
            OpenApiParameter("until", OpenApiTypes.DATETIME, description=UNTIL_HELP),
            OpenApiParameter("hourly", OpenApiTypes.BOOL, description="Add counts per hour and level."),
        ],
        responses=StatisticsSerializer,
    )
    def get(self, request):
        query = StatisticsQuerySerializer(
            data={
                **{
                    key: request.query_params.getlist(key) for key in ("source", "level") if key in request.query_params
                },
                **{
                    key: request.query_params[key]
                    for key in ("since", "until", "hourly")
                    if key in request.query_params
                },
            }
        )
        query.is_valid(raise_exception=True)
        params = query.validated_data
        stats = selectors.statistics(
            sources=params.get("source"),
            levels=params.get("level"),
            since=params.get("since"),
            until=params.get("until"),
            hourly=params["hourly"],
        )
        return Response(StatisticsSerializer(stats).data)


@extend_schema(tags=["monitoring"])
class HealthView(APIView):
    """Overall status (the worst component's) and every component's."""

    queryset = SystemHealth.objects.none()
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]

    @extend_schema(responses=OverallHealthSerializer)
    def get(self, request):
        components = list(SystemHealth.objects.all())
        overall, severity = services.overall_status(components)
        return Response(
            OverallHealthSerializer({"status": overall, "severity": severity, "components": components}).data
        )


@extend_schema(tags=["monitoring"])
class EvaluateHealthView(APIView):
    """Run a health evaluation now (staff only)."""

    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=EvaluationSerializer)
    def post(self, request):
        evaluation = services.evaluate_health()
        components = list(SystemHealth.objects.all())
        overall, severity = services.overall_status(components)
        return Response(
            EvaluationSerializer(
                {
                    "evaluated": len(evaluation.results),
                    "transitions": evaluation.transitions,
                    "overall": {"status": overall, "severity": severity, "components": components},
                }
            ).data
        )


class ChangeHealthPermission(ModelPermissions):
    """POST changes a component's health: the ``change_systemhealth`` permission (staff
    who may retire components), not DRF's default ``add``."""

    perms_map = {**ModelPermissions.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


@extend_schema(tags=["monitoring"])
class RetireComponentView(APIView):
    """Retire a component that no longer exists (decommissioned, a misspelled source): it
    leaves the overall status and evaluations until it sends logs again. Recorded as a
    transition to RETIRED; retiring a retired component changes nothing."""

    queryset = SystemHealth.objects.none()
    permission_classes = [permissions.IsAuthenticated, ChangeHealthPermission]

    @extend_schema(request=None, responses=SystemHealthSerializer)
    def post(self, request, component: str):
        try:
            # A NUL cannot be stored, so no component has one (and PostgreSQL refuses it).
            if "\x00" in component:
                raise SystemHealth.DoesNotExist
            health = services.health_retire(component=component, by=request.user)
        except SystemHealth.DoesNotExist:
            raise exceptions.NotFound(f"No component {component!r}.") from None
        return Response(SystemHealthSerializer(health).data)


@extend_schema(tags=["monitoring"])
class HealthHistoryViewSet(mixins.ListModelMixin, GenericViewSet):
    """Status changes, newest first."""

    queryset = HealthTransition.objects.all()
    serializer_class = HealthTransitionSerializer
    filterset_class = TransitionFilter
    pagination_class = NewestTransitionsFirst
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]


@extend_schema(tags=["monitoring"])
class ResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, GenericViewSet):
    """Health evaluation results, newest first."""

    queryset = MonitoringResult.objects.all()
    serializer_class = MonitoringResultSerializer
    filterset_class = ResultFilter
    pagination_class = NewestResultsFirst
    lookup_value_regex = r"\d+"
    permission_classes = [permissions.IsAuthenticated, ModelPermissions]
