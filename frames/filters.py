import django_filters
from django.db.models import Q

from frames.models import (
    Departure,
    EntityKind,
    Interface,
    Level,
    Module,
    ModuleAnalyticsEvent,
    ModuleAssignment,
    ModuleFeedback,
    ModuleSection,
    Outcome,
    Project,
    Student,
    Team,
)
from veritas.api.filters import BooleanFilter, FilterSet, IdFilter, IntegerFilter


class ProjectFilter(FilterSet):
    university = IdFilter(help_text="The university's id.")
    consortium = BooleanFilter(
        field_name="university", lookup_expr="isnull", help_text="true: consortium projects only (no university)."
    )

    class Meta:
        model = Project
        fields = ["university", "consortium"]


class TeamFilter(FilterSet):
    university = IdFilter(help_text="The university's id.")
    project = IdFilter(help_text="The project's id.")

    class Meta:
        model = Team
        fields = ["university", "project"]


class StudentFilter(FilterSet):
    university = IdFilter(help_text="The university's id.")
    team = IdFilter(help_text="The team's id.")
    status = django_filters.ChoiceFilter(choices=Student.Status.choices)
    active = BooleanFilter()

    class Meta:
        model = Student
        fields = ["university", "team", "status", "active"]


class DepartureFilter(FilterSet):
    university = IdFilter(help_text="The university's id.")
    team = IdFilter(help_text="The team's id.")

    class Meta:
        model = Departure
        fields = ["university", "team"]


class OutcomeFilter(FilterSet):
    university = IdFilter(help_text="The university's id.")
    project = IdFilter(help_text="The project's id.")
    outcome_type = django_filters.ChoiceFilter(choices=Outcome.Type.choices)
    cohort_year = IntegerFilter()

    class Meta:
        model = Outcome
        fields = ["university", "project", "outcome_type", "cohort_year"]


class InterfaceFilter(FilterSet):
    model = django_filters.CharFilter(
        method="filter_model", help_text="A factor model's name or id (default: the active model)."
    )
    university = IdFilter(method="filter_university", help_text="Interfaces with an end at this university (its id).")
    interface_type = django_filters.ChoiceFilter(choices=Interface.Type.choices)
    cross_university = BooleanFilter()
    kind = django_filters.ChoiceFilter(
        choices=EntityKind.choices, method="filter_kind", help_text="Interfaces with an end of this kind."
    )
    level = django_filters.ChoiceFilter(
        choices=Level.choices, method="filter_level", help_text="At this level under the model asked for."
    )

    class Meta:
        model = Interface
        fields = ["model", "university", "interface_type", "cross_university", "kind", "level"]

    def filter_model(self, queryset, name, value):
        return queryset  # the view computes the loss under it (frames.views.InterfaceViewSet)

    def filter_university(self, queryset, name, value):
        return queryset.filter(Q(from_university_id=value) | Q(to_university_id=value))

    def filter_kind(self, queryset, name, value):
        return queryset.filter(Q(from_kind=value) | Q(to_kind=value))

    def filter_level(self, queryset, name, value):
        return queryset.filter(level=value)  # the view annotates every interface with its level


class ModuleFilter(FilterSet):
    key = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=Module.Status.choices)
    university = IdFilter(help_text="The university's id.")
    category = django_filters.CharFilter()

    class Meta:
        model = Module
        fields = ["key", "status", "university", "category"]


class SectionFilter(FilterSet):
    module = IdFilter(help_text="The module's id.")

    class Meta:
        model = ModuleSection
        fields = ["module"]


class AssignmentFilter(FilterSet):
    module = IdFilter(help_text="The module's id.")
    student = IdFilter(help_text="The student's id.")
    required = BooleanFilter()

    class Meta:
        model = ModuleAssignment
        fields = ["module", "student", "required"]


class FeedbackFilter(FilterSet):
    module = IdFilter(help_text="The module's id.")
    student = IdFilter(help_text="The student's id.")

    class Meta:
        model = ModuleFeedback
        fields = ["module", "student"]


class EventFilter(FilterSet):
    module = IdFilter(help_text="The module's id.")
    student = IdFilter(help_text="The student's id.")
    event_type = django_filters.ChoiceFilter(choices=ModuleAnalyticsEvent.Type.choices)

    class Meta:
        model = ModuleAnalyticsEvent
        fields = ["module", "student", "event_type"]
