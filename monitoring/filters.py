from datetime import datetime

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status
from veritas.api.filters import DateTimeFilter, FilterSet, UTCDateTimeField
from veritas.utc import to_utc

SINCE_HELP = "Inclusive; ISO 8601 with a UTC offset (Z, +05:30), as log timestamps."
UNTIL_HELP = "Exclusive; ISO 8601 with a UTC offset, not before since."


def utc_problem(value: datetime) -> str | None:
    """Why a time filter cannot be taken in UTC (no offset, as ingestion refuses a timestamp
    without one; off the calendar once converted); None when it can."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "Needs a UTC offset, e.g. 2026-11-20T10:00:00Z or +05:30."
    try:
        to_utc(value)
    except ValueError:
        return "Out of range once converted to UTC."
    return None


def range_problem(since: datetime | None, until: datetime | None) -> str | None:
    """``until`` before ``since`` is a mistake, not an empty answer."""
    if since is not None and until is not None and until < since:
        return "Must not be before since."
    return None


class AwareDateTimeField(UTCDateTimeField):
    """The API's UTC time filter, refusing a value without a UTC offset (Django's forms
    would read it in the server's time zone)."""

    def to_python(self, value):
        parsed = parse_datetime(value.strip()) if isinstance(value, str) else None
        if parsed is not None and (problem := utc_problem(parsed)):
            raise ValidationError(problem, code="invalid")
        return super().to_python(value)


class AwareDateTimeFilter(DateTimeFilter):
    field_class = AwareDateTimeField


class TimeRangeForm(forms.Form):
    def clean(self):
        cleaned = super().clean()
        if problem := range_problem(cleaned.get("since"), cleaned.get("until")):
            self.add_error("until", problem)
        return cleaned


class LogFilter(FilterSet):
    source = django_filters.CharFilter()
    level = django_filters.MultipleChoiceFilter(choices=Level.choices, help_text="Repeat for several levels.")
    since = AwareDateTimeFilter(field_name="timestamp", lookup_expr="gte", help_text=SINCE_HELP)
    until = AwareDateTimeFilter(field_name="timestamp", lookup_expr="lt", help_text=UNTIL_HELP)
    search = django_filters.CharFilter(
        field_name="message",
        lookup_expr="icontains",
        help_text="Text in the message (scans the rows the other filters select: narrow them first).",
    )

    class Meta:
        model = MonitoringLog
        fields = ["source", "level", "since", "until", "search"]
        form = TimeRangeForm


class TransitionFilter(FilterSet):
    component = django_filters.CharFilter()

    class Meta:
        model = HealthTransition
        fields = ["component"]


class ResultFilter(FilterSet):
    source = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=Status.choices)

    class Meta:
        model = MonitoringResult
        fields = ["source", "status"]
