import django_filters

from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status
from veritas.api.filters import DateTimeFilter, FilterSet


class LogFilter(FilterSet):
    source = django_filters.CharFilter()
    level = django_filters.MultipleChoiceFilter(choices=Level.choices, help_text="Repeat for several levels.")
    since = DateTimeFilter(field_name="timestamp", lookup_expr="gte", help_text="Inclusive.")
    until = DateTimeFilter(field_name="timestamp", lookup_expr="lt", help_text="Exclusive.")
    search = django_filters.CharFilter(
        field_name="message",
        lookup_expr="icontains",
        help_text="Text in the message (scans the rows the other filters select: narrow them first).",
    )

    class Meta:
        model = MonitoringLog
        fields = ["source", "level", "since", "until", "search"]


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
