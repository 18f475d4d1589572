from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path

from research import selectors, services
from research.models import AuditLog, Institution, InstitutionAPIKey, JobStatus, QACModel, UsageMetrics
from veritas.admin import BearerKeyAdmin, BearerKeyInline, ReadOnlyAdmin, TokenStateFilter
from veritas.charts import Chart, Series

# The usage page's periods, in days (?days=); usage rows older than 90 days are pruned.
USAGE_PERIODS = (7, 30, selectors.USAGE_DAYS)
SUCCESS_COLOUR, ERROR_COLOUR = "#42a5f5", "#ef5350"


class InstitutionAPIKeyInline(BearerKeyInline):
    model = InstitutionAPIKey


def usage_chart(report: selectors.UsageReport) -> Chart:
    """Requests per day, stacked: those that succeeded under those that failed (status 400 or
    above), so a bar is the day's requests. A period without requests shows the empty state."""
    days = report.days if report.total.requests else []
    return Chart(
        title="API requests per day (UTC)",
        x=[d.day for d in days],
        series=[
            Series("succeeded", [d.requests - d.errors for d in days], SUCCESS_COLOUR),
            Series("errors (status 400 or above)", [d.errors for d in days], ERROR_COLOUR),
        ],
        value_label="requests",
        empty="No requests in this period.",
        id="research-usage-chart",
    )


def usage_period(value: str | None) -> int:
    """The ?days= of the usage page: one of USAGE_PERIODS, else the default."""
    return int(value) if value in {str(days) for days in USAGE_PERIODS} else selectors.USAGE_DAYS


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    # The usage page is linked from the change page: the list has no room for another column.
    list_display = ["name", "slug", "active", "requests_per_hour", "requests_per_day", "contact_email", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "contact_name", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [InstitutionAPIKeyInline]

    def get_urls(self):
        # Before the admin's own: its "<path:object_id>/" would take "<id>/usage/" too.
        usage = path(
            "<path:object_id>/usage/",
            self.admin_site.admin_view(self.usage_view),
            name=f"{self.opts.app_label}_{self.opts.model_name}_usage",
        )
        return [usage, *super().get_urls()]

    def usage_view(self, request, object_id):
        """The institution's API usage per day (chart and table) and per route."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        institution = self.get_object(request, unquote(object_id))
        if institution is None:
            raise Http404(f"No {self.opts.verbose_name} with the id {object_id!r}.")
        if not self.has_view_permission(request, institution):
            raise PermissionDenied
        days = usage_period(request.GET.get("days"))
        report = selectors.institution_usage(institution, days=days)
        context = {
            **self.admin_site.each_context(request),
            "title": f"API usage: {institution}",
            "subtitle": None,
            "opts": self.opts,
            "object": institution,
            "days": days,
            "periods": USAGE_PERIODS,
            "report": report,
            "chart": usage_chart(report),
            "newest_first": report.days[::-1],
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/{self.opts.app_label}/{self.opts.model_name}/usage.html", context)


@admin.register(InstitutionAPIKey)
class InstitutionAPIKeyAdmin(BearerKeyAdmin):
    """Institution keys: the secret is shown once, when the key is issued."""

    list_display = ["name", "institution", "prefix", "state_badge", "created_at", "expires_at", "last_used_at"]
    list_filter = [TokenStateFilter, "institution"]
    list_select_related = ["institution"]
    search_fields = ["name", "prefix", "institution__name", "institution__slug"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["institution", "name", "expires_at"]
        return [
            "institution",
            "name",
            "prefix",
            "state_badge",
            "created_at",
            "expires_at",
            "last_used_at",
            "revoked_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["institution", "prefix", "state_badge", "created_at", "last_used_at", "revoked_at"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, value = services.issue_key(
            institution=obj.institution, name=obj.name, expires_at=obj.expires_at, actor=request.user
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        messages.warning(request, f"Copy the key now, it will not be shown again: {value}")


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """Every request to the research API, newest first; search by trace id."""

    list_display = ["at", "trace_id", "institution", "method", "route", "status", "duration_ms", "client_address"]
    list_filter = ["status", "method", "institution"]
    search_fields = ["=trace_id", "=request_id", "key_prefix"]
    date_hierarchy = "at"
    list_select_related = ["institution"]
    show_full_result_count = False
    ordering = ["-at", "-id"]


@admin.register(UsageMetrics)
class UsageMetricsAdmin(ReadOnlyAdmin):
    list_display = ["day", "institution", "route", "requests", "errors", "max_ms"]
    list_filter = ["institution"]
    date_hierarchy = "day"
    list_select_related = ["institution"]


@admin.register(QACModel)
class QACModelAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "institution", "engine", "n_rows", "n_columns", "size_bytes", "created_at"]
    list_filter = ["institution", "engine"]
    exclude = ["graph"]


@admin.register(JobStatus)
class JobStatusAdmin(ReadOnlyAdmin):
    list_display = ["id", "institution", "kind", "status", "progress", "created_at", "finished_at"]
    list_filter = ["status", "kind", "institution"]
    exclude = ["payload"]
