"""Dashboard (issue 7): reads of the stored performance records, and the bulk import that
keeps them exact, each next to its baseline.

1. A student's performance with 5,000 assessments (selectors.student_performance: records,
   cohort percentile) against recomputing that student's records from the assessment rows
   in SQL (performance.py's own aggregates, on the fly) — target: time ratio <= 0.10, and
   <= 3 queries.
2. The overview of a cohort of 1,000 students with 100 assessments each
   (selectors.cohort_overview) against a query per student computing mean, trend, last
   activity and the recent count from the rows — target: <= 0.20, and <= 5 queries.
3. A bulk import of 100,000 assessments of 1,000 students through the API's path
   (ingest.parse_json of 10 JSON bodies of 10,000 rows, import_assessments: validation,
   resolution, COPY, the performance records brought up to date, one audit entry; each
   body its own transaction, as the API does) against a raw psycopg COPY of the same rows
   into the assessment table — target: >= 30 % of COPY's rows/s (time ratio <= 3.33) for
   bodies sent in time order (body k holds the k-th stretch of the term: the records are
   extended). The same import with every body spread over the whole term (each reaches
   back before the students' latest rows: their groups are recomputed from all their
   rows) is shown next to it, without a target. The records are checked exact
   (performance.differences() == []) after each, outside the timing.

The dashboard's tables are emptied and refilled at the start of each run, in the benchmark
database only.
"""

import json
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from dashboard import ingest, performance, selectors
from dashboard.models import AssessmentLog, Cohort, ConceptModule, PerformanceRecord, Scope, Student

HEAVY = 5_000  # assessments of the student read in (1)
COHORT = 1_000  # students of the cohort in (2)
PER_STUDENT = 100  # their assessments each
PEERS = 50  # the heavy student's cohort (its percentile's peers)
IMPORT_ROWS = 100_000
BODY_ROWS = 10_000  # per JSON body (the API's MAX_ROWS)
IMPORT_STUDENTS = 1_000
SUBJECTS = ["Math", "Physics", "Chemistry", "Biology"]
KINDS = ["exam", "quiz", "assignment", "practice"]
DAYS = 120  # assessments are spread over the last DAYS days

ASSESSMENTS = AssessmentLog._meta.db_table
LINKS = AssessmentLog.concept_modules.through._meta.db_table
COPY_COLUMNS = (
    "student_id",
    "kind",
    "subject",
    "score",
    "max_score",
    "taken_at",
    "comment",
    "created_at",
    "updated_at",
)
COPY_SQL = f"COPY {ASSESSMENTS} ({', '.join(COPY_COLUMNS)}) FROM STDIN"


def empty_dashboard() -> None:
    tables = [Student._meta.db_table, Cohort._meta.db_table, ConceptModule._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def make_students(prefix: str, count: int) -> list[int]:
    students = Student.objects.bulk_create(
        Student(external_id=f"{prefix}{i:05d}", name=f"{prefix} {i}", email=f"{prefix}{i}@bench.example")
        for i in range(count)
    )
    return [s.pk for s in students]


def make_modules() -> list[ConceptModule]:
    return ConceptModule.objects.bulk_create(
        ConceptModule(subject=subject, code=f"{subject[:3].upper()}{n}", name=f"{subject} {n}", order=n)
        for subject in SUBJECTS
        for n in (1, 2)
    )


def assessment(rng: random.Random, now, level: float, slope: float, modules_by_subject: dict) -> tuple:
    """(subject, score, max_score, taken_at, module ids) of one assessment of a student whose
    level drifts by ``slope`` points a day."""
    subject = rng.choice(SUBJECTS)
    age = rng.uniform(0, DAYS)
    maximum = rng.choice([Decimal(10), Decimal(20), Decimal(100)])
    pct = min(100.0, max(0.0, rng.gauss(level - slope * age, 12)))
    score = (maximum * Decimal(pct) / 100).quantize(Decimal("0.01"))
    modules = rng.sample(modules_by_subject[subject], rng.choice([0, 1, 1, 2]))
    return subject, score, maximum, now - timedelta(days=age), modules


def copy_assessments(rows: list[tuple]) -> None:
    """COPY (student_id, subject, score, max_score, taken_at, module ids) rows in, links too."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [ASSESSMENTS, len(rows)]
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.copy(f"COPY {ASSESSMENTS} (id, {', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for pk, (student_id, subject, score, maximum, taken_at, _) in zip(ids, rows, strict=True):
                copy.write_row((pk, student_id, "quiz", subject, score, maximum, taken_at, "", now, now))
        with cursor.copy(f"COPY {LINKS} (assessmentlog_id, conceptmodule_id) FROM STDIN") as copy:
            for pk, row in zip(ids, rows, strict=True):
                for module_id in row[5]:
                    copy.write_row((pk, module_id))


def fill(rng: random.Random) -> dict:
    """The cohort of COHORT students with PER_STUDENT assessments each, and the heavy
    student with HEAVY, in a cohort of PEERS; records built by performance.rebuild()."""
    empty_dashboard()
    now = timezone.now()
    modules = make_modules()
    by_subject = {s: [m.pk for m in modules if m.subject == s] for s in SUBJECTS}
    cohort = Cohort.objects.create(name="Bench cohort", term="bench")
    members = make_students("c", COHORT)
    cohort.students.add(*members)
    (heavy,) = make_students("heavy", 1)
    peers = Cohort.objects.create(name="Bench peers", term="bench")
    peers.students.add(heavy, *members[: PEERS - 1])
    for start in range(0, COHORT, 100):
        rows = []
        for student_id in members[start : start + 100]:
            level, slope = rng.uniform(40, 90), rng.uniform(-0.3, 0.3)
            rows += [(student_id, *assessment(rng, now, level, slope, by_subject)) for _ in range(PER_STUDENT)]
        copy_assessments(rows)
    copy_assessments([(heavy, *assessment(rng, now, 70, 0.1, by_subject)) for _ in range(HEAVY)])
    with transaction.atomic():
        performance.rebuild()
    with connection.cursor() as cursor:
        for table in (ASSESSMENTS, LINKS, PerformanceRecord._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return {"cohort": cohort, "heavy": Student.objects.get(pk=heavy), "modules": modules}


# --- (1) a student's performance ---------------------------------------------------------------


def recompute_student(student: Student, module_ids: list[int]) -> list:
    """The student's records computed from their rows now: performance.py's aggregates for
    the student's groups (overall, each subject, each module), nothing stored or read back."""
    params = performance._parameters()
    keys = {
        Scope.OVERALL: {"student_id": [student.pk]},
        Scope.SUBJECT: {"student_id": [student.pk] * len(SUBJECTS), "subject": SUBJECTS},
        Scope.CONCEPT: {"student_id": [student.pk] * len(module_ids), "concept_module_id": module_ids},
    }
    found = []
    with connection.cursor() as cursor:
        for scope, shape in performance._SHAPES.items():
            sql = performance._aggregate_ctes(shape, restricted=True) + " SELECT * FROM agg"  # noqa: S608 (the module's own SQL)
            cursor.execute(sql, {**params, "students": [student.pk], **keys[scope]})
            found += cursor.fetchall()
    return found


# --- (2) a cohort's overview -------------------------------------------------------------------

PER_STUDENT_SQL = f"""
    SELECT count(*), avg(a.score::float8 / a.max_score::float8 * 100),
           regr_slope(a.score::float8 / a.max_score::float8 * 100, extract(epoch FROM a.taken_at)::float8 / 86400),
           max(a.taken_at), count(*) FILTER (WHERE a.taken_at >= %s)
    FROM {ASSESSMENTS} a WHERE a.student_id = %s
"""  # noqa: S608 (model table; values are parameters)


def overview_per_student(cohort: Cohort) -> list:
    since = timezone.now() - timedelta(days=selectors.RECENT_DAYS)
    members = list(cohort.students.order_by("name", "id").values_list("pk", flat=True))
    rows = []
    with connection.cursor() as cursor:
        for student_id in members:
            cursor.execute(PER_STUDENT_SQL, [since, student_id])
            rows.append(cursor.fetchone())
    return rows


# --- (3) bulk import ---------------------------------------------------------------------------


def import_bodies(
    rng: random.Random, external_ids: list[str], modules: list[ConceptModule], *, in_time_order: bool
) -> list[bytes]:
    """IMPORT_ROWS assessments of the students over the last DAYS days, in bodies of
    BODY_ROWS. ``in_time_order``: body k holds the k-th stretch of the term (rows shuffled
    within it), as when a term's results are sent as they come; else every body spans the
    whole term, so that each back-fills the students' earlier rows."""
    now = timezone.now()
    codes = {s: [m.code for m in modules if m.subject == s] for s in SUBJECTS}
    bodies = []
    count = IMPORT_ROWS // BODY_ROWS
    for number in range(count):
        oldest, newest = (DAYS, 0)
        if in_time_order:
            oldest, newest = DAYS * (count - number) / count, DAYS * (count - number - 1) / count
        rows = []
        for _ in range(BODY_ROWS):
            subject = rng.choice(SUBJECTS)
            maximum = rng.choice([10, 20, 100])
            rows.append(
                {
                    "student": rng.choice(external_ids),
                    "kind": rng.choice(KINDS),
                    "subject": subject,
                    "score": round(rng.uniform(0, maximum), 2),
                    "max_score": maximum,
                    "taken_at": (now - timedelta(days=rng.uniform(newest, oldest))).isoformat(),
                    "concept_modules": rng.sample(codes[subject], rng.choice([0, 1, 1, 2])),
                }
            )
        bodies.append(json.dumps(rows).encode())
    return bodies


def run(harness):
    rng = random.Random(7)  # noqa: S311 (benchmark data)
    User = get_user_model()
    actor, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_superuser": True, "is_staff": True})
    threshold = settings.DASHBOARD_MASTERY["THRESHOLD"]

    world = fill(rng)
    heavy, cohort, modules = world["heavy"], world["cohort"], world["modules"]
    assert AssessmentLog.objects.filter(student=heavy).count() == HEAVY
    module_ids = [m.pk for m in modules]

    # --- (1) ----------------------------------------------------------------------------------
    with CaptureQueriesContext(connection) as queries:
        read = selectors.student_performance(heavy, method="decaying_average", threshold=threshold)
    recomputed = recompute_student(heavy, module_ids)
    assert len(read) == len(recomputed) == 1 + len(SUBJECTS) + len(modules), (len(read), len(recomputed))
    overall = next(r for r in read if r.scope == "overall")
    assert overall.count == HEAVY and overall.percentile is not None
    harness.compare(
        "student performance, 5,000 assessments (stored records)",
        lambda: selectors.student_performance(heavy, method="decaying_average", threshold=threshold),
        "recomputing the student's records from the rows in SQL",
        lambda: recompute_student(heavy, module_ids),
        repeat=30,
        warmup=5,
        target="<= 0.10x",
        check=lambda c: c.ratio <= 0.10 and len(queries) <= 3,
        notes={"queries": len(queries), "query_target": "<= 3", "records": len(read)},
    )

    # --- (2) ----------------------------------------------------------------------------------
    with CaptureQueriesContext(connection) as queries:
        overview = selectors.cohort_overview(cohort)
    assert len(overview) == COHORT and all(row.count == PER_STUDENT for row in overview)
    naive = overview_per_student(cohort)
    assert [row.recent for row in overview] == [row[4] for row in naive]
    harness.compare(
        "cohort overview, 1,000 students x 100 assessments",
        lambda: selectors.cohort_overview(cohort),
        "a recomputing query per student",
        lambda: overview_per_student(cohort),
        repeat=5,
        warmup=1,
        target="<= 0.20x",
        check=lambda c: c.ratio <= 0.20 and len(queries) <= 5,
        notes={
            "queries": len(queries),
            "query_target": "<= 5",
            "declining": sum(row.declining for row in overview),
            "inactive": sum(row.inactive for row in overview),
        },
    )

    # --- (3) ----------------------------------------------------------------------------------
    importers = make_students("imp", IMPORT_STUDENTS)
    copied = make_students("cpy", IMPORT_STUDENTS)  # the baseline's rows go to students of their own
    external_ids = list(Student.objects.filter(pk__in=importers).values_list("external_id", flat=True))
    by_external_id = dict(zip(external_ids, copied, strict=True))
    for in_time_order in (True, False):
        bodies = import_bodies(rng, external_ids, modules, in_time_order=in_time_order)
        bulk = harness.compare(
            "bulk import 100k, 10 bodies in time order (API path)"
            if in_time_order
            else "bulk import 100k, 10 bodies each back-filling (API path)",
            importing(bodies, actor),
            "raw psycopg COPY of the same rows",
            raw_copy([(by_external_id[row[0]], *row[1:]) for row in copy_rows(bodies)]),
            repeat=1,
            warmup=0,
            # The target is the usual import (results sent as they come); the worst case,
            # every body reaching back over the whole term, is shown next to it.
            target=">= 30% of COPY rows/s (<= 3.33x)" if in_time_order else "(shown, no target)",
            check=(lambda c: c.ratio <= 1 / 0.30) if in_time_order else None,
            workload_setup=forget(importers),
            baseline_setup=forget(copied),
        )
        forget(copied)()
        differences = performance.differences()
        assert differences == [], differences[:10]
        assert AssessmentLog.objects.filter(student_id__in=importers).count() == IMPORT_ROWS
        bulk.notes.update(
            rows_per_second=round(IMPORT_ROWS / (bulk.workload_median_ms / 1000)),
            copy_rows_per_second=round(IMPORT_ROWS / (bulk.baseline_median_ms / 1000)),
            share_of_copy=f"{bulk.baseline_median_ms / bulk.workload_median_ms:.0%}",
            records_exact=True,
        )
        forget(importers)()


def copy_rows(bodies: list[bytes]) -> list[tuple]:
    """The bodies' rows as the baseline COPYs them (student as external_id, for now)."""
    return [
        (
            r["student"],
            r["kind"],
            r["subject"],
            Decimal(str(r["score"])),
            Decimal(r["max_score"]),
            datetime.fromisoformat(r["taken_at"]),
            "",
        )
        for body in bodies
        for r in json.loads(body)
    ]


def importing(bodies: list[bytes], actor):
    def import_all():
        for body in bodies:
            rows = ingest.parse_json(body)
            report = ingest.import_assessments(rows, actor=actor)
            assert report.created == BODY_ROWS, report.counts()

    return import_all


def raw_copy(rows: list[tuple]):
    def copy_all():
        now = timezone.now()
        with connection.cursor() as cursor, cursor.copy(COPY_SQL) as copy:
            for row in rows:
                copy.write_row((*row, now, now))

    return copy_all


def forget(students: list[int]):
    """Remove the students' assessments and records (untimed, before each sample)."""

    def undo():
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {LINKS} WHERE assessmentlog_id IN "  # noqa: S608
                f"(SELECT id FROM {ASSESSMENTS} WHERE student_id = ANY(%s))",
                [students],
            )
            cursor.execute(f"DELETE FROM {ASSESSMENTS} WHERE student_id = ANY(%s)", [students])  # noqa: S608
            cursor.execute(
                f"DELETE FROM {PerformanceRecord._meta.db_table} WHERE student_id = ANY(%s)",  # noqa: S608
                [students],
            )
            # Each sample starts from tables without the previous one's dead rows, whenever
            # autovacuum happens to run.
            cursor.execute(f"VACUUM ANALYZE {ASSESSMENTS}, {LINKS}, {PerformanceRecord._meta.db_table}")

    return undo
