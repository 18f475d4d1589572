"""FRAMES: the consortium's research data (universities, people, teams, projects, the interfaces
between them and the risk factors that say how much knowledge an interface loses), the factor
models that weigh those factors, and the outcomes they are validated against. docs/frames.md.

Who sees what is decided here, in one place (``visible_to``): researchers (the
``frames.research`` permission) see everything; faculty see their university's data, and an
interface whose other end is at their university; students see their own records. Writes go
through frames/services.py, which audits them (veritas/audit.py).
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Case,
    Exists,
    ExpressionWrapper,
    F,
    FilteredRelation,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Least
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

# --- who the user is -------------------------------------------------------------------------


def is_researcher(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm("frames.research")


def faculty_university_id(user) -> int | None:
    """The university the user is faculty at, or None (one query, cached on the user)."""
    if not (user.is_authenticated and user.is_active):
        return None
    if not hasattr(user, "_frames_faculty_university"):
        user._frames_faculty_university = (
            Faculty.objects.filter(user=user, active=True).values_list("university_id", flat=True).first()
        )
    return user._frames_faculty_university


class UniversityScopedQuerySet(models.QuerySet):
    """Rows that belong to one university (``university`` field): all for researchers, their
    university's for faculty, none for anyone else."""

    def visible_to(self, user):
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        return self.none() if university is None else self.filter(university_id=university)


# --- the consortium --------------------------------------------------------------------------


class UniversityQuerySet(models.QuerySet):
    def visible_to(self, user):
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        return self.none() if university is None else self.filter(pk=university)


class University(models.Model):
    """One of the consortium's universities; one of them leads it (Cal Poly Pomona)."""

    code = models.SlugField(max_length=32, unique=True, help_text="A short stable id, e.g. cpp.")
    name = models.CharField(max_length=200, unique=True)
    is_lead = models.BooleanField(default=False)
    active = models.BooleanField(default=True)

    objects = UniversityQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "universities"
        permissions = [("research", "Research across the consortium: read everything, manage factors and models")]
        constraints = [
            models.UniqueConstraint(fields=["is_lead"], condition=Q(is_lead=True), name="frames_one_lead_university"),
        ]

    def __str__(self):
        return self.name


class Faculty(models.Model):
    """A faculty member (or researcher on staff) at a university; ``user`` is their login."""

    university = models.ForeignKey(University, on_delete=models.PROTECT, related_name="faculty")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="frames_faculty"
    )
    name = models.CharField(max_length=200)
    role = models.CharField(max_length=100, blank=True, help_text="e.g. Principal Investigator.")
    active = models.BooleanField(default=True)

    objects = UniversityScopedQuerySet.as_manager()

    class Meta:
        ordering = ["university", "name"]
        verbose_name_plural = "faculty"

    def __str__(self):
        return self.name


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A consortium project is visible to every faculty member."""
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        if university is None:
            return self.none()
        return self.filter(Q(university_id=university) | Q(university__isnull=True))


class Project(models.Model):
    """A university's project, or a consortium project (no university) such as PROVES."""

    university = models.ForeignKey(
        University,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="projects",
        help_text="Empty for a consortium project.",
    )
    name = models.CharField(max_length=200)
    type = models.CharField(max_length=50, blank=True, help_text="e.g. consortium, jpl-contract, internal.")
    is_collaborative = models.BooleanField(default=False)
    duration_months = models.PositiveSmallIntegerField(null=True, blank=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["university", "name"], name="frames_project_name_unique", nulls_distinct=False
            ),
        ]

    def __str__(self):
        return self.name


class Team(models.Model):
    """A student team of a university, working on a project."""

    university = models.ForeignKey(University, on_delete=models.PROTECT, related_name="teams")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="teams")
    name = models.CharField(max_length=200)
    discipline = models.CharField(max_length=100, blank=True, help_text="e.g. software, electrical, mission-ops.")

    objects = UniversityScopedQuerySet.as_manager()

    class Meta:
        ordering = ["university", "name"]
        constraints = [models.UniqueConstraint(fields=["university", "name"], name="frames_team_name_unique")]

    def __str__(self):
        return self.name


def status_of_terms(terms) -> Case:
    """Student.status as SQL, from an expression of the terms remaining (the legacy rule)."""
    return Case(
        When(GreaterThanOrEqual(terms, Value(4)), then=Value("incoming")),
        When(GreaterThanOrEqual(terms, Value(2)), then=Value("established")),
        default=Value("outgoing"),
        output_field=models.CharField(),
    )


class StudentQuerySet(UniversityScopedQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        """As save() does: each student's status from their terms remaining."""
        objs = list(objs)
        for student in objs:
            student.status = status_of(student.terms_remaining)
        return super().bulk_create(objs, *args, **kwargs)

    def visible_to(self, user):
        """Faculty and researchers as for other rows; a student sees their own record."""
        scoped = super().visible_to(user)
        if is_researcher(user) or faculty_university_id(user) is not None:
            return scoped
        return self.filter(user=user) if user.is_authenticated and user.is_active else self.none()


class Student(models.Model):
    """A student participant. ``status`` follows from ``terms_remaining`` (the legacy rule):
    incoming with 4 or more, established with 2 or 3, outgoing below."""

    class Status(models.TextChoices):
        INCOMING = "incoming"
        ESTABLISHED = "established"
        OUTGOING = "outgoing"

    university = models.ForeignKey(University, on_delete=models.PROTECT, related_name="students")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="frames_student"
    )
    name = models.CharField(max_length=200)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="members")
    expertise_area = models.CharField(max_length=100, blank=True)
    graduation_term = models.CharField(max_length=20, blank=True, help_text="e.g. Spring 2027.")
    terms_remaining = models.PositiveSmallIntegerField(default=4)
    # Derived from terms_remaining (set on save, and by advance_term in SQL); a constraint keeps
    # the two in step. Not a GeneratedField: its system check needs a database connection,
    # which commands such as `embedded_db start` must run without.
    status = models.CharField(max_length=12, choices=Status.choices, editable=False)
    is_lead = models.BooleanField(default=False, help_text="Leads their team.")
    active = models.BooleanField(default=True, help_text="Off once graduated.")
    graduated_at = models.DateTimeField(null=True, blank=True)

    objects = StudentQuerySet.as_manager()

    class Meta:
        ordering = ["university", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status=status_of_terms(F("terms_remaining"))), name="frames_student_status_follows_terms"
            ),
            # One lead per team at a time.
            models.UniqueConstraint(
                fields=["team"], condition=Q(is_lead=True, active=True), name="frames_one_lead_per_team"
            ),
            models.CheckConstraint(
                condition=Q(active=True, graduated_at__isnull=True) | Q(active=False),
                name="frames_student_graduated_inactive",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.status = status_of(self.terms_remaining)
        super().save(*args, **kwargs)

    def clean(self):
        if self.terms_remaining is not None:  # before the constraints are checked (full_clean)
            self.status = status_of(self.terms_remaining)


def status_of(terms_remaining: int) -> str:
    if terms_remaining >= 4:
        return Student.Status.INCOMING
    return Student.Status.ESTABLISHED if terms_remaining >= 2 else Student.Status.OUTGOING


class Departure(models.Model):
    """A student who left a team when ``advance_term`` graduated them: who left which team."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="departures")
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="departures")
    university = models.ForeignKey(University, on_delete=models.PROTECT, related_name="departures")
    left_at = models.DateTimeField(default=timezone.now)
    was_lead = models.BooleanField(default=False)

    objects = UniversityScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-left_at", "-id"]

    def __str__(self):
        return f"{self.student} left {self.team or 'no team'}"


# --- interfaces and risk factors --------------------------------------------------------------


class EntityKind(models.TextChoices):
    TEAM = "team"
    FACULTY = "faculty"
    STUDENT = "student"
    PROJECT = "project"


ENTITY_MODELS = {
    EntityKind.TEAM: Team,
    EntityKind.FACULTY: Faculty,
    EntityKind.STUDENT: Student,
    EntityKind.PROJECT: Project,
}


class InterfaceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """An interface is visible at both of its ends' universities."""
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        if university is None:
            return self.none()
        return self.filter(Q(from_university_id=university) | Q(to_university_id=university))

    def with_names(self):
        """Each interface annotated with ``from_name`` and ``to_name``: its ends' names (a
        subquery per kind, for a page of rows)."""

        def name_of(end: str):
            return Case(
                *(
                    When(
                        **{f"{end}_kind": kind},
                        then=Subquery(model.objects.filter(pk=OuterRef(f"{end}_id")).values("name")[:1]),
                    )
                    for kind, model in ENTITY_MODELS.items()
                ),
                output_field=models.CharField(),
            )

        return self.annotate(from_name=name_of("from"), to_name=name_of("to"))

    def with_loss(self, model: "FactorModel"):
        """Each interface annotated with ``loss`` under ``model``: min(1, sum of contribution x
        weight over the model's enabled factors among the interface's current factor values),
        0 without any, and ``level``. One aggregate in SQL for all of them, in exact decimals."""
        return self.alias(
            current=FilteredRelation("factor_values", condition=Q(factor_values__ended_at__isnull=True)),
            weighing=FilteredRelation(
                "current__factor__model_weights",
                condition=Q(current__factor__model_weights__model=model, current__factor__model_weights__enabled=True),
            ),
        ).annotate(
            loss=Least(
                Value(Decimal(1)),
                Coalesce(models.Sum(F("current__value__contribution") * F("weighing__weight")), Value(Decimal(0))),
                output_field=LOSS_FIELD,
            ),
            level=level_of(F("loss")),
        )


LOSS_FIELD = models.DecimalField(max_digits=12, decimal_places=8)


class Level(models.TextChoices):
    """The legacy engine's levels: low < 0.15 <= moderate < 0.35 <= high < 0.60 <= critical."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"
    CRITICAL = "critical"


LEVEL_FLOORS = ((Level.CRITICAL, Decimal("0.60")), (Level.HIGH, Decimal("0.35")), (Level.MODERATE, Decimal("0.15")))


def level_of(loss) -> Case:
    """``loss`` (an expression) as a Level, in SQL."""
    return Case(
        *(When(GreaterThanOrEqual(loss, Value(floor)), then=Value(name)) for name, floor in LEVEL_FLOORS),
        default=Value(Level.LOW),
        output_field=models.CharField(),
    )


def level(loss: Decimal) -> str:
    """The level of a loss, in Python (the same floors)."""
    for name, floor in LEVEL_FLOORS:
        if loss >= floor:
            return name
    return Level.LOW


# Interface.cross_university as SQL: both ends' universities known, and different.
CROSSES = ExpressionWrapper(
    Q(from_university__isnull=False, to_university__isnull=False) & ~Q(from_university=F("to_university")),
    output_field=models.BooleanField(),
)


class Interface(models.Model):
    """A link between two entities (team, faculty, student or project). The universities at its
    ends come from the entities (a consortium project has none); ``cross_university`` when both
    are known and differ."""

    class Type(models.TextChoices):
        CONCURRENT = "concurrent"
        EXTERNAL = "external"
        INTERGENERATIONAL = "intergenerational"

    class Bond(models.TextChoices):
        CODIFIED_STRONG = "codified-strong"
        CODIFIED_MODERATE = "codified-moderate"
        INSTITUTIONAL_WEAK = "institutional-weak"
        FRAGILE_TEMPORARY = "fragile-temporary"

    from_kind = models.CharField(max_length=10, choices=EntityKind.choices)
    from_id = models.PositiveBigIntegerField()
    to_kind = models.CharField(max_length=10, choices=EntityKind.choices)
    to_id = models.PositiveBigIntegerField()
    interface_type = models.CharField(max_length=20, choices=Type.choices)
    bond_type = models.CharField(max_length=20, choices=Bond.choices, blank=True)
    from_university = models.ForeignKey(
        University, null=True, blank=True, on_delete=models.PROTECT, related_name="interfaces_from"
    )
    to_university = models.ForeignKey(
        University, null=True, blank=True, on_delete=models.PROTECT, related_name="interfaces_to"
    )
    # Derived from the ends' universities on save; a constraint keeps it in step.
    cross_university = models.BooleanField(editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    objects = InterfaceQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_kind=F("to_kind"), from_id=F("to_id")), name="frames_interface_two_ends"
            ),
            models.CheckConstraint(condition=Q(cross_university=CROSSES), name="frames_interface_cross_follows_ends"),
            models.UniqueConstraint(
                fields=["from_kind", "from_id", "to_kind", "to_id", "interface_type"], name="frames_interface_unique"
            ),
        ]
        indexes = [
            # visible_to: an interface by either end's university.
            models.Index(fields=["from_university"], name="frames_interface_from_uni"),
            models.Index(fields=["to_university"], name="frames_interface_to_uni"),
        ]

    def __str__(self):
        return f"{self.from_kind} {self.from_id} -> {self.to_kind} {self.to_id} ({self.interface_type})"

    def save(self, *args, **kwargs):
        self.cross_university = self.ends_cross()
        super().save(*args, **kwargs)

    @classmethod
    def between(cls, source, target, interface_type: str, **fields) -> "Interface":
        """An (unsaved) interface from one entity (a Team, Faculty, Student or Project) to
        another, the universities at its ends taken from them."""
        kinds = {model: kind for kind, model in ENTITY_MODELS.items()}
        interface = cls(
            from_kind=kinds[type(source)],
            from_id=source.pk,
            from_university_id=source.university_id,
            to_kind=kinds[type(target)],
            to_id=target.pk,
            to_university_id=target.university_id,
            interface_type=interface_type,
            **fields,
        )
        interface.cross_university = interface.ends_cross()  # set for bulk_create too
        return interface

    def ends_cross(self) -> bool:
        """Both ends' universities known, and different (CROSSES, in Python)."""
        ends = (self.from_university_id, self.to_university_id)
        return None not in ends and ends[0] != ends[1]


class RiskFactor(models.Model):
    """Something about an interface that makes it lose knowledge (e.g. knowledge type)."""

    class Category(models.TextChoices):
        NDA_DIMENSION = "NDA_Dimension", "NDA dimension"
        INTERFACE_PROPERTY = "Interface_Property", "interface property"
        ENTITY_ATTRIBUTE = "Entity_Attribute", "entity attribute"

    class Confidence(models.TextChoices):
        ESTABLISHED = "established"
        PROVISIONAL = "provisional"
        EXPLORATORY = "exploratory"

    name = models.SlugField(max_length=64, unique=True, help_text="A stable id, e.g. knowledge_type.")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=20, choices=Category.choices)
    confidence = models.CharField(max_length=12, choices=Confidence.choices, default=Confidence.PROVISIONAL)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.display_name


class FactorValue(models.Model):
    """One value a factor can take, and how much of an interface's knowledge it loses (0 to 1)."""

    factor = models.ForeignKey(RiskFactor, on_delete=models.CASCADE, related_name="values")
    name = models.SlugField(max_length=64)
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    contribution = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="The energy loss this value contributes, 0 to 1.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["factor", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["factor", "name"], name="frames_factor_value_name_unique"),
            # The target of InterfaceFactorValue's (value, factor) foreign key (migration 0001).
            models.UniqueConstraint(fields=["id", "factor"], name="frames_factor_value_id_factor"),
            models.CheckConstraint(
                condition=Q(contribution__gte=0, contribution__lte=1), name="frames_contribution_range"
            ),
        ]

    def __str__(self):
        return f"{self.factor.name}: {self.name}"


class InterfaceFactorValue(models.Model):
    """An interface's value of a factor from ``assigned_at``; assigning another ends it
    (``ended_at``), so the history stays and one value per interface and factor is current."""

    interface = models.ForeignKey(Interface, on_delete=models.CASCADE, related_name="factor_values")
    factor = models.ForeignKey(RiskFactor, on_delete=models.PROTECT, related_name="interface_values")
    value = models.ForeignKey(FactorValue, on_delete=models.PROTECT, related_name="interface_values")
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["interface", "factor", "-assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["interface", "factor"], condition=Q(ended_at__isnull=True), name="frames_one_current_value"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("assigned_at")), name="frames_value_period"
            ),
        ]

    def __str__(self):
        return f"interface {self.interface_id}: {self.value}"


class FactorModel(models.Model):
    """A hypothesis about which factors matter: a weight per factor. Exactly one is active."""

    class ValidationStatus(models.TextChoices):
        TESTING = "testing"
        VALIDATED = "validated"
        REJECTED = "rejected"

    name = models.SlugField(max_length=64, unique=True)
    display_name = models.CharField(max_length=200)
    hypothesis = models.TextField(blank=True)
    is_baseline = models.BooleanField(default=False)
    is_active = models.BooleanField(default=False)
    validation_status = models.CharField(
        max_length=10, choices=ValidationStatus.choices, default=ValidationStatus.TESTING
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="frames_one_active_model"),
        ]

    def __str__(self):
        return self.display_name


class ModelFactor(models.Model):
    """A factor's weight (0 to 2; 1 is neutral) in a model; a disabled factor does not count."""

    model = models.ForeignKey(FactorModel, on_delete=models.CASCADE, related_name="weights")
    factor = models.ForeignKey(RiskFactor, on_delete=models.PROTECT, related_name="model_weights")
    weight = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal(1), validators=[MinValueValidator(0), MaxValueValidator(2)]
    )
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["model", "factor"]
        constraints = [
            models.UniqueConstraint(fields=["model", "factor"], name="frames_model_factor_unique"),
            models.CheckConstraint(condition=Q(weight__gte=0, weight__lte=2), name="frames_weight_range"),
        ]

    def __str__(self):
        return f"{self.model.name}: {self.factor.name} x {self.weight}"


class Outcome(models.Model):
    """What happened to a university's project in a cohort: a mission or the program succeeded or not."""

    class Type(models.TextChoices):
        MISSION_SUCCESS = "mission_success"
        PROGRAM_SUCCESS = "program_success"

    university = models.ForeignKey(University, on_delete=models.PROTECT, related_name="outcomes")
    project = models.ForeignKey(Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="outcomes")
    outcome_type = models.CharField(max_length=20, choices=Type.choices)
    success = models.BooleanField()
    cohort_year = models.PositiveSmallIntegerField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = UniversityScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-cohort_year", "id"]

    def __str__(self):
        return f"{self.get_outcome_type_display()} {self.cohort_year or ''}: {'success' if self.success else 'failure'}"


class ModelValidation(models.Model):
    """One outcome of one validation run of a model: the risk the model predicted for the
    outcome's project and whether knowledge was actually lost (the outcome failed)."""

    model = models.ForeignKey(FactorModel, on_delete=models.CASCADE, related_name="validations")
    outcome = models.ForeignKey(Outcome, on_delete=models.CASCADE, related_name="validations")
    run = models.UUIDField(help_text="The validation run this row belongs to.")
    predicted_risk = models.DecimalField(max_digits=12, decimal_places=8)
    actual_loss = models.BooleanField(help_text="The outcome failed.")
    validated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-validated_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "outcome"], name="frames_validation_once_per_run"),
            models.CheckConstraint(
                condition=Q(predicted_risk__gte=0, predicted_risk__lte=1), name="frames_predicted_risk_range"
            ),
        ]
        indexes = [models.Index(fields=["model", "-validated_at"], name="frames_validation_latest")]

    def __str__(self):
        return f"{self.model.name} on outcome {self.outcome_id}: {self.predicted_risk}"


# --- the onboarding LMS ----------------------------------------------------------------------


class ModuleQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Researchers see every module; faculty their university's and the consortium's
        (no university); a student the published modules they are assigned, and the archived
        revisions they started (they finish what they began)."""
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        if university is not None:
            return self.filter(Q(university_id=university) | Q(university__isnull=True))
        if not (user.is_authenticated and user.is_active):
            return self.none()
        assigned = ModuleAssignment.objects.filter(module=OuterRef("pk"), student__user=user)
        started = ModuleProgress.objects.filter(module=OuterRef("pk"), student__user=user)
        return self.filter(Exists(assigned)).filter(
            Q(status=Module.Status.PUBLISHED) | Q(Exists(started), status=Module.Status.ARCHIVED)
        )


class StudentRowQuerySet(models.QuerySet):
    """Rows about a student (assignments, progress, events, feedback): researchers see all,
    faculty their university's students', a student their own."""

    def visible_to(self, user):
        if is_researcher(user):
            return self
        university = faculty_university_id(user)
        if university is not None:
            return self.filter(student__university_id=university)
        return self.filter(student__user=user) if user.is_authenticated and user.is_active else self.none()


class AssignmentQuerySet(StudentRowQuerySet):
    def lock(self) -> None:
        """Lock these assignments until the transaction ends (FOR UPDATE, in id order, as
        learners' writes take theirs: frames.lms.lock_assignments). Publishing, archiving or
        deleting a student takes them first: a learner's write in flight finishes before, and
        the next one sees what changed."""
        list(self.order_by("pk").select_for_update().values_list("pk", flat=True))


class Module(models.Model):
    """An onboarding module, one row per revision: ``key`` is its stable id, ``revision`` counts
    up from 1. A published revision's content is frozen; changing it makes a new draft
    revision (frames.lms.new_revision). ``prerequisites`` are other modules' keys."""

    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"
        ARCHIVED = "archived"

    key = models.SlugField(max_length=64, help_text="The module's stable id across revisions, e.g. safety-101.")
    revision = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=50, blank=True, help_text="e.g. safety, software, mission-ops.")
    estimated_minutes = models.PositiveSmallIntegerField(default=30)
    university = models.ForeignKey(
        University,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="modules",
        help_text="Empty for a consortium-wide module.",
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    prerequisites = ArrayField(models.SlugField(max_length=64), default=list, blank=True, help_text="Module keys.")
    tags = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    objects = ModuleQuerySet.as_manager()

    class Meta:
        ordering = ["key", "-revision"]
        constraints = [
            models.UniqueConstraint(fields=["key", "revision"], name="frames_module_revision_unique"),
            # One published revision of a module at a time.
            models.UniqueConstraint(
                fields=["key"], condition=Q(status="published"), name="frames_module_one_published"
            ),
            models.CheckConstraint(condition=Q(revision__gte=1), name="frames_module_revision_positive"),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(published_at__isnull=False), name="frames_module_published_at"
            ),
        ]

    def __str__(self):
        return f"{self.title} (r{self.revision})"


class ModuleSection(models.Model):
    """A step of a module, in ``order``."""

    class Type(models.TextChoices):
        TEXT = "text"
        VIDEO = "video"
        CHECKLIST = "checklist"
        QUIZ = "quiz"

    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveSmallIntegerField()
    section_type = models.CharField(max_length=10, choices=Type.choices, default=Type.TEXT)
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True, help_text="Markdown text, a video URL, checklist lines or quiz JSON.")
    duration_minutes = models.PositiveSmallIntegerField(default=5)

    class Meta:
        ordering = ["module", "order"]
        constraints = [
            models.UniqueConstraint(fields=["module", "order"], name="frames_section_order_unique"),
            # The target of the events' (section, module) foreign key (migration 0003).
            models.UniqueConstraint(fields=["id", "module"], name="frames_section_id_module"),
        ]

    def __str__(self):
        return f"{self.module.key} {self.order}. {self.title}"


class ModuleAssignment(models.Model):
    """A module assigned to a student, by a faculty member, optionally due and required."""

    # db_index=False: the unique (module, student) index leads with the module.
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="assignments")
    due_at = models.DateTimeField(null=True, blank=True)
    required = models.BooleanField(default=True)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_at = models.DateTimeField(default=timezone.now)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["module", "student"], name="frames_assignment_unique")]

    def __str__(self):
        return f"{self.module} for {self.student}"


class ModuleProgress(models.Model):
    """A student's progress in a module: derived from their events (frames.lms.refresh_progress),
    never written otherwise, so replaying the events gives the same rows."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    # db_index=False on both: the unique (student, module) and the funnel's (module, status)
    # indexes lead with them, and each index is paid for on every progress write.
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="module_progress", db_index=False)
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="progress", db_index=False)
    status = models.CharField(max_length=12, choices=Status.choices)
    percent = models.PositiveSmallIntegerField(validators=[MaxValueValidator(100)])
    current_section = models.ForeignKey(
        ModuleSection, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    last_accessed_at = models.DateTimeField()
    total_seconds = models.PositiveIntegerField(default=0)
    completed_sections = ArrayField(models.BigIntegerField(), default=list, blank=True, help_text="Section ids.")

    objects = StudentRowQuerySet.as_manager()

    class Meta:
        ordering = ["module", "student"]
        constraints = [
            models.UniqueConstraint(fields=["student", "module"], name="frames_progress_unique"),
            models.CheckConstraint(condition=Q(percent__lte=100), name="frames_progress_percent"),
            models.CheckConstraint(
                condition=Q(status="completed", completed_at__isnull=False)
                | Q(status="in_progress", completed_at__isnull=True),
                name="frames_progress_completed_at",
            ),
        ]
        # The funnel counts a module's progress rows by status (frames.lms.funnel). Progress is
        # of an assignment: a composite foreign key to (module, student) (migration 0004).
        indexes = [models.Index(fields=["module", "status"], name="frames_progress_funnel")]

    def __str__(self):
        return f"{self.student} in {self.module}: {self.percent}%"


class ModuleAnalyticsEvent(models.Model):
    """What a student did in a module (append-only; ingested in bulk with COPY, as
    monitoring's logs are): start, section_view (with the section), pause, resume, complete.
    ``duration_seconds`` is the time spent since the previous event."""

    class Type(models.TextChoices):
        START = "start"
        SECTION_VIEW = "section_view"
        PAUSE = "pause"
        RESUME = "resume"
        COMPLETE = "complete"

    # db_index=False on both: the (student, module, at) and (module, at) indexes lead with them,
    # and each index is paid for on every event ingested.
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="module_events", db_index=False)
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="events", db_index=False)
    section = models.ForeignKey(ModuleSection, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    event_type = models.CharField(max_length=12, choices=Type.choices)
    duration_seconds = models.PositiveIntegerField(default=0)
    at = models.DateTimeField()
    received_at = models.DateTimeField(db_default=models.functions.Now())

    objects = StudentRowQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(event_type="section_view", section__isnull=False) | ~Q(event_type="section_view"),
                name="frames_event_view_has_section",
            ),
        ]
        indexes = [
            models.Index(fields=["student", "module", "at"], name="frames_event_progress"),
            models.Index(fields=["module", "at"], name="frames_event_module"),
            models.Index(fields=["-at", "-id"], name="frames_event_newest"),
        ]

    def __str__(self):
        return f"{self.student_id} {self.event_type} {self.module_id} at {self.at:%Y-%m-%d %H:%M}"


class ModuleFeedback(models.Model):
    """A student's rating (1 to 5) and comment on a module; one per student and module."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="module_feedback")
    module = models.ForeignKey(Module, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(5)])
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = StudentRowQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "module feedback"
        constraints = [
            models.UniqueConstraint(fields=["student", "module"], name="frames_feedback_once"),
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="frames_feedback_rating"),
        ]

    def __str__(self):
        return f"{self.rating}/5 on {self.module}"
