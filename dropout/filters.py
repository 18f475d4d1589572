import django_filters
from drf_spectacular.utils import extend_schema_field

from dropout.models import Band, DropoutModel, DropoutPrediction, Enrollment, Result, Target
from veritas.api.filters import BooleanFilter, FilterSet, IdFilter, IntegerFilter

MAX_DAY = 9999


@extend_schema_field({"type": "integer", "minimum": 0, "maximum": MAX_DAY})
class CutoffDayFilter(IntegerFilter):
    """A cut-off day: days from a presentation's start, 0 or more."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=0, max_value=MAX_DAY, **kwargs)


class EnrollmentFilter(FilterSet):
    presentation = IdFilter(help_text="Enrolments on this presentation (its id).")
    result = django_filters.ChoiceFilter(
        field_name="final_result", choices=[*Result.choices, ("none", "none (running)")], method="filter_result"
    )
    band = django_filters.ChoiceFilter(
        choices=Band.choices, field_name="risk_band", help_text="The latest prediction's band."
    )

    class Meta:
        model = Enrollment
        fields = ["presentation", "result", "band"]

    def filter_result(self, queryset, name, value):
        return queryset.filter(final_result="" if value == "none" else value)


class PredictionFilter(FilterSet):
    presentation = IdFilter(
        field_name="enrollment__presentation", help_text="Predictions for this presentation (its id)."
    )
    band = django_filters.ChoiceFilter(choices=Band.choices)
    cutoff_day = CutoffDayFilter()
    target = django_filters.ChoiceFilter(field_name="model__target", choices=Target.choices)
    model = IdFilter(help_text="Predictions of this model (its id).")

    class Meta:
        model = DropoutPrediction
        fields = ["presentation", "band", "cutoff_day", "target", "model"]


class ModelFilter(FilterSet):
    target = django_filters.ChoiceFilter(choices=Target.choices)
    cutoff_day = CutoffDayFilter()
    is_active = BooleanFilter()

    class Meta:
        model = DropoutModel
        fields = ["target", "cutoff_day", "is_active"]
