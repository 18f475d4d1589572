from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import relations, serializers

from veritas.api.schema import closed, trimmed
from veritas.models import ActionLog
from veritas.utc import to_utc, utc_problem

# The JSON types a field takes (the first class that matches decides). DRF's fields coerce
# (5 for a text, "yes" for a boolean, 2.0 for a whole number): a request body here is JSON,
# and a value of another type than the schema's is a mistake to report, not to guess at.
JSON_TYPES = [
    (serializers.BooleanField, (bool,), "Expected true or false."),
    (serializers.IntegerField, (int,), "Expected a whole number."),
    (serializers.FloatField, (int, float), "Expected a number."),
    (serializers.DecimalField, (str, int, float), "Expected a number or a numeric string."),
    (serializers.ListField, (list,), "Expected an array."),
    (relations.ManyRelatedField, (list,), "Expected an array."),
    (serializers.DictField, (dict,), "Expected an object."),
    (serializers.CharField, (str,), "Expected a string."),
    (serializers.DateTimeField, (str,), "Expected a string."),
    (serializers.UUIDField, (str,), "Expected a string."),
]


def json_type_problem(field, value) -> str | None:
    if value is None:
        return None  # the field's allow_null decides
    for field_class, types, message in JSON_TYPES:
        if isinstance(field, field_class):
            wrong = not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
            if wrong:
                return message
            break
    # The schema's maxLength is of the value sent; DRF measures it once stripped.
    maximum = getattr(field, "max_length", None)
    if isinstance(field, serializers.CharField) and maximum is not None and len(value) > maximum:
        return f"Ensure this field has no more than {maximum} characters."
    return None


class StrictSerializer(serializers.Serializer):
    """A request body serializer that refuses unknown fields (a typo is a 400 naming it, not
    silently ignored), and values of another JSON type than the field's (JSON_TYPES); the
    schema says so (additionalProperties: false; veritas.api.schema.trimmed)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        closed(cls)
        trimmed(cls)

    def to_internal_value(self, data):
        if hasattr(data, "keys"):
            problems = {name: ["Unknown field."] for name in sorted(set(data) - set(self.fields))}
            for name, field in self.fields.items():
                if name in data and not field.read_only and (problem := json_type_problem(field, data[name])):
                    problems[name] = [problem]
            if problems:
                raise serializers.ValidationError(problems)
        return super().to_internal_value(data)


class ManyRelatedField(relations.ManyRelatedField):
    """``many=True`` of a related field, taking a JSON array only: DRF's own takes any
    iterable, so that an object ``{"a": 1}`` would read as the list of its keys."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


class StrictRelatedField(relations.RelatedField):
    """A related field whose ``many=True`` is a ManyRelatedField above, and for which an
    empty string is not "null" (DRF reads it so for HTML forms; this API takes JSON)."""

    @classmethod
    def many_init(cls, *args, **kwargs):
        list_kwargs = {"child_relation": cls(*args, **kwargs)}
        list_kwargs.update({key: value for key, value in kwargs.items() if key in relations.MANY_RELATION_KWARGS})
        return ManyRelatedField(**list_kwargs)

    def run_validation(self, data=serializers.empty):
        if data == "":  # DRF's RelatedField would take it as null
            self.fail("does_not_exist", pk_value=data, slug_name=getattr(self, "slug_field", "pk"), value=data)
        return super().run_validation(data)


class PrimaryKeyRelatedField(StrictRelatedField, relations.PrimaryKeyRelatedField):
    pass


class LookupField(StrictRelatedField, relations.SlugRelatedField):
    """A related object named by a unique field other than its id (a username, a uuid, a
    code). A value that field cannot hold (a malformed uuid, a NUL character) reads as
    "does not exist", like any unknown value, rather than reaching the database."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        if isinstance(data, str):
            if "\x00" in data:
                self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
            try:
                self.get_queryset().model._meta.get_field(self.slug_field).to_python(data)
            except DjangoValidationError:
                self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class StringListField(serializers.ListField):
    """A JSON array of strings: DRF's ListField of CharField would take ``0`` as ``"0"``."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", serializers.CharField())
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, list):
            for index, item in enumerate(data):
                if not isinstance(item, str):
                    raise serializers.ValidationError({index: ["Not a string."]})
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
