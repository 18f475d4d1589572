from django.contrib import admin, messages

from research import services
from research.models import AuditLog, Institution, InstitutionAPIKey, JobStatus, QACModel, UsageMetrics
from veritas.admin import BearerKeyAdmin, ReadOnlyAdmin, TokenStateFilter


class InstitutionAPIKeyInline(admin.TabularInline):
    model = InstitutionAPIKey
    extra = 0
    can_delete = False
    fields = ["name", "prefix", "created_at", "expires_at", "last_used_at", "revoked_at"]
    readonly_fields = fields
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "active", "requests_per_hour", "requests_per_day", "contact_email", "created_at"]
    list_filter = ["active"]
    search_fields = ["name", "slug", "contact_name", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [InstitutionAPIKeyInline]


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
