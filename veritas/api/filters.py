from datetime import UTC

import django_filters
from django.core.exceptions import ValidationError


class FilterSet(django_filters.FilterSet):
    """The base of every API filter set: a parameter sent with an empty value
    (``?until=``) is a 400 naming it, not silently "no filter" as in HTML forms."""

    def is_valid(self):
        valid = super().is_valid()
        getlist = getattr(self.data, "getlist", lambda key: [self.data.get(key)])
        for name in self.filters:
            if name in self.data and any(value in ("", None) for value in getlist(name)):
                if name in self.form.fields and name not in self.form.errors:
                    self.form.add_error(name, "May not be empty.")
                valid = False
        return valid


class UTCDateTimeField(django_filters.fields.IsoDateTimeField):
    """ISO 8601, converted to UTC: PostgreSQL refuses offsets beyond ±15:59 that Python
    accepts, and a value that leaves the calendar once in UTC is a 400, not a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None or value.tzinfo is None:
            return value
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValidationError("Out of range once converted to UTC.", code="overflow") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField
