"""Dropout risk: courses and their presentations, enrolments with OULAD's background attributes,
the assessment calendar and submissions, learning-platform activity (the click stream), features
at a cut-off day, trained models with their cards, and predictions with reasons.

Days are counted from the presentation's start (negative before it), as in OULAD.

Who sees what (``visible_to``): holders of the app's view permission (student-support staff,
the "Dropout risk staff" group) see every enrolment; other staff see the enrolments of the
students of the cohorts they teach (dashboard.Cohort); nobody else sees any. Writes go through
dropout/ingest.py (imports), dropout/training.py and dropout/predicting.py, which audit them.
"""

import hashlib

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from dashboard.models import EXTERNAL_ID, Student, taught_student_ids

PRESENTATION_CODE = RegexValidator(
    r"^\d{4}[A-Z]$", "A year and a letter, e.g. 2014J (B starts in February, J in October)."
)


def is_support_staff(user, action: str = "view", model: str = "enrollment") -> bool:
    """Holds the app's model permission (e.g. the "Dropout risk staff" group)."""
    return user.is_authenticated and user.is_active and user.has_perm(f"dropout.{action}_{model}")


def visible_student_ids(user):
    """The students whose enrolments ``user`` may see: None for all, else a subquery."""
    if is_support_staff(user):
        return None
    return taught_student_ids(user)


class Course(models.Model):
    """A module, e.g. AAA."""

    code = models.CharField(max_length=45, unique=True, validators=[EXTERNAL_ID])
    title = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.code


class Presentation(models.Model):
    """One run of a course, e.g. AAA 2014J. OULAD gives no start dates: the importer takes the
    first of February for B presentations and of October for J ones."""

    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="presentations")
    code = models.CharField(max_length=5, validators=[PRESENTATION_CODE])
    start_date = models.DateField()
    length_days = models.PositiveIntegerField(validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["course__code", "code"]
        constraints = [
            models.UniqueConstraint(fields=["course", "code"], name="dropout_presentation_uniq"),
            models.CheckConstraint(condition=models.Q(length_days__gt=0), name="dropout_presentation_length_positive"),
        ]

    def __str__(self):
        return f"{self.course.code} {self.code}"


class Result(models.TextChoices):
    PASS = "pass"  # noqa: S105 (a result, not a password)
    DISTINCTION = "distinction"
    FAIL = "fail"
    WITHDRAWN = "withdrawn"


class Target(models.TextChoices):
    WITHDRAWN = "withdrawn", "withdrawn"
    WITHDRAWN_OR_FAIL = "withdrawn_or_fail", "withdrawn or fail"

    @property
    def results(self) -> tuple[str, ...]:
        """The final results that count as positive."""
        if self is Target.WITHDRAWN:
            return (Result.WITHDRAWN.value,)
        return (Result.WITHDRAWN.value, Result.FAIL.value)


class Education(models.TextChoices):
    # In OULAD's order, lowest first (the feature is the position).
    NONE = "no_formal", "No formal quals"
    BELOW_A_LEVEL = "below_a_level", "Lower than A level"
    A_LEVEL = "a_level", "A level or equivalent"
    HE = "he", "HE qualification"
    POSTGRADUATE = "postgraduate", "Post graduate qualification"


class AgeBand(models.TextChoices):
    UNDER_35 = "0-35"
    FROM_35_TO_55 = "35-55"
    OVER_55 = "55+", "55 and over"


IMD_BANDS = [f"{low}-{low + 10}%" for low in range(0, 100, 10)]


class EnrollmentQuerySet(models.QuerySet):
    def visible_to(self, user) -> "EnrollmentQuerySet":
        if not (user.is_authenticated and user.is_active and (user.is_staff or is_support_staff(user))):
            return self.none()
        ids = visible_student_ids(user)
        return self if ids is None else self.filter(student_id__in=ids)


class Enrollment(models.Model):
    """A student on a presentation, with the background OULAD records per enrolment."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="enrollments")
    presentation = models.ForeignKey(Presentation, on_delete=models.CASCADE, related_name="enrollments")
    registered_day = models.IntegerField(null=True, blank=True, help_text="Empty when unknown.")
    unregistered_day = models.IntegerField(null=True, blank=True, help_text="Empty: did not unregister.")
    final_result = models.CharField(
        max_length=12, choices=Result.choices, blank=True, help_text="Empty while the presentation runs."
    )
    gender = models.CharField(max_length=1, choices=[("F", "female"), ("M", "male")], blank=True)
    region = models.CharField(max_length=100, blank=True)
    highest_education = models.CharField(max_length=15, choices=Education.choices, blank=True)
    imd_band = models.CharField(
        max_length=7,
        choices=[(band, band) for band in IMD_BANDS],
        blank=True,
        help_text="Index of multiple deprivation of the student's area, in tenths (0-10% most deprived).",
    )
    age_band = models.CharField(max_length=5, choices=AgeBand.choices, blank=True)
    previous_attempts = models.PositiveSmallIntegerField(default=0)
    studied_credits = models.PositiveSmallIntegerField(default=0)
    disability = models.BooleanField(null=True, blank=True)

    objects = EnrollmentQuerySet.as_manager()

    class Meta:
        ordering = ["presentation", "student"]
        constraints = [
            models.UniqueConstraint(fields=["student", "presentation"], name="dropout_enrollment_uniq"),
        ]
        indexes = [
            # A presentation's population at a cut-off (features, predictions, the risk list).
            models.Index(fields=["presentation", "registered_day"], name="dropout_enrol_pres_idx"),
        ]

    def __str__(self):
        return f"{self.student.external_id} · {self.presentation}"


class AttemptHistory(models.Model):
    """A student's attempt at a course and its result, one per enrolment that has a final result
    (kept up to date by the importer); ``ended_on`` says from when the result was known, so a
    feature at a cut-off counts only attempts that had ended by then."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="attempts")
    course = models.ForeignKey(Course, on_delete=models.CASCADE, related_name="attempts")
    presentation = models.ForeignKey(Presentation, on_delete=models.CASCADE, related_name="attempts")
    result = models.CharField(max_length=12, choices=Result.choices)
    ended_on = models.DateField(help_text="The presentation's last day.")

    class Meta:
        ordering = ["student", "ended_on"]
        verbose_name_plural = "attempt history"
        constraints = [models.UniqueConstraint(fields=["student", "presentation"], name="dropout_attempt_uniq")]
        indexes = [
            # An enrolment's earlier attempts at the same course (features).
            models.Index(fields=["student", "course", "ended_on"], name="dropout_attempt_student_idx"),
        ]

    def __str__(self):
        return f"{self.student_id} · {self.presentation}: {self.result}"


class AssessmentType(models.TextChoices):
    TMA = "TMA", "tutor-marked assignment"
    CMA = "CMA", "computer-marked assignment"
    EXAM = "Exam", "exam"


class Assessment(models.Model):
    """One assessment of a presentation's calendar. ``external_id`` is OULAD's id_assessment,
    unique across presentations (submissions name only it)."""

    presentation = models.ForeignKey(Presentation, on_delete=models.CASCADE, related_name="assessments")
    external_id = models.CharField(max_length=45, unique=True, validators=[EXTERNAL_ID])
    assessment_type = models.CharField(max_length=4, choices=AssessmentType.choices)
    deadline_day = models.IntegerField(null=True, blank=True, help_text="Empty for some exams: at the end.")
    weight = models.FloatField(validators=[MinValueValidator(0), MaxValueValidator(100)])

    class Meta:
        ordering = ["presentation", "deadline_day", "external_id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight__gte=0, weight__lte=100), name="dropout_assessment_weight_range"
            ),
        ]

    def __str__(self):
        return f"{self.assessment_type} {self.external_id}"


class AssessmentSubmission(models.Model):
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="submissions")
    assessment = models.ForeignKey(Assessment, on_delete=models.CASCADE, related_name="submissions")
    submitted_day = models.IntegerField()
    banked = models.BooleanField(default=False, help_text="Carried over from an earlier presentation.")
    score = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(100)], help_text="0-100."
    )

    class Meta:
        ordering = ["enrollment", "submitted_day"]
        constraints = [
            # Also the index of an enrolment's submissions (features).
            models.UniqueConstraint(fields=["enrollment", "assessment"], name="dropout_submission_uniq"),
            models.CheckConstraint(
                condition=models.Q(score__gte=0, score__lte=100) | models.Q(score__isnull=True),
                name="dropout_submission_score_range",
            ),
        ]
        indexes = [models.Index(fields=["assessment"], name="dropout_submission_assess_idx")]

    def __str__(self):
        return f"{self.enrollment_id} · {self.assessment_id}: {self.score}"


class LearningActivity(models.Model):
    """A site of the learning platform (OULAD's vle.csv)."""

    presentation = models.ForeignKey(Presentation, on_delete=models.CASCADE, related_name="activities")
    external_id = models.CharField(max_length=45, validators=[EXTERNAL_ID])
    activity_type = models.CharField(max_length=45)
    week_from = models.SmallIntegerField(null=True, blank=True)
    week_to = models.SmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["presentation", "external_id"]
        verbose_name_plural = "learning activities"
        constraints = [models.UniqueConstraint(fields=["presentation", "external_id"], name="dropout_activity_uniq")]

    def __str__(self):
        return f"{self.activity_type} {self.external_id}"


class LearningEvent(models.Model):
    """Clicks of an enrolment on an activity on a day: append-only and large (OULAD's
    studentVle.csv has 10.6 million rows), written only with COPY (dropout/ingest.py)."""

    id = models.BigAutoField(primary_key=True)
    # No index of their own: the one below starts with the enrolment, and activities are
    # only deleted with their presentation (which deletes its enrolments' events first).
    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="events", db_index=False)
    activity = models.ForeignKey(LearningActivity, on_delete=models.CASCADE, related_name="events", db_index=False)
    day = models.IntegerField()
    clicks = models.PositiveIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(clicks__gt=0), name="dropout_event_clicks_positive")]
        indexes = [
            # An enrolment's events up to a cut-off day (features).
            models.Index(fields=["enrollment", "day"], name="dropout_event_enrol_day_idx"),
        ]

    def __str__(self):
        return f"{self.enrollment_id} day {self.day}: {self.clicks} clicks"


class FeatureSet(models.Model):
    """An enrolment's features at a cut-off day (dropout/features.py), as the model saw them."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="feature_sets")
    cutoff_day = models.IntegerField()
    version = models.CharField(max_length=20)
    values = models.JSONField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "cutoff_day", "version"], name="dropout_featureset_uniq")
        ]

    def __str__(self):
        return f"{self.enrollment_id} @ day {self.cutoff_day} ({self.version})"


class Algorithm(models.TextChoices):
    BLEND = "blend", "LightGBM trees and a logistic regression, averaged in log-odds"


class DropoutModelQuerySet(models.QuerySet):
    def active(self, target: str, cutoff_day: int) -> "DropoutModel | None":
        return self.filter(target=target, cutoff_day=cutoff_day, is_active=True).first()


class ArtefactTampered(Exception):
    """The stored artefact's SHA-256 is not the one recorded at training."""


class DropoutModel(models.Model):
    """A trained model: what it predicts, from what, how well (``card``), and its artefact.
    The artefact is a JSON document (dropout/blend.py: LightGBM's text model and the linear
    model's numbers; parsing it cannot run code), checked against its SHA-256 on every load."""

    name = models.CharField(max_length=100)
    target = models.CharField(max_length=20, choices=Target.choices)
    cutoff_day = models.IntegerField()
    algorithm = models.CharField(max_length=20, choices=Algorithm.choices, default=Algorithm.BLEND)
    parameters = models.JSONField(help_text="Hyper-parameters, trees, calibration.")
    features = models.JSONField(help_text="The feature names, in the artefact's column order.")
    feature_version = models.CharField(max_length=20)
    train_presentations = models.JSONField(help_text="Presentation codes trained on.")
    validation_presentations = models.JSONField(help_text="Presentation codes validated on.")
    metrics = models.JSONField(help_text="On the validation presentations.")
    card = models.JSONField(help_text="The model card: data, features, metrics per group, limits.")
    threshold_medium = models.FloatField(help_text="Probabilities from here are medium risk.")
    threshold_high = models.FloatField(help_text="Probabilities from here are high risk.")
    artefact = models.BinaryField()
    sha256 = models.CharField(max_length=64, verbose_name="SHA-256")
    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=False)

    objects = DropoutModelQuerySet.as_manager()

    class Meta:
        ordering = ["-trained_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "cutoff_day"],
                condition=models.Q(is_active=True),
                name="dropout_model_one_active",
                violation_error_message="Another model is active for this target and cut-off day.",
            ),
            models.CheckConstraint(
                condition=models.Q(threshold_medium__gt=0, threshold_medium__lte=models.F("threshold_high"))
                & models.Q(threshold_high__lt=1),
                name="dropout_model_thresholds_ordered",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.target}, day {self.cutoff_day})"

    def artefact_bytes(self) -> bytes:
        """The artefact, refused if it is not the one trained."""
        data = bytes(self.artefact)
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise ArtefactTampered(f"Model {self.pk}: the artefact's SHA-256 does not match; refusing to load it.")
        return data

    def band(self, probability: float) -> str:
        if probability >= self.threshold_high:
            return Band.HIGH
        if probability >= self.threshold_medium:
            return Band.MEDIUM
        return Band.LOW


class Band(models.TextChoices):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class DropoutPredictionQuerySet(models.QuerySet):
    def visible_to(self, user) -> "DropoutPredictionQuerySet":
        return self.filter(enrollment__in=Enrollment.objects.visible_to(user))


class DropoutPrediction(models.Model):
    """An enrolment's risk at a cut-off under a model, with the features that weighed most."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="predictions")
    model = models.ForeignKey(DropoutModel, on_delete=models.CASCADE, related_name="predictions")
    cutoff_day = models.IntegerField()
    probability = models.FloatField()
    band = models.CharField(max_length=6, choices=Band.choices)
    reasons = models.JSONField(help_text="[{feature, value, contribution, text}], strongest first.")
    predicted_at = models.DateTimeField()

    objects = DropoutPredictionQuerySet.as_manager()

    class Meta:
        ordering = ["-probability", "id"]
        verbose_name = "risk prediction"
        constraints = [
            models.UniqueConstraint(fields=["enrollment", "model"], name="dropout_prediction_uniq"),
            models.CheckConstraint(
                condition=models.Q(probability__gte=0, probability__lte=1), name="dropout_prediction_probability"
            ),
        ]
        indexes = [
            # An enrolment's latest prediction (students/{id}/risk/, the dashboard's badge).
            models.Index(fields=["enrollment", "-predicted_at"], name="dropout_pred_enrol_idx"),
            # The risk list: a model's predictions by probability.
            models.Index(fields=["model", "-probability"], name="dropout_pred_model_idx"),
        ]

    def __str__(self):
        return f"{self.enrollment_id}: {self.probability:.2f} ({self.band})"
