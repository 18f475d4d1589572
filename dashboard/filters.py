import django_filters
from django.db.models import Q

from dashboard.models import AssessmentKind, AssessmentLog, ConceptModule, Draft, DraftStatus, Student
from veritas.api.filters import BooleanFilter, DateTimeFilter, FilterSet, IdFilter, TimeRangeForm


class StudentFilter(FilterSet):
    search = django_filters.CharFilter(
        method="filter_search", help_text="Text in the name, email or external id (case-insensitive)."
    )
    cohort = IdFilter(field_name="cohorts", help_text="Students of this cohort (its id).")
    is_active = BooleanFilter()

    class Meta:
        model = Student
        fields = ["search", "cohort", "is_active"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(Q(name__icontains=value) | Q(email__icontains=value) | Q(external_id__icontains=value))


class ConceptModuleFilter(FilterSet):
    subject = django_filters.CharFilter()

    class Meta:
        model = ConceptModule
        fields = ["subject"]


SINCE_HELP = "Inclusive (taken at or after); ISO 8601 with a UTC offset."
UNTIL_HELP = "Exclusive (taken before); ISO 8601 with a UTC offset, not before since."


class AssessmentFilter(FilterSet):
    student = django_filters.UUIDFilter(field_name="student__uuid", help_text="The student's uuid.")
    subject = django_filters.CharFilter()
    kind = django_filters.ChoiceFilter(choices=AssessmentKind.choices)
    since = DateTimeFilter(field_name="taken_at", lookup_expr="gte", help_text=SINCE_HELP)
    until = DateTimeFilter(field_name="taken_at", lookup_expr="lt", help_text=UNTIL_HELP)

    class Meta:
        model = AssessmentLog
        fields = ["student", "subject", "kind", "since", "until"]
        form = TimeRangeForm


class DraftFilter(FilterSet):
    student = django_filters.UUIDFilter(field_name="student__uuid", help_text="The student's uuid.")
    status = django_filters.ChoiceFilter(choices=DraftStatus.choices)

    class Meta:
        model = Draft
        fields = ["student", "status"]
