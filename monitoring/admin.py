from datetime import UTC, datetime, timedelta

from django.contrib import admin, messages
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from monitoring import selectors, services
from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status, SystemHealth

STATUS_COLOURS = {
    Status.NORMAL: "#2e7d32",
    Status.UNKNOWN: "#757575",
    Status.WARNING: "#ef6c00",
    Status.CRITICAL: "#c62828",
}
LEVEL_COLOURS = {
    Level.DEBUG: "#90a4ae",
    Level.INFO: "#42a5f5",
    Level.WARNING: "#ffa726",
    Level.ERROR: "#ef5350",
    Level.CRITICAL: "#8e24aa",
}
CHART_DAYS = 7


def badge(text: str, colour: str):
    return format_html(
        '<span class="veritas-badge" style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'font-weight:600;font-size:11px">{}</span>',
        colour,
        text,
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the monitoring services: staff read them, never edit them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SourceFilter(admin.SimpleListFilter):
    """Sources from the rollup: no DISTINCT over millions of logs."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(source, source) for source in selectors.known_sources()]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


def hourly_chart(hourly: list[dict], width: int = 960, height: int = 160):
    """Stacked bars of logs per hour and level, as inline SVG (no script: CSP-safe)."""
    if not hourly:
        return format_html('<p class="veritas-chart-empty">{}</p>', "No logs in this range.")
    peak = max(sum(bucket[level] for level in Level.values) for bucket in hourly) or 1
    bar = width / len(hourly)
    rects = []
    for index, bucket in enumerate(hourly):
        y = height
        for level in Level.values:
            if not bucket[level]:
                continue
            h = bucket[level] / peak * (height - 10)
            y -= h
            rects.append(
                (
                    f"{index * bar:.2f}",
                    f"{y:.2f}",
                    f"{max(bar - 1, 0.5):.2f}",
                    f"{h:.2f}",
                    LEVEL_COLOURS[level],
                    f"{bucket['hour']:%Y-%m-%d %H:00} {level}: {bucket[level]}",
                )
            )
    bars = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}</title></rect>', rects)
    legend = format_html_join(
        " ", '<span style="color:{}">&#9632;</span> {}', ((LEVEL_COLOURS[lv], lv) for lv in Level.values)
    )
    return format_html(
        '<svg class="veritas-chart" role="img" aria-label="Logs per hour by level" viewBox="0 0 {} {}" '
        'width="100%" height="{}" preserveAspectRatio="none">{}</svg><p class="veritas-legend">{} '
        "&nbsp;·&nbsp; {} to {} (UTC), peak {} logs/hour</p>",
        width,
        height,
        height,
        bars,
        legend,
        f"{hourly[0]['hour']:%Y-%m-%d %H:00}",
        f"{hourly[-1]['hour']:%Y-%m-%d %H:00}",
        peak,
    )


@admin.register(MonitoringLog)
class MonitoringLogAdmin(ReadOnlyAdmin):
    list_display = ["timestamp", "source", "level_badge", "short_message", "event_id"]
    list_filter = [SourceFilter, "level"]
    search_fields = ["message"]
    date_hierarchy = "timestamp"
    ordering = ["-timestamp", "-id"]
    show_full_result_count = False  # no COUNT(*) over the whole table
    list_per_page = 100
    change_list_template = "admin/monitoring/monitoringlog/change_list.html"

    @admin.display(description="level", ordering="level")
    def level_badge(self, obj):
        return badge(obj.level, LEVEL_COLOURS[obj.level])

    @admin.display(description="message")
    def short_message(self, obj):
        return obj.message if len(obj.message) <= 120 else obj.message[:119] + "…"

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            response.context_data["monitoring"] = self.summary(request, changelist.queryset)
        return response

    # Changelist parameters the rollup can answer: everything else (a search) needs the logs.
    ROLLUP_PARAMETERS = {"source", "level__exact", "timestamp__year", "timestamp__month", "timestamp__day", "o", "p"}

    def summary(self, request, queryset) -> dict:
        """KPIs and the hourly chart of the filtered logs (their last CHART_DAYS days), in SQL:
        from the rollup when only source, level and dates are filtered, else from the logs."""
        try:
            if not set(request.GET) <= self.ROLLUP_PARAMETERS:
                raise ValueError("filters the rollup cannot answer")
            newest, hourly = self._hourly_from_rollup(request.GET)
        except ValueError:
            newest, hourly = self._hourly_from_logs(queryset)
        if newest is None:
            return {"total": 0, "chart": hourly_chart([])}
        total = sum(sum(b[lv] for lv in Level.values) for b in hourly)
        errors = sum(b[Level.ERROR] + b[Level.CRITICAL] for b in hourly)
        return {
            "days": CHART_DAYS,
            "total": total,
            "errors": errors,
            "error_rate": f"{errors / total:.1%}" if total else "n/a",
            "newest": newest,
            "chart": hourly_chart(hourly),
        }

    @staticmethod
    def _chart_start(newest: datetime) -> datetime:
        return newest.replace(minute=0, second=0, microsecond=0) - timedelta(days=CHART_DAYS) + timedelta(hours=1)

    def _hourly_from_rollup(self, params) -> tuple[datetime | None, list[dict]]:
        since = until = None
        if year := params.get("timestamp__year"):
            month, day = params.get("timestamp__month"), params.get("timestamp__day")
            since = datetime(int(year), int(month or 1), int(day or 1), tzinfo=UTC)
            if day:
                until = since + timedelta(days=1)
            elif month:
                until = since.replace(year=since.year + (since.month == 12), month=since.month % 12 + 1)
            else:
                until = since.replace(year=since.year + 1)
        filters = {
            "sources": [params["source"]] if params.get("source") else None,
            "levels": [params["level__exact"]] if params.get("level__exact") else None,
        }
        newest = selectors.statistics(**filters, since=since, until=until).newest
        if newest is None:
            return None, []
        hourly = selectors.statistics(
            **filters,
            since=max(self._chart_start(newest), since or self._chart_start(newest)),
            until=until,
            hourly=True,
        ).hourly
        return newest, hourly

    def _hourly_from_logs(self, queryset) -> tuple[datetime | None, list[dict]]:
        newest = queryset.order_by("-timestamp").values_list("timestamp", flat=True).first()
        if newest is None:
            return None, []
        rows = (
            queryset.filter(timestamp__gte=self._chart_start(newest))
            .annotate(hour=TruncHour("timestamp"))
            .values("hour", "level")
            .annotate(n=Count("id"))
            .order_by("hour")
        )
        buckets: dict[datetime, dict] = {}
        for row in rows:
            bucket = buckets.setdefault(row["hour"], {"hour": row["hour"], **dict.fromkeys(Level.values, 0)})
            bucket[row["level"]] = row["n"]
        return newest, list(buckets.values())


@admin.register(SystemHealth)
class SystemHealthAdmin(ReadOnlyAdmin):
    list_display = ["component", "status_badge", "severity", "since", "reason", "evaluated_at"]
    list_filter = ["status"]
    search_fields = ["component"]
    actions = ["evaluate_now"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, STATUS_COLOURS[obj.status])

    @admin.action(description="Evaluate every component's health now")
    def evaluate_now(self, request, queryset):
        evaluation = services.evaluate_health(now=timezone.now())
        self.message_user(
            request,
            f"Evaluated {len(evaluation.results)} components, {len(evaluation.transitions)} status changes.",
            messages.SUCCESS,
        )

    def has_change_permission(self, request, obj=None):
        # The action needs the change permission (staff who may run evaluations).
        return request.user.has_perm("monitoring.change_systemhealth") and obj is None


@admin.register(HealthTransition)
class HealthTransitionAdmin(ReadOnlyAdmin):
    list_display = ["at", "component", "old_badge", "new_badge", "severity", "reason"]
    list_filter = ["new_status", "component"]
    date_hierarchy = "at"

    @admin.display(description="from", ordering="old_status")
    def old_badge(self, obj):
        return badge(obj.old_status, STATUS_COLOURS[obj.old_status])

    @admin.display(description="to", ordering="new_status")
    def new_badge(self, obj):
        return badge(obj.new_status, STATUS_COLOURS[obj.new_status])


@admin.register(MonitoringResult)
class MonitoringResultAdmin(ReadOnlyAdmin):
    list_display = ["evaluated_at", "source", "status_badge", "total", "error_rate", "severity"]
    list_filter = ["status", "source"]
    date_hierarchy = "evaluated_at"
    show_full_result_count = False

    @admin.display(description="proposed status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, STATUS_COLOURS[obj.status])
