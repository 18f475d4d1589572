"""The dropout admin: the risk list (predictions, highest first, with their reasons), a model's
page (its card: metrics, ROC curve, calibration plot, the metrics per group) and the learning
data, read-only. Rows are scoped as in the API (``visible_to``); writes happen through the
commands and the API (imports, training, predictions), which audit them."""

from __future__ import annotations

import numpy as np
from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from dropout import training
from dropout.models import (
    Course,
    DropoutModel,
    DropoutPrediction,
    Enrollment,
    Presentation,
    is_support_staff,
)
from veritas import formats
from veritas.admin import CSS
from veritas.charts import Chart, Series

GROUP_LABELS = {"gender": "gender", "disability": "disability", "age_band": "age band", "imd_band": "IMD band"}


def band_badge(band: str | None):
    if not band:
        return formats.MISSING
    return format_html('<span class="veritas-badge veritas-badge-risk-{}">{} risk</span>', band, band)


def reasons_list(reasons: list[dict], limit: int = 3):
    if not reasons:
        return format_html('<span class="veritas-quiet">{}</span>', "no risk-raising feature")
    return format_html(
        '<ul class="dropout-reasons">{}</ul>',
        format_html_join("", "<li>{}</li>", ((reason["text"],) for reason in reasons[:limit])),
    )


def may_see_risk(request) -> bool:
    user = request.user
    return user.is_active and (user.is_staff or is_support_staff(user))


class ReadOnly:
    """Scoped, read-only admin pages (writes go through commands and the API)."""

    class Media:
        css = CSS

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PresentationFilter(admin.SimpleListFilter):
    title = "presentation"
    parameter_name = "presentation"
    field = "enrollment__presentation"

    def lookups(self, request, model_admin):
        return [(p.pk, str(p)) for p in Presentation.objects.select_related("course").order_by("-start_date", "course")]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field: self.value()}) if self.value() else queryset


@admin.register(DropoutPrediction)
class PredictionAdmin(ReadOnly, admin.ModelAdmin):
    """The risk list: a presentation's predictions, highest probability first."""

    list_display = ["student_link", "presentation", "band_badge", "probability_text", "top_reasons", "target"]
    list_display_links = ["presentation"]  # the prediction's page; the student's name opens the dashboard
    list_filter = [PresentationFilter, "band", "model__target", "cutoff_day"]
    search_fields = ["enrollment__student__name", "enrollment__student__external_id"]
    list_per_page = 50
    ordering = ["-probability", "id"]
    fields = ["student_link", "presentation", "model", "cutoff_day", "band_badge", "probability_text", "all_reasons"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            DropoutPrediction.objects.visible_to(request.user)
            .select_related("enrollment__student", "enrollment__presentation__course", "model")
            .defer("model__artefact", "model__card", "model__parameters")
        )

    def has_module_permission(self, request):
        return may_see_risk(request)

    def has_view_permission(self, request, obj=None):
        return may_see_risk(request)

    @admin.display(description="student", ordering="enrollment__student__name")
    def student_link(self, obj):
        student = obj.enrollment.student
        return format_html(
            '<a href="{}" title="the student\'s dashboard page">{}</a> <span class="veritas-quiet">{}</span>',
            reverse("admin:dashboard_student_change", args=[student.pk]),
            student.name,
            student.external_id,
        )

    @admin.display(description="presentation", ordering="enrollment__presentation__start_date")
    def presentation(self, obj):
        return str(obj.enrollment.presentation)

    @admin.display(description="band", ordering="probability")
    def band_badge(self, obj):
        return band_badge(obj.band)

    @admin.display(description="probability", ordering="probability")
    def probability_text(self, obj):
        return formats.percent(obj.probability, 0)

    @admin.display(description="top reasons")
    def top_reasons(self, obj):
        return reasons_list(obj.reasons, limit=2)

    @admin.display(description="reasons (strongest first)")
    def all_reasons(self, obj):
        return reasons_list(obj.reasons, limit=10)

    @admin.display(description="target", ordering="model__target")
    def target(self, obj):
        return obj.model.get_target_display()


@admin.register(DropoutModel)
class ModelAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["name", "target", "cutoff_day", "is_active", "auc", "brier", "trained_at"]
    list_filter = ["target", "cutoff_day", "is_active"]
    actions = ["activate"]
    change_form_template = "admin/dropout/dropoutmodel/change_form.html"
    fields = [
        "name",
        "target",
        "cutoff_day",
        "algorithm",
        "train_presentations",
        "validation_presentations",
        "threshold_medium",
        "threshold_high",
        "sha256",
        "trained_at",
        "trained_by",
        "is_active",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("artefact")

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_activate_permission(self, request):
        return request.user.has_perm("dropout.change_dropoutmodel")

    @admin.display(description="ROC AUC")
    def auc(self, obj):
        return formats.number(obj.metrics.get("roc_auc"), 3)

    @admin.display(description="Brier")
    def brier(self, obj):
        return formats.number(obj.metrics.get("brier"), 3)

    @admin.action(
        description="Make the selected model the active one for its target and cut-off", permissions=["activate"]
    )
    def activate(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one model to activate.", messages.ERROR)
            return
        model = queryset.get()
        training.activate_model(model, actor=request.user)
        self.message_user(request, f"{model} is now active.", messages.SUCCESS)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["card"] = card_context(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)


def card_context(model: DropoutModel) -> dict:
    card = model.card
    return {
        "card": card,
        "metrics": card["metrics"],
        "roc": roc_chart(card.get("roc", [])),
        "calibration": calibration_chart(card.get("calibration", [])),
        "groups": [
            {
                "name": GROUP_LABELS.get(group, group),
                "rows": rows,
                "chart": group_chart(GROUP_LABELS.get(group, group), rows),
            }
            for group, rows in card.get("groups", {}).items()
        ],
        "min_group": training.MIN_GROUP,
    }


GRID = [round(step / 20, 2) for step in range(21)]


def roc_chart(points: list[list[float]]) -> Chart:
    """The ROC curve on an even grid of false-positive rates (interpolated), with chance."""
    title = "ROC curve: share of positives found (true-positive rate) by share of negatives flagged"
    if not points:
        return Chart(title=title, x=[], series=[], kind="lines", id="dropout-roc")
    fpr, tpr = (np.array(values) for values in zip(*points, strict=True))
    curve = np.interp(GRID, fpr, tpr)
    return Chart(
        title=title,
        x=[f"{value:.2f}" for value in GRID],
        series=[
            Series("model", [round(float(v), 3) for v in curve], "#1565c0"),
            Series("chance", GRID, "#9e9e9e"),
        ],
        kind="lines",
        y_range=(0, 1),
        decimals=2,
        id="dropout-roc",
    )


def calibration_chart(rows: list[dict]) -> Chart:
    return Chart(
        title="Calibration: predicted and observed rate per tenth of probability",
        x=[f"{row['from']:.1f}-{row['to']:.1f}" for row in rows],
        series=[
            Series("mean predicted", [row["mean_predicted"] for row in rows], "#1565c0"),
            Series("observed", [row["observed_rate"] for row in rows], "#ef6c00"),
        ],
        kind="lines",
        y_range=(0, 1),
        decimals=2,
        id="dropout-calibration",
    )


def group_chart(name: str, rows: list[dict]) -> Chart:
    return Chart(
        title=f"ROC AUC by {name}",
        x=[str(row["value"]) for row in rows],
        series=[Series("ROC AUC", [row["roc_auc"] for row in rows], "#1565c0")],
        kind="bars",
        y_range=(0, 1),
        decimals=3,
        height=160,
        id=f"dropout-group-{name.replace(' ', '-').lower()}",
    )


@admin.register(Enrollment)
class EnrollmentAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["student", "presentation", "registered_day", "unregistered_day", "final_result"]
    list_filter = ["final_result", "presentation__course", "presentation__code"]
    search_fields = ["student__name", "student__external_id"]
    list_select_related = ["student", "presentation__course"]

    def get_queryset(self, request):
        return Enrollment.objects.visible_to(request.user)

    def has_module_permission(self, request):
        return may_see_risk(request)

    def has_view_permission(self, request, obj=None):
        return may_see_risk(request)


@admin.register(Presentation)
class PresentationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["__str__", "start_date", "length_days"]
    list_filter = ["course"]


@admin.register(Course)
class CourseAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["code", "title"]
