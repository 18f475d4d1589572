"""The dashboard: the student register, cohorts, the curriculum's concept modules,
assessments, performance (kept exact by dashboard/performance.py) and students' drafts.

Who sees what is decided here, in one place (``visible_to``): users with the app's model
permissions see everything; staff see the students of the cohorts they teach; a student
sees their own record. Views and the admin filter through it; writes go through
dashboard/services.py, which audits them (veritas/audit.py).
"""

import uuid

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower

EXTERNAL_ID = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*$", "Letters, digits, '.', '_' and '-' only, starting with a letter or digit."
)


def is_dashboard_admin(user, action: str = "view", model: str = "student") -> bool:
    """Holds the app's model permission (e.g. the "dashboard administrators" group)."""
    return user.is_authenticated and user.has_perm(f"dashboard.{action}_{model}")


class StudentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "StudentQuerySet":
        """Everyone for holders of ``view_student``; else the students of the cohorts the
        user teaches, and the user's own student record."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if is_dashboard_admin(user):
            return self
        return self.filter(models.Q(pk__in=taught_student_ids(user)) | models.Q(user=user))

    def taught_by(self, user) -> "StudentQuerySet":
        """The students the user may write as staff: all for holders of ``change_student``,
        else those of the cohorts they teach."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if is_dashboard_admin(user, "change"):
            return self
        return self.filter(pk__in=taught_student_ids(user))


def taught_student_ids(user) -> models.QuerySet:
    """The ids of the students of the cohorts ``user`` teaches (a subquery)."""
    return Cohort.students.through.objects.filter(cohort__staff=user).values("student_id")


class Student(models.Model):
    """The organisation's student register (the dropout app's enrolments point here)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, verbose_name="UUID")
    external_id = models.CharField(
        max_length=64, unique=True, validators=[EXTERNAL_ID], help_text="The school's id, e.g. s001."
    )
    name = models.CharField(max_length=200)
    email = models.EmailField(help_text="Unique, whatever the case.")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="student",
        help_text="The student's own login, if they have one.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StudentQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="dashboard_student_email_ci_uniq",
                violation_error_message="A student with this email address already exists.",
            ),
        ]
        indexes = [
            # Search by name or email (icontains): trigram indexes would serve it; the
            # register is small enough for a scan today.
            models.Index(Lower("name"), name="dashboard_student_name_idx"),
        ]

    def __str__(self):
        return f"{self.name} ({self.external_id})"


class CohortQuerySet(models.QuerySet):
    def visible_to(self, user) -> "CohortQuerySet":
        """Every cohort for holders of ``view_cohort``; else the cohorts the user teaches."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if is_dashboard_admin(user, "view", "cohort"):
            return self
        return self.filter(pk__in=Cohort.staff.through.objects.filter(user=user).values("cohort_id"))


class Cohort(models.Model):
    """A class or group: its staff see and write its students."""

    name = models.CharField(max_length=200)
    term = models.CharField(max_length=50, help_text="E.g. 2026 autumn.")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="dashboard_cohorts")
    students = models.ManyToManyField(Student, blank=True, related_name="cohorts")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CohortQuerySet.as_manager()

    class Meta:
        ordering = ["-term", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["name", "term"], name="dashboard_cohort_name_term_uniq")]

    def __str__(self):
        return f"{self.name} ({self.term})"


class ConceptModule(models.Model):
    """A unit of the curriculum; its prerequisites form an acyclic graph
    (dashboard/services.py refuses a cycle)."""

    subject = models.CharField(max_length=100)
    code = models.CharField(max_length=50, unique=True, validators=[EXTERNAL_ID])
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField(default=0)
    description = models.TextField(blank=True)
    prerequisites = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="required_by")

    class Meta:
        ordering = ["subject", "order", "code"]

    def __str__(self):
        return f"{self.code}: {self.name}"


class AssessmentKind(models.TextChoices):
    EXAM = "exam"
    QUIZ = "quiz"
    ASSIGNMENT = "assignment"
    PRACTICE = "practice"
    PROJECT = "project"
    PARTICIPATION = "participation"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value):
        # " Exam " is an exam (imports); pydantic asks this only when the value is not exact.
        if isinstance(value, str):
            return cls._value2member_map_.get(value.strip().lower())
        return None


class AssessmentLogQuerySet(models.QuerySet):
    def visible_to(self, user) -> "AssessmentLogQuerySet":
        return self.filter(student__in=Student.objects.visible_to(user))


class AssessmentLog(models.Model):
    """One assessed piece of work. Written only through dashboard/services.py and
    dashboard/ingest.py, which keep the student's performance records exact."""

    # No index of its own: the indexes below start with the student.
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="assessments", db_index=False)
    kind = models.CharField(max_length=20, choices=AssessmentKind.choices)
    subject = models.CharField(max_length=100)
    concept_modules = models.ManyToManyField(ConceptModule, blank=True, related_name="assessments")
    score = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    max_score = models.DecimalField(max_digits=8, decimal_places=2, default=100)
    taken_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = AssessmentLogQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_score__gt=0), name="dashboard_assessment_max_positive"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=models.F("max_score")),
                name="dashboard_assessment_score_in_range",
                violation_error_message="The score must be between 0 and the maximum score.",
            ),
        ]
        indexes = [
            # A (student, subject)'s rows in time order: the performance recomputation and
            # the admin's trend chart; also a student's activity in the last 14 days.
            models.Index(fields=["student", "subject", "taken_at", "id"], name="dashboard_assess_student_idx"),
            models.Index(fields=["student", "taken_at"], name="dashboard_assess_recent_idx"),
            # GET assessments/ newest first.
            models.Index(models.F("taken_at").desc(), models.F("id").desc(), name="dashboard_assess_time_idx"),
        ]

    def __str__(self):
        return f"{self.kind} {self.subject} {self.score}/{self.max_score}"

    @property
    def percentage(self) -> float:
        return float(self.score) / float(self.max_score) * 100


class Scope(models.TextChoices):
    OVERALL = "overall"
    SUBJECT = "subject"
    CONCEPT = "concept"


class PerformanceRecord(models.Model):
    """A student's results over one subject, one concept module, or all their assessments
    (``scope``): derived data, kept equal to a recomputation from the assessment rows by
    dashboard/performance.py in the transaction of every write. Percentages are 0-100."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="performance")
    scope = models.CharField(max_length=10, choices=Scope.choices)
    subject = models.CharField(max_length=100, blank=True, help_text="Subject records only.")
    concept_module = models.ForeignKey(
        ConceptModule, null=True, blank=True, on_delete=models.CASCADE, related_name="performance"
    )
    count = models.PositiveIntegerField()
    mean = models.FloatField(help_text="Mean percentage (Canvas 'average').")
    last = models.FloatField(help_text="Percentage of the latest assessment (Canvas 'latest').")
    best = models.FloatField(help_text="Highest percentage (Canvas 'highest').")
    decaying = models.FloatField(help_text="Decaying average in taken_at order (Canvas 'decaying average').")
    n_mastery = models.FloatField(
        null=True, blank=True, help_text="Mean of the scores at or above the threshold, once there are N (Canvas)."
    )
    trend = models.FloatField(
        null=True, blank=True, help_text="Least-squares slope of percentage over time, points per day."
    )
    first_at = models.DateTimeField()
    last_at = models.DateTimeField(help_text="The latest assessment's taken_at.")
    # The state that lets new rows extend the record without reading the earlier ones
    # (performance.merge_inserted): not shown, verified with the values by
    # ``recompute_performance --check``.
    last_id = models.BigIntegerField(help_text="The latest assessment's id (ties of taken_at go by id).")
    pct_sum = models.FloatField(help_text="Sum of the percentages.")
    mastery_count = models.PositiveIntegerField(help_text="How many percentages are at or above the threshold.")
    mastery_sum = models.FloatField(help_text="Their sum.")
    day_sum = models.FloatField(help_text="Sum of the days (taken_at as days since 1970).")
    day_sxx = models.FloatField(help_text="Centred sum of squares of the days.")
    day_sxy = models.FloatField(help_text="Centred sum of products of days and percentages.")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The conflict targets of the recomputation's upserts.
            models.UniqueConstraint(
                fields=["student"], condition=models.Q(scope="overall"), name="dashboard_perf_overall_uniq"
            ),
            models.UniqueConstraint(
                fields=["student", "subject"], condition=models.Q(scope="subject"), name="dashboard_perf_subject_uniq"
            ),
            models.UniqueConstraint(
                fields=["student", "concept_module"],
                condition=models.Q(scope="concept"),
                name="dashboard_perf_concept_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(scope="concept", concept_module__isnull=False, subject="")
                | models.Q(scope="subject", concept_module__isnull=True)
                | models.Q(scope="overall", concept_module__isnull=True, subject=""),
                name="dashboard_perf_scope_fields",
            ),
        ]

    def __str__(self):
        what = {Scope.OVERALL: "all subjects", Scope.SUBJECT: self.subject}.get(self.scope, self.concept_module_id)
        return f"{self.student_id} · {what}: {self.mean:.1f}%"


class DraftStatus(models.TextChoices):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review", "in review"
    RETURNED = "returned"
    ACCEPTED = "accepted"


class DraftQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DraftQuerySet":
        return self.filter(student__in=Student.objects.visible_to(user))


class Draft(models.Model):
    """A student's written work, reviewed by staff (transitions: dashboard/services.py)."""

    # status → the statuses it may move to; who may move it is the services' business.
    TRANSITIONS = {
        DraftStatus.DRAFT: (DraftStatus.SUBMITTED,),
        DraftStatus.SUBMITTED: (DraftStatus.IN_REVIEW,),
        DraftStatus.IN_REVIEW: (DraftStatus.RETURNED, DraftStatus.ACCEPTED),
        DraftStatus.RETURNED: (DraftStatus.SUBMITTED,),
        DraftStatus.ACCEPTED: (),
    }
    EDITABLE = (DraftStatus.DRAFT, DraftStatus.RETURNED)

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="drafts")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=DraftStatus.choices, default=DraftStatus.DRAFT)
    feedback = models.TextField(blank=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["status", "submitted_at"], name="dashboard_draft_status_idx")]

    def __str__(self):
        return self.title

    def allowed_transitions(self) -> tuple[str, ...]:
        return tuple(str(status) for status in self.TRANSITIONS[DraftStatus(self.status)])


class DraftVersion(models.Model):
    """The body as it was at one submission."""

    draft = models.ForeignKey(Draft, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    word_count = models.PositiveIntegerField()
    submitted_at = models.DateTimeField()

    class Meta:
        ordering = ["draft", "number"]
        constraints = [models.UniqueConstraint(fields=["draft", "number"], name="dashboard_draftversion_uniq")]

    def __str__(self):
        return f"{self.draft} v{self.number}"
