from rest_framework import serializers

from monitoring.filters import SINCE_HELP, UNTIL_HELP
from monitoring.ingest import MAX_MESSAGE_LENGTH
from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status, SystemHealth
from veritas.api.filters import range_problem
from veritas.api.schema import closed
from veritas.api.serializers import UTCDateTimeField


@closed
class LogEntryInSerializer(serializers.Serializer):
    """The shape of one row of ``POST logs/``, for the schema only: rows are validated by
    ``monitoring.ingest.LogEntry`` (a test keeps the two in step)."""

    source = serializers.CharField(max_length=100)
    level = serializers.ChoiceField(choices=Level.choices)
    message = serializers.CharField(max_length=MAX_MESSAGE_LENGTH, allow_blank=True)
    timestamp = serializers.DateTimeField(
        required=False, allow_null=True, help_text="With a UTC offset; defaults to the time of receipt."
    )
    metadata = serializers.DictField(required=False, help_text="Any JSON object.")
    event_id = serializers.CharField(
        max_length=100, required=False, allow_null=True, help_text="Unique per source: re-sent rows are skipped."
    )


class IngestResultSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    inserted = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Rows skipped because their (source, event_id) was stored.")


class LogSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringLog
        fields = ["id", "source", "level", "message", "timestamp", "received_at", "metadata", "event_id"]


class StatisticsQuerySerializer(serializers.Serializer):
    source = serializers.ListField(child=serializers.CharField(max_length=100, trim_whitespace=False), required=False)
    level = serializers.ListField(child=serializers.ChoiceField(choices=Level.choices), required=False)
    since = UTCDateTimeField(required=False, help_text=SINCE_HELP)
    until = UTCDateTimeField(required=False, help_text=UNTIL_HELP)
    hourly = serializers.BooleanField(required=False, default=False, help_text="Add counts per hour and level.")

    def validate(self, attrs):
        if problem := range_problem(attrs.get("since"), attrs.get("until")):
            raise serializers.ValidationError({"until": [problem]})
        return attrs


class HourlyCountSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    debug = serializers.IntegerField()
    info = serializers.IntegerField()
    warning = serializers.IntegerField()
    error = serializers.IntegerField()
    critical = serializers.IntegerField()


class StatisticsSerializer(serializers.Serializer):
    total_logs = serializers.IntegerField(source="total", help_text="Logs stored now (pruned logs are not counted).")
    status_distribution = serializers.DictField(child=serializers.IntegerField(), source="by_level")
    source_distribution = serializers.DictField(child=serializers.IntegerField(), source="by_source")
    oldest_log = serializers.DateTimeField(source="oldest", allow_null=True)
    newest_log = serializers.DateTimeField(source="newest", allow_null=True)
    hourly = HourlyCountSerializer(many=True, required=False, allow_null=True)


class SystemHealthSerializer(serializers.ModelSerializer):
    class Meta:
        model = SystemHealth
        fields = [
            "component",
            "status",
            "severity",
            "reason",
            "since",
            "evaluated_at",
            "pending_status",
            "pending_since",
        ]


class OverallHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices, help_text="The worst component's status.")
    severity = serializers.FloatField(help_text="The highest component severity, 0 to 1.")
    components = SystemHealthSerializer(many=True)


class HealthTransitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = HealthTransition
        fields = ["id", "component", "old_status", "new_status", "severity", "reason", "at"]


class MonitoringResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = MonitoringResult
        fields = [
            "id",
            "source",
            "window_start",
            "window_end",
            "counts",
            "total",
            "error_rate",
            "severity",
            "status",
            "thresholds",
            "evaluated_at",
        ]


class EvaluationSerializer(serializers.Serializer):
    evaluated = serializers.IntegerField(help_text="Components evaluated.")
    transitions = HealthTransitionSerializer(many=True)
    overall = OverallHealthSerializer()
