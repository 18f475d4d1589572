import django_filters

from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status
from veritas.api.filters import DateTimeFilter, FilterSet, TimeRangeForm

SINCE_HELP = "Inclusive; ISO 8601 with a UTC offset (Z, +05:30), as log timestamps."
UNTIL_HELP = "Exclusive; ISO 8601 with a UTC offset, not before since."


class LogFilter(FilterSet):
    source = django_filters.CharFilter()
    level = django_filters.MultipleChoiceFilter(choices=Level.choices, help_text="Repeat for several levels.")
    since = DateTimeFilter(field_name="timestamp", lookup_expr="gte", help_text=SINCE_HELP)
    until = DateTimeFilter(field_name="timestamp", lookup_expr="lt", help_text=UNTIL_HELP)
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
