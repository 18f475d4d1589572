from rest_framework import serializers

from veritas.api.schema import closed


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
