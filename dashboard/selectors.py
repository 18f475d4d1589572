"""Reads of the dashboard that are more than a queryset: a student's performance (stored
records plus their cohort percentile) and a cohort's overview with its flags. Both read the
stored records (dashboard/performance.py keeps them exact), never the assessment rows, so
their cost does not grow with the number of assessments.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from dashboard.models import AssessmentLog, Cohort, ConceptModule, PerformanceRecord, Scope, Student

# The mastery methods (Canvas's names) and the record column each reads.
METHODS = {
    "decaying_average": "decaying",
    "highest": "best",
    "latest": "last",
    "average": "mean",
    "n_mastery": "n_mastery",
}
DEFAULT_METHOD = "decaying_average"

# Overview flags, in the spirit of Open edX Insights' learner segments (docs/dashboard.md).
RECENT_DAYS = 14  # "assessments in the last 14 days"; none at all: inactive
DECLINING_MIN_ASSESSMENTS = 4
DECLINING_MARGIN = 5.0  # percentage points the recent (decaying) level is under the mean
DECLINING_TREND_PER_WEEK = -0.5  # the trend must fall at least this fast (points a week)

RECORDS = PerformanceRecord._meta.db_table
MEMBERS = Cohort.students.through._meta.db_table
STUDENTS = Student._meta.db_table
ASSESSMENTS = AssessmentLog._meta.db_table
MODULES = ConceptModule._meta.db_table

_PERFORMANCE = """
    WITH mine AS (
        SELECT r.*, m.code AS module_code, m.name AS module_name, m.subject AS module_subject
        FROM {records} r LEFT JOIN {modules} m ON m.id = r.concept_module_id
        WHERE r.student_id = %(student)s
    ),
    peers AS (
        SELECT DISTINCT b.student_id FROM {members} a JOIN {members} b ON b.cohort_id = a.cohort_id
        WHERE a.student_id = %(student)s
    ),
    ranked AS (
        SELECT r.student_id, r.scope, r.subject, r.concept_module_id,
               percent_rank() OVER w AS percent_rank, count(*) OVER w AS peers
        FROM {records} r
        -- An array, not IN (subquery): the planner cannot tell a cohort's size from its
        -- statistics and, guessing hundreds of peers, would scan every record.
        WHERE r.student_id = ANY(ARRAY(SELECT student_id FROM peers)) AND r.{column} IS NOT NULL
          AND (r.scope, r.subject, coalesce(r.concept_module_id, 0))
              IN (SELECT scope, subject, coalesce(concept_module_id, 0) FROM mine)
        WINDOW w AS (PARTITION BY r.scope, r.subject, r.concept_module_id ORDER BY r.{column})
    )
    SELECT mine.*, CASE WHEN ranked.peers > 1 THEN ranked.percent_rank * 100 END AS percentile
    FROM mine LEFT JOIN ranked
      ON ranked.student_id = mine.student_id AND ranked.scope = mine.scope AND ranked.subject = mine.subject
     AND ranked.concept_module_id IS NOT DISTINCT FROM mine.concept_module_id
    ORDER BY mine.scope, mine.subject, mine.module_subject, mine.module_code
"""


@dataclass(frozen=True)
class Performance:
    scope: str
    subject: str
    concept_module: dict | None
    count: int
    mean: float
    last: float
    best: float
    decaying: float
    n_mastery: float | None
    trend: float | None
    first_at: datetime
    last_at: datetime
    updated_at: datetime
    method: str
    score: float | None
    mastered: bool | None
    percentile: float | None


def student_performance(student: Student, *, method: str = DEFAULT_METHOD, threshold: float) -> list[Performance]:
    """The student's records (overall, per subject, per concept module), with the chosen
    mastery method's score, whether it reaches ``threshold``, and the cohort percentile: the
    share (0-100) of the other students of the student's cohorts whose value by that method
    is lower (null without such peers). One query."""
    column = METHODS[method]
    sql = _PERFORMANCE.format(records=RECORDS, modules=MODULES, members=MEMBERS, column=column)
    with connection.cursor() as cursor:
        cursor.execute(sql, {"student": student.pk})
        names = [col.name for col in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    result = []
    for row in rows:
        score = row[column]
        module = (
            {
                "id": row["concept_module_id"],
                "code": row["module_code"],
                "name": row["module_name"],
                "subject": row["module_subject"],
            }
            if row["concept_module_id"] is not None
            else None
        )
        result.append(
            Performance(
                scope=row["scope"],
                subject=row["subject"],
                concept_module=module,
                count=row["count"],
                mean=row["mean"],
                last=row["last"],
                best=row["best"],
                decaying=row["decaying"],
                n_mastery=row["n_mastery"],
                trend=row["trend"],
                first_at=row["first_at"],
                last_at=row["last_at"],
                updated_at=row["updated_at"],
                method=method,
                score=score,
                mastered=None if score is None else score >= threshold,
                percentile=row["percentile"],
            )
        )
    return result


@dataclass(frozen=True)
class OverviewRow:
    student_id: int
    uuid: uuid.UUID
    external_id: str
    name: str
    is_active: bool
    count: int
    mean: float | None
    trend: float | None
    decaying: float | None
    last_activity: datetime | None
    recent: int
    declining: bool
    inactive: bool


def is_declining(count: int, mean: float | None, trend: float | None, decaying: float | None) -> bool:
    """Scores going down: at least DECLINING_MIN_ASSESSMENTS assessments, a trend falling at
    least DECLINING_TREND_PER_WEEK points a week (``trend`` is per day), and the recent level
    (decaying average) at least DECLINING_MARGIN points under the mean."""
    return (
        count >= DECLINING_MIN_ASSESSMENTS
        and trend is not None
        and trend * 7 <= DECLINING_TREND_PER_WEEK
        and decaying is not None
        and mean is not None
        and decaying <= mean - DECLINING_MARGIN
    )


_OVERVIEW = f"""
    SELECT s.id, s.uuid, s.external_id, s.name, s.is_active,
           coalesce(r.count, 0), r.mean, r.trend, r.decaying, r.last_at,
           (SELECT count(*) FROM {ASSESSMENTS} a WHERE a.student_id = s.id AND a.taken_at >= %(since)s)
    FROM {MEMBERS} c JOIN {STUDENTS} s ON s.id = c.student_id
    LEFT JOIN {RECORDS} r ON r.student_id = s.id AND r.scope = '{Scope.OVERALL}'
    WHERE c.cohort_id = %(cohort)s
    ORDER BY s.name, s.id
"""  # noqa: S608 (model tables; values are parameters)


def cohort_overview(cohort: Cohort, *, now: datetime | None = None) -> list[OverviewRow]:
    """One row per student of the cohort: mean, trend, last activity, assessments in the
    last RECENT_DAYS days, and the flags. One query, whatever the cohort's size."""
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW, {"cohort": cohort.pk, "since": since})
        rows = cursor.fetchall()
    return [
        OverviewRow(
            student_id=pk,
            uuid=public_id,
            external_id=external_id,
            name=name,
            is_active=is_active,
            count=count,
            mean=mean,
            trend=trend,
            decaying=decaying,
            last_activity=last_at,
            recent=recent,
            declining=is_declining(count, mean, trend, decaying),
            # Only active students are expected to be assessed.
            inactive=is_active and recent == 0,
        )
        for pk, public_id, external_id, name, is_active, count, mean, trend, decaying, last_at, recent in rows
    ]
