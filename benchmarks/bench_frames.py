"""FRAMES (issue 11): energy loss, LMS event ingestion, the completion funnel.

1. The energy loss and level of 10,000 interfaces, each with a current value of 10 factors,
   under a model weighing the 10 (``Interface.objects.with_loss``: one aggregate in SQL) against
   the legacy approach (energy_engine.py's ``calculate_network_energy``: a Python loop that
   reads each interface's factor values with their contributions, and the model's weights, one
   query each per interface, then sums, caps and levels in Python) - target: <= 1/10 of its
   time, and identical numbers (checked outside the timing).
2. ``POST events/`` with 10,000 LMS events (2,000 students x 5 events in one module: HTTP,
   JSON, pydantic validation, the database checks, COPY, the progress of the 2,000 touched
   pairs recomputed, the audit entry) against a raw psycopg COPY of the same rows into the same
   table - target: >= 50 % of COPY's rows per second (a ratio <= 2).
3. The completion funnel of 100 modules over 50,000 students (250,000 assignments, progress
   for most of them) - ``frames.lms.funnel``, at most 5 queries - against the same counts
   aggregated in Python from the rows - target: <= 1/5 of its time, identical counts.

The frames research tables are emptied and refilled at the start of each run, in the benchmark
database only.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import orjson
from django.db import connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext

from frames import lms
from frames import models as frames
from frames.models import (
    FactorModel,
    FactorValue,
    Interface,
    InterfaceFactorValue,
    ModelFactor,
    Module,
    ModuleAssignment,
    ModuleProgress,
    ModuleSection,
    RiskFactor,
    Student,
    Team,
    University,
)
from veritas import bulk
from veritas.models import PersonalToken, User

INTERFACES = 10_000
FACTORS = 10
CONTRIBUTIONS = [(0, 0), (5, 25), (40, 110)]


def empty() -> None:
    with connection.cursor() as cursor:  # the LMS's tables: hundreds of thousands of rows
        cursor.execute(
            "TRUNCATE frames_moduleanalyticsevent, frames_moduleprogress, frames_moduleassignment, "
            "frames_modulefeedback, frames_modulesection, frames_module, frames_departure, frames_student, "
            "frames_outcome, frames_faculty CASCADE"
        )
    InterfaceFactorValue.objects.all().delete()
    Interface.objects.all().delete()
    Team.objects.all().delete()
    FactorModel.objects.filter(name="bench").delete()
    FactorValue.objects.filter(factor__name__startswith="bench_").delete()
    RiskFactor.objects.filter(name__startswith="bench_").delete()
    University.objects.all().delete()


def fill(rng: random.Random) -> FactorModel:
    universities = [University.objects.create(code=f"u{i}", name=f"University {i}") for i in range(8)]
    teams = Team.objects.bulk_create(Team(university=universities[i % 8], name=f"team {i}") for i in range(200))
    factors = [
        RiskFactor.objects.create(name=f"bench_{i}", display_name=f"Bench {i}", category="Interface_Property")
        for i in range(FACTORS)
    ]
    # Per factor: a harmless value, a mild one and a costly one (thousandths).
    values = {
        factor.pk: FactorValue.objects.bulk_create(
            FactorValue(factor=factor, name=f"v{j}", display_name=f"v{j}", contribution=Decimal(rng.randint(*r)) / 1000)
            for j, r in enumerate(CONTRIBUTIONS)
        )
        for factor in factors
    }
    model = FactorModel.objects.create(name="bench", display_name="Bench")
    ModelFactor.objects.bulk_create(
        ModelFactor(model=model, factor=factor, weight=Decimal(rng.randint(0, 200)) / 100) for factor in factors
    )
    pairs = rng.sample([(a, b) for a in teams for b in teams if a is not b], INTERFACES)
    interfaces = [Interface.between(source, target, "concurrent") for source, target in pairs]
    Interface.objects.bulk_create(interfaces, batch_size=2000)
    # Each interface has a risk profile: how likely its values are the costly ones (every level occurs).
    profiles = {interface.pk: rng.random() for interface in interfaces}
    InterfaceFactorValue.objects.bulk_create(
        (
            InterfaceFactorValue(
                interface=interface, factor_id=factor.pk, value=values[factor.pk][pick(rng, profiles[interface.pk])]
            )
            for interface in interfaces
            for factor in factors
        ),
        batch_size=5000,
    )
    return model


def pick(rng: random.Random, profile: float) -> int:
    """0, 1 or 2: the costlier the higher the profile."""
    return min(len(CONTRIBUTIONS) - 1, int(profile * 2.2 + rng.random() * 0.8))


def legacy(model: FactorModel) -> dict[int, tuple[Decimal, str]]:
    """energy_engine.py's loop: per interface, its factor values with their contributions, then
    the model's enabled weights (re-read for every interface, as there), summed in Python."""
    results = {}
    for interface_id in Interface.objects.values_list("pk", flat=True):
        rows = InterfaceFactorValue.objects.filter(interface_id=interface_id, ended_at__isnull=True).values_list(
            "factor_id", "value__contribution"
        )
        weights = dict(ModelFactor.objects.filter(model=model, enabled=True).values_list("factor_id", "weight"))
        total = Decimal(0)
        for factor_id, contribution in rows:
            if factor_id in weights:
                total += contribution * weights[factor_id]
        total = min(Decimal(1), total)
        results[interface_id] = (total, frames.level(total))
    return results


def ours(model: FactorModel) -> dict[int, tuple[Decimal, str]]:
    return {
        pk: (loss, level) for pk, loss, level in Interface.objects.with_loss(model).values_list("pk", "loss", "level")
    }


def run(harness) -> None:
    rng = random.Random(11)  # noqa: S311 (benchmark data)
    empty()
    model = fill(rng)
    expected, found = legacy(model), ours(model)
    identical = expected == found
    levels = sorted({level for _, level in found.values()})

    comparison = harness.compare(
        f"energy loss of {INTERFACES:,} interfaces x {FACTORS} factors (one SQL aggregate)",
        lambda: ours(model),
        "the legacy loop (two queries per interface, Python sums)",
        lambda: legacy(model),
        repeat=3,
        warmup=1,
        target="<= 0.1x; identical numbers",
        check=lambda c: c.ratio <= 0.1 and identical,
    )
    comparison.notes.update(identical=identical, levels_present=",".join(levels))

    lms_university = University.objects.create(code="lms", name="LMS bench university")
    ingestion(harness, rng, lms_university)
    funnel(harness, rng, lms_university)


# --- LMS events ingestion --------------------------------------------------------------------------

BATCH_STUDENTS, EVENTS_EACH = 2_000, 5


def event_batch(rng: random.Random, module: Module, sections: list[int], students: list[int], day: int) -> list[dict]:
    """EVENTS_EACH events per student: start, three section views, complete (a day's work)."""
    rows = []
    for student in students:
        moment = datetime(2026, 1, 1, 9, tzinfo=UTC) + timedelta(days=day, minutes=rng.randrange(600))
        kinds = [("start", None), *(("section_view", s) for s in sections[:3]), ("complete", None)]
        for kind, section in kinds[:EVENTS_EACH]:
            moment += timedelta(seconds=rng.randrange(30, 900))
            rows.append({"student": student, "module": module.pk, "section": section, "event_type": kind,
                         "duration_seconds": rng.randrange(600), "at": moment.isoformat()})  # fmt: skip
    return rows


def ingestion(harness, rng: random.Random, university: University) -> None:
    module = Module.objects.create(
        key="bench-ingest", title="Bench", university=university, status="published",
        published_at=datetime(2026, 1, 1, tzinfo=UTC),
    )  # fmt: skip
    sections = [s.pk for s in ModuleSection.objects.bulk_create(
        ModuleSection(module=module, order=i, title=f"part {i}") for i in range(1, 4)
    )]  # fmt: skip
    user = User.objects.get_or_create(username="bench-frames", defaults={"is_superuser": True})[0]
    token = PersonalToken.issue(user=user, name="bench")[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    cohorts = iter(range(10**6))

    def batch() -> list[dict]:
        """A fresh cohort of students assigned the module (untimed): every sample writes
        BATCH_STUDENTS new pairs of EVENTS_EACH events, the same work each time."""
        cohort = next(cohorts)
        students = Student.objects.bulk_create(
            Student(university=university, name=f"learner {cohort}.{i}") for i in range(BATCH_STUDENTS)
        )
        ModuleAssignment.objects.bulk_create(ModuleAssignment(module=module, student=s) for s in students)
        return event_batch(rng, module, sections, [s.pk for s in students], cohort)

    prepared = {"body": b"", "copy": []}

    def post_setup():
        prepared["body"] = orjson.dumps(batch())

    def copy_setup():
        prepared["copy"] = [
            (r["student"], r["module"], r["section"], r["event_type"], r["duration_seconds"],
             datetime.fromisoformat(r["at"]))
            for r in batch()
        ]  # fmt: skip

    def post():
        response = client.post("/api/v1/frames/events/", prepared["body"], content_type="application/json")
        assert response.status_code == 201, response.content[:300]

    def copy():
        with connection.cursor() as cursor:
            bulk.copy_rows(cursor, lms.EVENT, lms.EVENT_COLUMNS, prepared["copy"])

    comparison = harness.compare(
        f"POST events/ {BATCH_STUDENTS * EVENTS_EACH:,} rows (HTTP, JSON, validation, checks, COPY, progress)",
        post,
        "raw psycopg COPY of the same rows",
        copy,
        repeat=5,
        warmup=1,
        workload_setup=post_setup,
        baseline_setup=copy_setup,
        target="<= 2.0x (>= 50% of COPY rows/s)",
        check=lambda c: c.ratio <= 2.0,
    )
    rows = BATCH_STUDENTS * EVENTS_EACH
    comparison.notes.update(
        rows_per_second=round(rows / (comparison.workload_median_ms / 1000)),
        copy_rows_per_second=round(rows / (comparison.baseline_median_ms / 1000)),
        share_of_copy=f"{comparison.baseline_median_ms / comparison.workload_median_ms:.0%}",
        progress_rows_per_batch=BATCH_STUDENTS,
    )


# --- the completion funnel -------------------------------------------------------------------------

FUNNEL_STUDENTS, FUNNEL_MODULES, ASSIGNED_EACH = 50_000, 100, 5


def funnel_data(rng: random.Random, university: University) -> list[Module]:
    modules = Module.objects.bulk_create(
        Module(key=f"bench-{i}", title=f"Module {i}", university=university, status="published",
               published_at=datetime(2026, 1, 1, tzinfo=UTC))
        for i in range(FUNNEL_MODULES)
    )  # fmt: skip
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO frames_student (university_id, name, expertise_area, graduation_term, terms_remaining, "
            "status, is_lead, active) SELECT %s, 'funnel ' || g, '', '', 4, 'incoming', false, true "
            "FROM generate_series(1, %s) g RETURNING id",
            [university.pk, FUNNEL_STUDENTS],
        )
        students = [row[0] for row in cursor.fetchall()]
        assignments, progress = [], []
        for student in students:
            for module in rng.sample(modules, ASSIGNED_EACH):
                assignments.append((module.pk, student, True, start))
                state = rng.random()
                if state < 0.75:  # started; of whom some completed
                    done = state < 0.4
                    progress.append((student, module.pk, "completed" if done else "in_progress", 100 if done else 40,
                                     start, start if done else None, start, 600, []))  # fmt: skip
        bulk.copy_rows(
            cursor, lms.ASSIGNMENT,
            {"module_id": "int8", "student_id": "int8", "required": "bool", "assigned_at": "timestamptz"},
            assignments,
        )  # fmt: skip
        bulk.copy_rows(
            cursor, lms.PROGRESS,
            {"student_id": "int8", "module_id": "int8", "status": "varchar", "percent": "int2",
             "started_at": "timestamptz", "completed_at": "timestamptz", "last_accessed_at": "timestamptz",
             "total_seconds": "int4", "completed_sections": "int8[]"},
            progress,
        )  # fmt: skip
        for table in (lms.ASSIGNMENT, lms.PROGRESS):  # what autovacuum does after a bulk load
            cursor.execute(f"VACUUM ANALYZE {table}")
    return modules


def python_funnel(modules: list[Module]) -> list[tuple[int, int, int, int]]:
    """The counts from the rows, in Python: every assignment and progress row of the modules."""
    ids = [m.pk for m in modules]
    states = {
        (student, module): status
        for student, module, status in ModuleProgress.objects.filter(module_id__in=ids)
        .order_by()
        .values_list("student_id", "module_id", "status")
    }
    counts = {pk: [0, 0, 0] for pk in ids}
    assignments = ModuleAssignment.objects.filter(module_id__in=ids).order_by()  # unsorted, as the SQL reads them
    for student, module in assignments.values_list("student_id", "module_id"):
        row = counts[module]
        row[0] += 1
        status = states.get((student, module))
        if status is not None:
            row[1] += 1
            row[2] += status == "completed"
    return [(pk, *counts[pk]) for pk in ids]


def sql_funnel(modules: list[Module]) -> list[tuple[int, int, int, int]]:
    return [(r.module, r.assigned, r.started, r.completed) for r in lms.funnel(modules)]


def funnel(harness, rng: random.Random, university: University) -> None:
    modules = funnel_data(rng, university)
    identical = sql_funnel(modules) == python_funnel(modules)
    with CaptureQueriesContext(connections["default"]) as queries:
        sql_funnel(modules)
    comparison = harness.compare(
        f"completion funnel of {FUNNEL_MODULES} modules, {FUNNEL_STUDENTS:,} students (lms.funnel)",
        lambda: sql_funnel(modules),
        "the same counts aggregated in Python from the rows",
        lambda: python_funnel(modules),
        repeat=3,
        warmup=1,
        target="<= 0.2x (1/5); <= 5 queries; identical counts",
        check=lambda c: c.ratio <= 0.2 and len(queries) <= 5 and identical,
    )
    comparison.notes.update(
        queries=len(queries),
        identical=identical,
        assignments=FUNNEL_STUDENTS * ASSIGNED_EACH,
        progress_rows=ModuleProgress.objects.filter(module__in=modules).count(),
    )
