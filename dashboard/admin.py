"""The dashboard's admin. Teaching staff (the staff of some cohort) work here with their
cohorts' students, their assessments and drafts; holders of the app's model permissions (the
"Dashboard administrators" group) with everything, as Django's admin does.

Thin, like the API: rows come from the querysets' ``visible_to`` (a student of another cohort
is "not found"), reads from dashboard/selectors.py, and every write goes through
dashboard/services.py: validating a form *is* the service call (:class:`ServiceForm`), so the
service's ``ValidationError`` lands on the form's fields and each save is one audit entry
with ``via="admin"``. The student page adds a score-trend chart, the performance table, the
drafts and the audit entries; the cohort page the overview with its flags; drafts are
reviewed with buttons on their page or with actions on the list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Avg, Count, F, FilteredRelation, FloatField, Q
from django.db.models.functions import Cast, TruncWeek
from django.http import HttpResponseRedirect
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from dashboard import selectors, services
from dashboard.models import (
    AssessmentLog,
    Cohort,
    ConceptModule,
    Draft,
    DraftStatus,
    PerformanceRecord,
    Scope,
    Student,
    is_dashboard_admin,
)
from veritas import formats
from veritas.admin import ServiceAdmin, ServiceForm, badge, changes_html
from veritas.charts import Chart, Series
from veritas.models import ActionLog

# Subjects' line colours on the score chart, in the subjects' alphabetical order.
SUBJECT_COLOURS = ["#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457"]
CHART_WEEKS = 52  # the score chart's span at most, back from the student's latest assessment
AUDIT_ROWS = 20  # audit entries on a student's page (the rest: a link to the trail)
MINUS = "\u2212"


# --- formatting ---------------------------------------------------------------------------------


def percentage(value: float | None) -> str:
    """A 0-100 percentage: ``72.4 %``."""
    return formats.MISSING if value is None else f"{formats.number(value, 1)}{formats.NBSP}%"


def per_week(trend: float | None, unit: bool = True) -> str:
    """A slope in points per day, as points per week with its sign (a true minus): ``+2.1 pts/week``."""
    if trend is None:
        return formats.MISSING
    week = trend * 7
    text = formats.number(abs(week), 1)
    if text != formats.number(0, 1):
        text = ("+" if week > 0 else MINUS) + text
    return f"{text}{formats.NBSP}pts/week" if unit else text


def points(value: Decimal) -> str:
    """A score as written: ``15``, ``7.5``, ``7.25``."""
    return formats.number(value) if value == value.to_integral_value() else f"{value.normalize():f}"


def moment(value) -> str:
    if value is None:
        return formats.MISSING
    value = timezone.localtime(value)
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), value.strftime("%Y-%m-%d %H:%M"))


def status_badge(draft: Draft):
    return badge(draft.get_status_display(), draft.status)


def flag_badges(row: selectors.OverviewRow):
    flags = [badge("declining", "declining")] if row.declining else []
    if row.inactive:
        flags.append(badge("inactive", "inactive"))
    return format_html_join("", "{}", ((flag,) for flag in flags)) if flags else ""


@admin.display(description="student", ordering="student__name")
def student_name(obj):
    """A list column: the student's name (their id on hover), narrower than "name (id)"."""
    return format_html('<span title="{}">{}</span>', obj.student.external_id, obj.student.name)


# --- who may do what ----------------------------------------------------------------------------


def teaches(request) -> bool:
    """Is the user on the staff of some cohort? (Read once per request.)"""
    if not hasattr(request, "_dashboard_teaches"):
        user = request.user
        request._dashboard_teaches = bool(
            user.is_active and user.is_staff and Cohort.objects.filter(staff=user).exists()
        )
    return request._dashboard_teaches


def taught_ids(request) -> frozenset[int]:
    """The ids of the students the user teaches (read once per request; asked only of users
    without the model permissions, whose ``taught_by`` is everyone)."""
    if not hasattr(request, "_dashboard_taught"):
        request._dashboard_taught = frozenset(Student.objects.taught_by(request.user).values_list("pk", flat=True))
    return request._dashboard_taught


class CohortStaffAccess:
    """Holders of the model permissions get Django's normal behaviour; teaching staff, who
    hold none, may also view (scoped by ``visible_to``), and add, change or delete where
    ``staff_may`` says so and the object's student is one they teach (the services apply the
    same rule)."""

    staff_may: tuple[str, ...] = ()

    def student_id_of(self, obj) -> int:
        return obj.student_id

    def _teaches(self, request, action: str, obj=None) -> bool:
        return (
            action in self.staff_may
            and teaches(request)
            and (obj is None or self.student_id_of(obj) in taught_ids(request))
        )

    def has_module_permission(self, request):
        return super().has_module_permission(request) or teaches(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or teaches(request)

    def has_add_permission(self, request):
        return super().has_add_permission(request) or self._teaches(request, "add")

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) or self._teaches(request, "change", obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) or self._teaches(request, "delete", obj)

    def get_queryset(self, request):
        return super().get_queryset(request).visible_to(request.user)


# --- writes through the services ----------------------------------------------------------------


class DashboardAdmin(ServiceAdmin):
    """Writes through dashboard/services.py; a draft move not allowed refuses the form too."""

    refusals = (PermissionDenied, services.TransitionNotAllowed)


class CohortFilter(admin.SimpleListFilter):
    """The cohorts the user may see (``lookup``: the path from the listed model)."""

    title = "cohort"
    parameter_name = "cohort"
    lookup = "cohorts"

    def lookups(self, request, model_admin):
        return [(cohort.pk, str(cohort)) for cohort in Cohort.objects.visible_to(request.user)]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.lookup: self.value()}).distinct() if self.value() else queryset


class StudentCohortFilter(CohortFilter):
    lookup = "student__cohorts"


# --- students -----------------------------------------------------------------------------------


class StudentForm(ServiceForm):
    cohorts = forms.ModelMultipleChoiceField(
        queryset=Cohort.objects.none(),
        required=False,
        help_text="The cohorts the new student joins (staff: at least one you teach).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            del self.fields["cohorts"]  # a declared field: in every form of the class
        else:
            user = self.request.user
            self.fields["cohorts"].queryset = Cohort.objects.visible_to(user).filter(
                Q(staff=user) if not is_dashboard_admin(user, "add") else Q()
            )
            self.fields["cohorts"].required = not is_dashboard_admin(user, "add")


@dataclass(frozen=True)
class PerformanceRow:
    label: str
    level: int  # 0 overall, 1 a subject, 2 a concept module (under its subject)
    record: selectors.Performance
    trend: str


@admin.register(Student)
class StudentAdmin(CohortStaffAccess, DashboardAdmin):
    form = StudentForm
    staff_may = ("add", "change")  # deleting a student needs dashboard.delete_student
    list_display = ["name", "external_id", "cohort_names", "mean_text", "last_assessed", "is_active"]
    list_filter = [CohortFilter, "is_active"]
    search_fields = ["name", "email", "external_id"]
    change_form_template = "admin/dashboard/student/change_form.html"

    def student_id_of(self, obj) -> int:
        return obj.pk

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(overall=FilteredRelation("performance", condition=Q(performance__scope=Scope.OVERALL)))
            .annotate(overall_mean=F("overall__mean"), last_assessed_at=F("overall__last_at"))
            .prefetch_related("cohorts")
        )

    def get_fields(self, request, obj=None):
        # Linking a login needs dashboard.change_student; others see its name, no link.
        admin_fields = is_dashboard_admin(request.user, "change")
        if obj is None:
            return ["external_id", "name", "email", *(["user"] if admin_fields else []), "is_active", "cohorts"]
        user = "user" if admin_fields else "login"
        return ["external_id", "name", "email", user, "is_active", "uuid", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["login", "uuid", "created_at", "updated_at"]

    @admin.display(description="login")
    def login(self, obj):
        return obj.user.get_username() if obj.user_id else formats.MISSING

    def write(self, request, student, data):
        if student is None:
            cohorts = data.pop("cohorts", [])
            return services.create_student(actor=request.user, data=data, cohorts=cohorts)
        return services.update_student(actor=request.user, student=student, data=data)

    def erase(self, request, student):
        services.delete_student(actor=request.user, student=student)

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Drafts have no deletion of their own (students write them): they go with their
        # student, which delete_student audits.
        perms_needed.discard(Draft._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    @admin.display(description="cohorts")
    def cohort_names(self, obj):
        return ", ".join(cohort.name for cohort in obj.cohorts.all()) or formats.MISSING

    @admin.display(description="mean", ordering="overall_mean")
    def mean_text(self, obj):
        return percentage(obj.overall_mean)

    @admin.display(description="last assessed", ordering="last_assessed_at")
    def last_assessed(self, obj):
        return moment(obj.last_assessed_at)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["dashboard"] = self.sections(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def sections(self, request, student: Student) -> dict:
        """The read-only sections under the form: chart, performance, drafts, audit entries."""
        threshold = settings.DASHBOARD_MASTERY["THRESHOLD"]
        records = selectors.student_performance(student, threshold=threshold)
        overall = next((r for r in records if r.scope == Scope.OVERALL), None)
        entries = ActionLog.objects.visible_to(request.user).filter(
            scope_type=Student._meta.label_lower, scope_id=student.pk
        )
        drafts = student.drafts.select_related("reviewer").annotate(version_count=Count("versions"))
        return {
            "chart": score_chart(student, overall.last_at if overall else None),
            "performance": performance_rows(records),
            "threshold": threshold,
            "method": "decaying average",
            "cohorts": [
                (cohort, reverse("admin:dashboard_cohort_change", args=[cohort.pk])) for cohort in student.cohorts.all()
            ],
            "drafts": [
                {
                    "draft": draft,
                    "status": status_badge(draft),
                    "url": reverse("admin:dashboard_draft_change", args=[draft.pk]),
                }
                for draft in drafts
            ],
            "entries": [
                {"entry": entry, "at": moment(entry.at), "changes": changes_html(entry.changes, limit=4)}
                for entry in entries[:AUDIT_ROWS]
            ],
            "risk": risk_rows(student),
            "entries_url": reverse("admin:veritas_actionlog_changelist")
            + f"?scope_type={Student._meta.label_lower}&scope_id={student.pk}",
            "audit_rows": AUDIT_ROWS,
        }


def risk_rows(student: Student) -> list[dict]:
    """The student's latest dropout-risk prediction per enrolment (the dropout app's)."""
    from dropout import selectors as risk
    from dropout.admin import band_badge, reasons_list

    return [
        {
            "prediction": prediction,
            "presentation": str(prediction.enrollment.presentation),
            "band": band_badge(prediction.band),
            "probability": formats.percent(prediction.probability, 0),
            "reasons": reasons_list(prediction.reasons),
            "url": reverse("admin:dropout_dropoutprediction_change", args=[prediction.pk]),
        }
        for prediction in risk.latest_predictions(student.enrollments.all())
    ]


def performance_rows(records: list[selectors.Performance]) -> list[PerformanceRow]:
    """Overall first, then each subject followed by its concept modules."""
    by_scope: dict[str, list[selectors.Performance]] = {}
    for record in records:
        by_scope.setdefault(record.scope, []).append(record)
    rows = [_row("All subjects", 0, record) for record in by_scope.get(Scope.OVERALL, [])]
    concepts = by_scope.get(Scope.CONCEPT, [])  # in subject and code order
    subjects = sorted(by_scope.get(Scope.SUBJECT, []), key=lambda record: record.subject)
    for subject in subjects:
        rows.append(_row(subject.subject, 1, subject))
        rows += [_concept_row(c) for c in concepts if c.concept_module["subject"] == subject.subject]
    # A module of a subject the student has no record of (tagged on another subject's work).
    known = {subject.subject for subject in subjects}
    rows += [_concept_row(c, named=True) for c in concepts if c.concept_module["subject"] not in known]
    return rows


def _row(label: str, level: int, record: selectors.Performance) -> PerformanceRow:
    return PerformanceRow(label=label, level=level, record=record, trend=per_week(record.trend, unit=False))


def _concept_row(record: selectors.Performance, *, named: bool = False) -> PerformanceRow:
    module = record.concept_module
    label = f"{module['code']}: {module['name']}"
    return _row(f"{module['subject']} · {label}" if named else label, 2, record)


def score_chart(student: Student, latest) -> Chart:
    """Weekly mean percentage per subject (one line each), over the CHART_WEEKS weeks up to
    the student's latest assessment; a week without an assessment in a subject is a gap."""
    title = "Score trend: weekly mean per subject (%)"
    empty = "No assessments yet."
    if latest is None:
        return Chart(title=title, x=[], series=[], kind="lines", empty=empty, id="dashboard-score-chart")
    rows = (
        AssessmentLog.objects.filter(student=student, taken_at__gt=latest - timedelta(weeks=CHART_WEEKS))
        .annotate(week=TruncWeek("taken_at"))
        .values("week", "subject")
        .annotate(mean=Avg(Cast("score", FloatField()) * 100 / Cast("max_score", FloatField())))
        .order_by("week", "subject")
    )
    weeks = sorted({row["week"] for row in rows})
    subjects = sorted({row["subject"] for row in rows})
    means = {(row["week"], row["subject"]): row["mean"] for row in rows}
    series = [
        Series(subject, [means.get((week, subject)) for week in weeks], SUBJECT_COLOURS[i % len(SUBJECT_COLOURS)])
        for i, subject in enumerate(subjects)
    ]
    return Chart(
        title=title,
        x=weeks,
        step=timedelta(weeks=1),
        series=series,
        kind="lines",
        y_range=(0, 100),
        unit="%",
        decimals=1,
        empty=empty,
        id="dashboard-score-chart",
    )


# --- cohorts ------------------------------------------------------------------------------------


@admin.register(Cohort)
class CohortAdmin(CohortStaffAccess, DashboardAdmin):
    """Administrators write cohorts; their staff see them, with the overview."""

    list_display = ["name", "term", "staff_names", "student_count"]
    list_filter = ["term"]
    search_fields = ["name", "term"]
    autocomplete_fields = ["staff", "students"]
    change_form_template = "admin/dashboard/cohort/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(student_total=Count("students")).prefetch_related("staff")

    def get_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return ["name", "term", "staff"]  # the students: in the overview below
        return ["name", "term", "staff", "students"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if db_field.name == "staff":
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(is_staff=True)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def write(self, request, cohort, data):
        return services.save_cohort(actor=request.user, data=data, cohort=cohort)

    def erase(self, request, cohort):
        services.delete_cohort(actor=request.user, cohort=cohort)

    @admin.display(description="staff")
    def staff_names(self, obj):
        return ", ".join(user.get_username() for user in obj.staff.all()) or formats.MISSING

    @admin.display(description="students", ordering="student_total")
    def student_count(self, obj):
        return formats.number(obj.student_total)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["dashboard"] = self.overview(request, obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def overview(self, request, cohort: Cohort) -> dict:
        from dropout import selectors as risk
        from dropout.admin import band_badge

        rows = selectors.cohort_overview(cohort)
        bands = risk.latest_band_by_student([row.student_id for row in rows])
        means = [row.mean for row in rows if row.mean is not None]
        return {
            "rows": [
                {
                    "row": row,
                    "url": reverse("admin:dashboard_student_change", args=[row.student_id]),
                    "mean": percentage(row.mean),
                    "trend": per_week(row.trend),
                    "last": moment(row.last_activity),
                    "flags": flag_badges(row),
                    "risk": band_badge(bands[row.student_id].band) if row.student_id in bands else "",
                }
                for row in rows
            ],
            "students": len(rows),
            "declining": sum(row.declining for row in rows),
            "inactive": sum(row.inactive for row in rows),
            "mean": percentage(sum(means) / len(means)) if means else formats.MISSING,
            "recent_days": selectors.RECENT_DAYS,
            "declining_min": selectors.DECLINING_MIN_ASSESSMENTS,
            "declining_margin": formats.number(selectors.DECLINING_MARGIN),
            "declining_trend": formats.number(-selectors.DECLINING_TREND_PER_WEEK),
            "csv_url": csv_export_url(cohort),
        }


def csv_export_url(cohort: Cohort) -> str:
    """The API's CSV export of the overview (the session authenticates it)."""
    return reverse("api:dashboard:cohort-overview", args=[cohort.pk]) + "?format=csv"


# --- concept modules ----------------------------------------------------------------------------


@admin.register(ConceptModule)
class ConceptModuleAdmin(DashboardAdmin):
    """The curriculum: administrators write it (a prerequisite cycle is refused with the
    modules named); teaching staff read it."""

    list_display = ["code", "name", "subject", "order", "prerequisite_codes"]
    list_filter = ["subject"]
    search_fields = ["code", "name", "subject"]
    autocomplete_fields = ["prerequisites"]
    fields = ["subject", "code", "name", "order", "description", "prerequisites"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("prerequisites")

    def has_module_permission(self, request):
        return super().has_module_permission(request) or teaches(request)

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or teaches(request)

    def write(self, request, module, data):
        return services.save_module(actor=request.user, data=data, module=module)

    def erase(self, request, module):
        services.delete_module(actor=request.user, module=module)

    @admin.display(description="prerequisites")
    def prerequisite_codes(self, obj):
        return ", ".join(module.code for module in obj.prerequisites.all()) or formats.MISSING


# --- assessments --------------------------------------------------------------------------------


class SubjectFilter(admin.SimpleListFilter):
    """Subjects from the performance records (one row per student and subject), not a
    DISTINCT over every assessment."""

    title = "subject"
    parameter_name = "subject"

    def lookups(self, request, model_admin):
        subjects = PerformanceRecord.objects.filter(scope=Scope.SUBJECT).values_list("subject", flat=True).distinct()
        return [(subject, subject) for subject in sorted(subjects)]

    def queryset(self, request, queryset):
        return queryset.filter(subject=self.value()) if self.value() else queryset


@admin.register(AssessmentLog)
class AssessmentLogAdmin(CohortStaffAccess, DashboardAdmin):
    """Staff record, correct and delete their students' assessments (audited, performance
    kept exact by the services)."""

    staff_may = ("add", "change", "delete")
    # Narrow enough for the admin's two sidebars: the modules and who recorded it are on the page.
    list_display = ["taken_text", student_name, "kind", "subject", "score_text"]
    list_filter = ["kind", SubjectFilter, "taken_at", StudentCohortFilter]
    search_fields = ["student__name", "student__external_id", "student__email"]
    search_help_text = "A student's name, id or email."
    list_select_related = ["student"]
    autocomplete_fields = ["student", "concept_modules"]
    show_full_result_count = False
    readonly_fields = ["recorded_by", "created_at", "updated_at"]

    def get_fields(self, request, obj=None):
        fields = ["kind", "subject", "concept_modules", "score", "max_score", "taken_at", "comment"]
        return ["student", *fields] if obj is None else ["student", *fields, "recorded_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # A correction keeps the student: delete and record again for another one.
        return self.readonly_fields if obj is None else ["student", *self.readonly_fields]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "student":
            kwargs["queryset"] = Student.objects.taught_by(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def write(self, request, assessment, data):
        if assessment is None:
            student = data.pop("student")
            return services.record_assessment(actor=request.user, student=student, data=data)
        return services.correct_assessment(actor=request.user, assessment=assessment, data=data)

    def erase(self, request, assessment):
        services.delete_assessment(actor=request.user, assessment=assessment)

    @admin.display(description="taken (UTC)", ordering="taken_at")
    def taken_text(self, obj):
        return moment(obj.taken_at)

    @admin.display(description="score")
    def score_text(self, obj):
        return f"{percentage(obj.percentage)} ({points(obj.score)}/{points(obj.max_score)})"


# --- drafts -------------------------------------------------------------------------------------

# The review buttons of a draft's page: POST name → (target status, what was done).
REVIEW_STEPS = {
    "_start_review": (DraftStatus.IN_REVIEW, "review started"),
    "_return": (DraftStatus.RETURNED, "returned to the student with your feedback"),
    "_accept": (DraftStatus.ACCEPTED, "accepted"),
}


class FeedbackForm(forms.Form):
    feedback = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "cols": 80}),
        help_text="What the students should change; each selected draft gets this feedback.",
    )


@admin.register(Draft)
class DraftAdmin(CohortStaffAccess, DashboardAdmin):
    """Students write drafts (through the API); their cohorts' staff review them here: start
    review, then return with feedback or accept, on the draft's page or for the selected
    drafts of the list. Drafts are never added or deleted here."""

    staff_may = ("change",)
    list_display = ["title", student_name, "status_text", "submitted_text", "reviewer_name"]
    list_filter = ["status", StudentCohortFilter]
    search_fields = ["title", "student__name", "student__external_id"]
    list_select_related = ["student", "reviewer"]
    actions = ["start_review_selected", "return_selected", "accept_selected"]
    change_form_template = "admin/dashboard/draft/change_form.html"
    fields = [
        "student_link",
        "title",
        "status_text",
        "body_text",
        "feedback",
        "submitted_text",
        "reviewer_name",
        "reviewed_text",
        "versions_text",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_review_permission(self, request):
        return is_dashboard_admin(request.user, "change", "draft") or teaches(request)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("versions")

    def get_readonly_fields(self, request, obj=None):
        readonly = [name for name in self.fields if name != "feedback"]
        if obj is None or obj.status != DraftStatus.IN_REVIEW or not self.has_change_permission(request, obj):
            readonly.append("feedback")  # written when returning or accepting
        return readonly

    def review_steps(self, request, draft: Draft) -> list[tuple[str, str]]:
        """The buttons this user may press on this draft: (POST name, label)."""
        if not self.has_change_permission(request, draft):
            return []
        labels = {"_start_review": "Start review", "_return": "Return with feedback", "_accept": "Accept"}
        allowed = draft.allowed_transitions()
        return [(name, labels[name]) for name, (target, _) in REVIEW_STEPS.items() if target in allowed]

    def write(self, request, draft, data):
        step = next((name for name in REVIEW_STEPS if name in request.POST), None)
        if step is None:
            raise ValidationError("Choose a review step: start review, return with feedback, or accept.")
        target = REVIEW_STEPS[step][0]
        if target not in draft.allowed_transitions():
            # The services' rule, checked first: the draft changed since the page was shown.
            raise services.TransitionNotAllowed(draft, target)
        actor, feedback = request.user, data.get("feedback", "")
        if step == "_start_review":
            return services.start_review(actor=actor, draft=draft)
        if step == "_return":
            return services.return_draft(actor=actor, draft=draft, feedback=feedback)
        return services.accept_draft(actor=actor, draft=draft, feedback=feedback)

    def response_change(self, request, obj):
        for name, (_, done) in REVIEW_STEPS.items():
            if name in request.POST:
                self.message_user(request, f"“{obj}”: {done}.", messages.SUCCESS)
                return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None:
            context["review_steps"] = self.review_steps(request, obj)
            context["draft_status"] = obj.get_status_display()
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- columns and read-only fields

    @admin.display(description="status", ordering="status")
    def status_text(self, obj):
        return status_badge(obj)

    @admin.display(description="submitted (UTC)", ordering="submitted_at")
    def submitted_text(self, obj):
        return moment(obj.submitted_at)

    @admin.display(description="reviewed (UTC)", ordering="reviewed_at")
    def reviewed_text(self, obj):
        return moment(obj.reviewed_at)

    @admin.display(description="updated (UTC)", ordering="updated_at")
    def updated_text(self, obj):
        return moment(obj.updated_at)

    @admin.display(description="reviewer", ordering="reviewer__username")
    def reviewer_name(self, obj):
        return obj.reviewer.get_username() if obj.reviewer_id else formats.MISSING

    @admin.display(description="student")
    def student_link(self, obj):
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:dashboard_student_change", args=[obj.student_id]), obj.student
        )

    @admin.display(description="text")
    def body_text(self, obj):
        return format_html('<div class="dashboard-body">{}</div>', obj.body or formats.MISSING)

    @admin.display(description="submissions")
    def versions_text(self, obj):
        versions = list(obj.versions.all())
        if not versions:
            return "none yet"
        return format_html_join(
            mark_safe("<br>"),
            "version {}: {} words, {}",
            ((v.number, formats.number(v.word_count), moment(v.submitted_at)) for v in versions),
        )

    # --- actions on the list

    def _review(self, request, queryset, step: Callable[..., Draft], done: str) -> None:
        """Apply a service (``step(draft=…)``) to each selected draft; each draft is its own
        write (one refused draft does not undo the others), refusals said draft by draft."""
        succeeded = 0
        for draft in queryset.select_related("student"):
            try:
                step(draft=draft)
            except (services.TransitionNotAllowed, PermissionDenied) as error:
                self.message_user(request, f"“{draft}” was not changed: {error}", messages.ERROR)
            except ValidationError as error:
                self.message_user(request, f"“{draft}” was not changed: {' '.join(error.messages)}", messages.ERROR)
            else:
                succeeded += 1
        if succeeded:
            self.message_user(request, f"{done} {succeeded} draft{pluralize(succeeded)}.", messages.SUCCESS)

    @admin.action(description="Start review of the selected drafts", permissions=["review"])
    def start_review_selected(self, request, queryset):
        self._review(request, queryset, partial(services.start_review, actor=request.user), "Started review of")

    @admin.action(description="Accept the selected drafts", permissions=["review"])
    def accept_selected(self, request, queryset):
        self._review(request, queryset, partial(services.accept_draft, actor=request.user), "Accepted")

    @admin.action(description="Return the selected drafts with feedback…", permissions=["review"])
    def return_selected(self, request, queryset):
        """An intermediate page asks for the feedback, then returns each draft with it."""
        form = FeedbackForm(request.POST if "feedback" in request.POST else None)
        if form.is_valid():
            feedback = form.cleaned_data["feedback"]
            step = partial(services.return_draft, actor=request.user, feedback=feedback)
            self._review(request, queryset, step, "Returned with feedback")
            return None  # back to the list
        drafts = list(queryset.select_related("student"))
        context = {
            **self.admin_site.each_context(request),
            "title": "Return drafts with feedback",
            "opts": self.opts,
            "form": form,
            "drafts": [
                {"draft": draft, "status": status_badge(draft), "ready": draft.status == DraftStatus.IN_REVIEW}
                for draft in drafts
            ],
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/dashboard/draft/return_selected.html", context)
