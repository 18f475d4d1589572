from rest_framework import serializers

from veritas.api.schema import closed
from veritas.models import ActionLog
from veritas.utc import to_utc, utc_problem


class StrictSerializer(serializers.Serializer):
    """A request body serializer that refuses unknown fields (a typo is a 400 naming it, not
    silently ignored); the schema says so (additionalProperties: false)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        closed(cls)

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if hasattr(data, "keys") else []
        if unknown:
            raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)


class UTCDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset, taken in UTC; refused without one (DRF would read it in the
    server's time zone), as the API's time filters and ingestion refuse it."""

    def enforce_timezone(self, value):
        if problem := utc_problem(value):
            raise serializers.ValidationError(problem, code="invalid")
        return to_utc(value)


class ActionLogSerializer(serializers.ModelSerializer):
    """One audit entry (veritas/audit.py)."""

    actor = serializers.CharField(source="actor_name", help_text="The actor's username at the time, or the command.")
    actor_id = serializers.IntegerField(allow_null=True, help_text="The acting user's id (kept if they are deleted).")

    class Meta:
        model = ActionLog
        fields = [
            "id",
            "at",
            "actor",
            "actor_id",
            "via",
            "verb",
            "object_type",
            "object_id",
            "object_repr",
            "changes",
            "scope_type",
            "scope_id",
            "request_id",
            "client_address",
        ]
        read_only_fields = fields
