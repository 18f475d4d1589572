from datetime import UTC, datetime, timedelta

from django.contrib import admin, messages
from django.db.models import Count
from django.db.models.functions import TruncHour
from django.template.defaultfilters import pluralize
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from monitoring import selectors, services
from monitoring.models import HealthTransition, Level, MonitoringLog, MonitoringResult, Status, SystemHealth
from veritas import formats
from veritas.admin import ReadOnlyAdmin as CoreReadOnlyAdmin
from veritas.charts import Chart, Series
from veritas.utc import HOUR, floor_hour

STATUS_COLOURS = {
    Status.NORMAL: "#2e7d32",
    Status.UNKNOWN: "#757575",
    Status.WARNING: "#ef6c00",
    Status.CRITICAL: "#c62828",
    Status.RETIRED: "#424242",
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


def clamped(text: str):
    """Long text kept to two lines of the table (cut with an ellipsis by CSS), whole on hover."""
    return format_html('<span class="veritas-clamped" title="{}">{}</span>', text, text)


def moment(value: datetime | None, seconds: bool = False):
    """A time as "2026-11-23 09:30" (UTC, the project's zone): short enough for a table column."""
    if value is None:
        return "-"
    value = timezone.localtime(value)
    return format_html(
        '<time datetime="{}">{}</time>',
        value.isoformat(),
        value.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")),
    )


def ago(value: datetime | None):
    """A recent time as "3 hours ago" (narrow), the exact time on hover."""
    if value is None:
        return "-"
    elapsed = timezone.now() - value
    text = "just now" if elapsed < timedelta(minutes=1) else f"{timesince(value, depth=1)} ago"
    exact = timezone.localtime(value)
    return format_html(
        '<time datetime="{}" title="{} UTC">{}</time>', exact.isoformat(), exact.strftime("%Y-%m-%d %H:%M:%S"), text
    )


def moment_column(field: str, description: str, seconds: bool = False, relative: bool = False):
    """A list_display column showing ``field`` with :func:`moment` (or :func:`ago`), sortable by it."""

    @admin.display(description=description, ordering=field)
    def column(self, obj):
        value = getattr(obj, field)
        return ago(value) if relative else moment(value, seconds)

    return column


class ReadOnlyAdmin(CoreReadOnlyAdmin):
    """Rows written only by the monitoring services: staff read them, never edit them."""

    class Media:
        css = {"all": ["monitoring/admin.css"]}


class SourceFilter(admin.SimpleListFilter):
    """Sources from the rollup: no DISTINCT over millions of logs."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request, model_admin):
        return [(source, source) for source in selectors.known_sources()]

    def queryset(self, request, queryset):
        return queryset.filter(source=self.value()) if self.value() else queryset


def hourly_chart(hourly: list[dict]) -> Chart:
    """Stacked bars of logs per hour and level (rows of ``selectors.statistics(hourly=True)``)."""
    return Chart(
        title="Logs per hour by level (UTC)",
        x=[bucket["hour"] for bucket in hourly],
        step=HOUR,
        series=[Series(level, [bucket[level] for bucket in hourly], LEVEL_COLOURS[level]) for level in Level.values],
        value_label="logs",
        empty="No logs in this range.",
        id="monitoring-logs-chart",
    )


@admin.register(MonitoringLog)
class MonitoringLogAdmin(ReadOnlyAdmin):
    list_display = ["timestamp_text", "source", "level_badge", "short_message", "event_id"]
    list_filter = [SourceFilter, "level"]
    search_fields = ["message"]
    date_hierarchy = "timestamp"
    ordering = ["-timestamp", "-id"]
    show_full_result_count = False  # no COUNT(*) over the whole table
    list_per_page = 100
    change_list_template = "admin/monitoring/monitoringlog/change_list.html"

    timestamp_text = moment_column("timestamp", "timestamp (UTC)", seconds=True)

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
        from_rollup = set(request.GET) <= self.ROLLUP_PARAMETERS
        try:
            if not from_rollup:
                raise ValueError("filters the rollup cannot answer")
            newest, hourly = self._hourly_from_rollup(request.GET)
        except ValueError:
            from_rollup = False
            newest, hourly = self._hourly_from_logs(queryset)
        if newest is None:
            return {"total": 0, "chart": hourly_chart([])}
        total = sum(sum(b[lv] for lv in Level.values) for b in hourly)
        errors = sum(b[Level.ERROR] + b[Level.CRITICAL] for b in hourly)
        error_rate, error_rate_help = errors / total, "error rate"
        if request.GET.get("level__exact"):
            # Among the logs of one level the error rate is 0 or 100 %, which says nothing:
            # rate all levels of the same source and time instead (the rollup has them).
            if from_rollup:
                error_rate = self._error_rate_of_all_levels(request.GET, newest)
                error_rate_help = "error rate of all levels, not only the filtered one"
            else:
                error_rate, error_rate_help = None, "no error rate: a level filter with a search counts one level only"
        return {
            "days": CHART_DAYS,
            "total": total,
            "errors": errors,
            "error_rate": error_rate,
            "error_rate_help": error_rate_help,
            "newest": newest,
            "chart": hourly_chart(hourly),
        }

    @staticmethod
    def _chart_start(newest: datetime) -> datetime:
        return floor_hour(newest) - timedelta(days=CHART_DAYS) + timedelta(hours=1)

    def _hourly_from_rollup(self, params) -> tuple[datetime | None, list[dict]]:
        filters, since, until = self._rollup_filters(params)
        newest = selectors.statistics(**filters, since=since, until=until).newest
        if newest is None:
            return None, []
        hourly = selectors.statistics(
            **filters,
            since=self._window_start(newest, since),
            until=until,
            hourly=True,
        ).hourly
        return newest, hourly

    def _window_start(self, newest: datetime, since: datetime | None) -> datetime:
        """The chart's first hour: CHART_DAYS before the newest log, not before the dates filtered."""
        return max(self._chart_start(newest), since or self._chart_start(newest))

    @staticmethod
    def _rollup_filters(params) -> tuple[dict, datetime | None, datetime | None]:
        """The statistics filters of the changelist's parameters, and its dates as [since, until)."""
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
        return filters, since, until

    def _error_rate_of_all_levels(self, params, newest: datetime) -> float | None:
        """(error + critical) / all logs of the selection's sources over the chart's window."""
        filters, since, until = self._rollup_filters(params)
        counts = selectors.statistics(
            sources=filters["sources"],
            since=self._window_start(newest, since),
            until=until,
            bounds=False,
        ).by_level
        total = sum(counts.values())
        return (counts[Level.ERROR] + counts[Level.CRITICAL]) / total if total else None

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


class HealthColumns:
    """Columns the health admins share: numbers as people read them, short reasons. On the
    (read-only) detail pages the numbers read the same: each field of ``formatted`` shows
    as its display method."""

    formatted = {"severity": "severity_text"}

    def get_fields(self, request, obj=None):
        fields = [self.formatted.get(name, name) for name in super().get_fields(request, obj)]
        return list(dict.fromkeys(fields))  # each display method once, where its field was

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self.formatted.values()]

    @admin.display(description="severity", ordering="severity")
    def severity_text(self, obj):
        return formats.number(obj.severity, 2)

    @admin.display(description="reason")
    def reason_text(self, obj):
        return clamped(obj.reason)


@admin.register(SystemHealth)
class SystemHealthAdmin(HealthColumns, ReadOnlyAdmin):
    list_display = ["component", "status_badge", "severity_text", "since_text", "reason_text", "evaluated_text"]
    list_filter = ["status"]
    search_fields = ["component"]
    actions = ["evaluate_now", "retire"]

    # Relative times keep the columns narrow: the reason gets the width.
    since_text = moment_column("since", "since", relative=True)
    evaluated_text = moment_column("evaluated_at", "evaluated", relative=True)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, STATUS_COLOURS[obj.status])

    @admin.action(description="Evaluate every component's health now", permissions=["change"])
    def evaluate_now(self, request, queryset):
        evaluation = services.evaluate_health(now=timezone.now())
        components, changes = len(evaluation.results), len(evaluation.transitions)
        self.message_user(
            request,
            f"Evaluated {components} component{pluralize(components)}, {changes} status change{pluralize(changes)}.",
            messages.SUCCESS,
        )

    @admin.action(
        description="Retire the selected components (out of the overall status until they send logs again)",
        permissions=["change"],
    )
    def retire(self, request, queryset):
        for health in queryset:
            services.health_retire(component=health.component, by=request.user)
        retired = len(queryset)
        self.message_user(request, f"Retired {retired} component{pluralize(retired)}.", messages.SUCCESS)

    def has_change_permission(self, request, obj=None):
        # The actions need the change permission (staff who may run evaluations and retire).
        return request.user.has_perm("monitoring.change_systemhealth") and obj is None


@admin.register(HealthTransition)
class HealthTransitionAdmin(HealthColumns, ReadOnlyAdmin):
    list_display = ["at_text", "component", "old_badge", "new_badge", "severity_text", "reason_text"]
    list_filter = ["new_status", "component"]
    date_hierarchy = "at"

    at_text = moment_column("at", "at (UTC)")

    @admin.display(description="from", ordering="old_status")
    def old_badge(self, obj):
        return badge(obj.old_status, STATUS_COLOURS[obj.old_status])

    @admin.display(description="to", ordering="new_status")
    def new_badge(self, obj):
        return badge(obj.new_status, STATUS_COLOURS[obj.new_status])


@admin.register(MonitoringResult)
class MonitoringResultAdmin(HealthColumns, ReadOnlyAdmin):
    formatted = {**HealthColumns.formatted, "total": "total_text", "error_rate": "error_rate_text"}
    list_display = ["evaluated_text", "source", "status_badge", "total_text", "error_rate_text", "severity_text"]
    list_filter = ["status", "source"]
    date_hierarchy = "evaluated_at"
    show_full_result_count = False

    evaluated_text = moment_column("evaluated_at", "evaluated (UTC)")

    @admin.display(description="proposed status", ordering="status")
    def status_badge(self, obj):
        return badge(obj.status, STATUS_COLOURS[obj.status])

    @admin.display(description="logs", ordering="total")
    def total_text(self, obj):
        return formats.number(obj.total)

    @admin.display(description="error rate", ordering="error_rate")
    def error_rate_text(self, obj):
        return formats.percent(obj.error_rate)
