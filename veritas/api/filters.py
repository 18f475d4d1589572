from collections.abc import Iterable
from datetime import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError as FormValidationError
from django.utils.dateparse import parse_datetime
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError

from veritas.models import ActionLog
from veritas.utc import to_utc, utc_problem


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
    """ISO 8601 with a UTC offset, converted to UTC (veritas/utc.py): a value without an
    offset, or one that leaves the calendar once in UTC, is a 400, not a guess or a 500."""

    def to_python(self, value):
        parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        if parsed is not None and (problem := utc_problem(parsed)):
            raise FormValidationError(problem, code="invalid")
        value = super().to_python(value)
        return to_utc(value) if value is not None else None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """``true`` or ``false`` (also 1 and 0, any case); anything else is a 400, where Django's
    field would read it as "unknown" and the filter would silently not apply."""

    widget = forms.TextInput
    values = {"true": True, "1": True, "false": False, "0": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, str) and value.strip().lower() in self.values:
            return self.values[value.strip().lower()]
        raise FormValidationError("Expected true or false.", code="invalid")

    def validate(self, value):
        pass


class BooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


BIGINT_MAX = 2**63 - 1


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": BIGINT_MAX})
class IdFilter(django_filters.NumberFilter):
    """A whole-number id (a decimal or an id no table can hold is a 400, not a guess)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=BIGINT_MAX, **kwargs)


class IntegerFilter(django_filters.NumberFilter):
    """A whole number (``70.5`` is a 400); pass ``min_value`` / ``max_value``."""

    field_class = forms.IntegerField


def range_problem(since: datetime | None, until: datetime | None) -> str | None:
    """``until`` before ``since`` is a mistake, not an empty answer."""
    if since is not None and until is not None and until < since:
        return "Must not be before since."
    return None


class TimeRangeForm(forms.Form):
    """The form of a filter set with ``since`` and ``until``: ``until`` before ``since`` is a
    400 naming ``until``."""

    def clean(self):
        cleaned = super().clean()
        if problem := range_problem(cleaned.get("since"), cleaned.get("until")):
            self.add_error("until", problem)
        return cleaned


class ActionFilter(FilterSet):
    """The audit trail's filters (veritas.api.views.ActionViewSet)."""

    actor = django_filters.CharFilter(field_name="actor_name", help_text="The actor's username at the time.")
    verb = django_filters.CharFilter(help_text="create, update, delete, import, submit, …")
    object_type = django_filters.CharFilter(help_text="app_label.model, e.g. dashboard.student.")
    object_id = django_filters.CharFilter()
    since = DateTimeFilter(field_name="at", lookup_expr="gte", help_text="Inclusive; ISO 8601 with a UTC offset.")
    until = DateTimeFilter(
        field_name="at", lookup_expr="lt", help_text="Exclusive; ISO 8601 with a UTC offset, not before since."
    )

    class Meta:
        model = ActionLog
        fields = ["actor", "verb", "object_type", "object_id", "since", "until"]
        form = TimeRangeForm


# DRF's URL_FORMAT_OVERRIDE: every endpoint accepts ?format=json.
ALWAYS_ALLOWED = frozenset({"format"})


def reject_unknown_query_params(request, allowed: Iterable[str]) -> None:
    """A query parameter the endpoint does not know is a 400 naming it: a typo such as
    ``?sorce=api`` must not silently return everything."""
    unknown = sorted(set(request.query_params) - ALWAYS_ALLOWED - set(allowed))
    if unknown:
        raise ValidationError({name: ["Unknown query parameter."] for name in unknown})


def pagination_query_params(view) -> set[str]:
    paginator = getattr(view, "paginator", None)
    if paginator is None:
        return set()
    return {
        getattr(paginator, name)
        for name in dir(paginator)
        if name.endswith("_query_param") and isinstance(getattr(paginator, name), str)
    }


class FilterBackend(DjangoFilterBackend):
    """django-filter's backend (the API's default), refusing query parameters that are
    neither a filter of the view nor its pagination's. Runs for lists and for detail views
    (``get_object`` filters the queryset too)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        filters = set(filterset_class.base_filters) if filterset_class else set()
        reject_unknown_query_params(request, filters | pagination_query_params(view))
        return super().filter_queryset(request, queryset, view)
