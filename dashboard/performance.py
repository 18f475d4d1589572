# ruff: noqa: S608 (all SQL here is built from this module's own names; values are parameters)
"""Performance records, kept exact: every write of assessments recomputes, in its own
transaction and with one set-based statement per scope, the records of the (student),
(student, subject) and (student, concept module) groups it touched, from the assessment
rows. A record therefore always equals a recomputation from scratch, whatever the order of
creates, corrections, deletions, bulk imports and back-fills; ``differences()`` verifies it
(``manage.py recompute_performance --check``).

Definitions (percentages are score / max_score * 100; rows are ordered by taken_at, then id):

- count, mean (Canvas "average"), best ("highest"), last ("latest": the latest row's);
- decaying: D₁ = s₁, Dₖ = (1 - w)·Dₖ₋₁ + w·sₖ, w = DASHBOARD_MASTERY["DECAYING_WEIGHT"]
  (0.65), computed in closed form: Dₙ = Σₖ sₖ·(1 - w)ⁿ⁻ᵏ·(w if k > 1 else 1), with terms
  whose weight is below 1e-300 dropped (they cannot change a double);
- n_mastery: the mean of the scores at or above THRESHOLD, once there are at least N of them
  (else null), as Canvas's "n number of times";
- trend: the least-squares slope of percentage against taken_at, in points per day
  (PostgreSQL's regr_slope; null for one row or rows all at one time);
- first_at, last_at: the earliest and latest taken_at.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection

from dashboard.models import AssessmentLog, PerformanceRecord, Scope, Student

ASSESSMENTS = AssessmentLog._meta.db_table
LINKS = AssessmentLog.concept_modules.through._meta.db_table
RECORDS = PerformanceRecord._meta.db_table
STUDENTS = Student._meta.db_table

# Floats are compared to this relative precision by differences(): a sum's last bits depend
# on the order PostgreSQL adds the rows in.
TOLERANCE = 1e-9


@dataclass
class Touched:
    """The groups a write touched: their records are recomputed."""

    students: set[int] = field(default_factory=set)
    subjects: set[tuple[int, str]] = field(default_factory=set)
    concepts: set[tuple[int, int]] = field(default_factory=set)

    def add(self, student_id: int, subject: str, module_ids: Iterable[int] = ()) -> None:
        self.students.add(student_id)
        self.subjects.add((student_id, subject))
        self.concepts.update((student_id, module_id) for module_id in module_ids)

    def __bool__(self) -> bool:
        return bool(self.students)


@dataclass(frozen=True)
class _Shape:
    """How one scope's groups are keyed and found."""

    scope: str
    keys: tuple[str, ...]  # the group's key columns in the source rows
    source: str  # FROM … of the assessment rows, with the group keys selected as key columns
    columns: tuple[str, ...]  # the key columns as the source's tables name them (for WHERE)
    key_types: tuple[str, ...]
    conflict: str
    record_columns: tuple[str, str]  # subject, concept_module_id values for the insert


_SHAPES = {
    Scope.OVERALL: _Shape(
        scope=Scope.OVERALL,
        keys=("student_id",),
        source=f"SELECT a.student_id, a.id, a.taken_at, a.score, a.max_score FROM {ASSESSMENTS} a",
        columns=("a.student_id",),
        key_types=("bigint",),
        conflict="(student_id) WHERE scope = 'overall'",
        record_columns=("''", "NULL::bigint"),
    ),
    Scope.SUBJECT: _Shape(
        scope=Scope.SUBJECT,
        keys=("student_id", "subject"),
        source=f"SELECT a.student_id, a.subject, a.id, a.taken_at, a.score, a.max_score FROM {ASSESSMENTS} a",
        columns=("a.student_id", "a.subject"),
        key_types=("bigint", "text"),
        conflict="(student_id, subject) WHERE scope = 'subject'",
        record_columns=("subject", "NULL::bigint"),
    ),
    Scope.CONCEPT: _Shape(
        scope=Scope.CONCEPT,
        keys=("student_id", "concept_module_id"),
        source=(
            f"SELECT a.student_id, l.conceptmodule_id AS concept_module_id, a.id, a.taken_at, a.score, a.max_score "
            f"FROM {ASSESSMENTS} a JOIN {LINKS} l ON l.assessmentlog_id = a.id"
        ),
        columns=("a.student_id", "l.conceptmodule_id"),
        key_types=("bigint", "bigint"),
        conflict="(student_id, concept_module_id) WHERE scope = 'concept'",
        record_columns=("''", "concept_module_id"),
    ),
}

_VALUES = ("count", "mean", "last", "best", "decaying", "n_mastery", "trend", "first_at", "last_at")


def _parameters() -> dict:
    mastery = settings.DASHBOARD_MASTERY
    weight = float(mastery["DECAYING_WEIGHT"])
    if not 0 < weight <= 1:
        raise ValueError("DASHBOARD_DECAYING_WEIGHT must be in (0, 1].")
    keep = 1 - weight
    # The largest exponent whose weight is still a normal double (PostgreSQL's power()
    # raises on underflow to zero).
    cap = 2**31 - 1 if keep == 0 else int(300 / -math.log10(keep))
    return {"w": weight, "t": float(mastery["THRESHOLD"]), "n": int(mastery["N"]), "cap": cap}


def _aggregate_ctes(shape: _Shape, restricted: bool) -> str:
    """``WITH [keys,] rows, ordered, agg``: the records the assessment rows make, for the
    groups in the key arrays (``restricted``) or for all.

    Restricted, the rows are found by student (``%(students)s``: one index range each)
    and then kept if their group is in the key arrays; the ``keys`` CTE serves the
    deletion of records whose group has no rows left. The latest row's percentage is the
    one numbered last in (taken_at, id) order, so one sort serves every aggregate."""
    keys = ", ".join(shape.keys)
    if restricted:
        arrays = ", ".join(f"%({name})s::{kind}[]" for name, kind in zip(shape.keys, shape.key_types, strict=True))
        key_cte = f"keys AS (SELECT DISTINCT * FROM unnest({arrays}) AS k({keys})),"
        where = " WHERE a.student_id = ANY(%(students)s::bigint[])"
        if len(shape.keys) > 1:
            where += f" AND ({', '.join(shape.columns)}) IN (SELECT * FROM unnest({arrays}))"
        rows = shape.source + where
    else:
        key_cte, rows = "", shape.source
    return f"""
        WITH {key_cte}
        rows AS (
            SELECT r.*, r.score::float8 / r.max_score::float8 * 100 AS pct FROM ({rows}) r
        ),
        ordered AS (
            SELECT rows.*,
                   row_number() OVER (PARTITION BY {keys} ORDER BY taken_at, id) AS k,
                   count(*) OVER (PARTITION BY {keys}) AS n
            FROM rows
        ),
        agg AS (
            SELECT {keys},
                   count(*)::int AS count,
                   avg(pct) AS mean,
                   max(pct) FILTER (WHERE k = n) AS last,
                   max(pct) AS best,
                   sum(CASE WHEN n - k > %(cap)s THEN 0
                            ELSE pct * power(1 - %(w)s::float8, (n - k)::float8)
                                 * CASE WHEN k = 1 THEN 1 ELSE %(w)s::float8 END END) AS decaying,
                   CASE WHEN count(*) FILTER (WHERE pct >= %(t)s) >= %(n)s
                        THEN avg(pct) FILTER (WHERE pct >= %(t)s) END AS n_mastery,
                   regr_slope(pct, extract(epoch FROM taken_at)::float8 / 86400) AS trend,
                   min(taken_at) AS first_at,
                   max(taken_at) AS last_at
            FROM ordered GROUP BY {keys}
        )
    """


def _refresh_sql(shape: _Shape, restricted: bool) -> str:
    keys = ", ".join(shape.keys)
    subject, module = shape.record_columns
    values = ", ".join(_VALUES)
    changed = " OR ".join(f"r.{name} IS DISTINCT FROM EXCLUDED.{name}" for name in _VALUES)
    in_scope = f"p.scope = '{shape.scope}'"
    if restricted:
        in_scope += f" AND ({', '.join('p.' + key for key in shape.keys)}) IN (SELECT {keys} FROM keys)"
    return f"""
        {_aggregate_ctes(shape, restricted)},
        upserted AS (
            INSERT INTO {RECORDS} AS r (student_id, scope, subject, concept_module_id, {values}, updated_at)
            SELECT student_id, '{shape.scope}', {subject}, {module}, {values}, now() FROM agg
            ON CONFLICT {shape.conflict} DO UPDATE SET
                {", ".join(f"{name} = EXCLUDED.{name}" for name in _VALUES)}, updated_at = EXCLUDED.updated_at
            WHERE {changed}
            RETURNING 1
        ),
        removed AS (
            DELETE FROM {RECORDS} p
            WHERE {in_scope}
              AND NOT EXISTS (SELECT 1 FROM agg WHERE ({keys}) = ({", ".join("p." + key for key in shape.keys)}))
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM upserted), (SELECT count(*) FROM removed)
    """


def refresh(touched: Touched) -> None:
    """Recompute the records of the touched groups (call inside the write's transaction)."""
    if not touched:
        return
    params = _parameters()
    arrays = {
        Scope.OVERALL: {"student_id": sorted(touched.students)},
        Scope.SUBJECT: {
            "student_id": [s for s, _ in sorted(touched.subjects)],
            "subject": [subject for _, subject in sorted(touched.subjects)],
        },
        Scope.CONCEPT: {
            "student_id": [s for s, _ in sorted(touched.concepts)],
            "concept_module_id": [m for _, m in sorted(touched.concepts)],
        },
    }
    students = {"students": arrays[Scope.OVERALL]["student_id"]}
    with connection.cursor() as cursor, _work_mem(cursor, large=len(touched.students) > LARGE):
        # One writer at a time per student, until commit: a concurrent write's
        # recomputation waits here, then (a new statement, a new snapshot) sees this one's
        # rows, rather than overwriting its records with values computed without them.
        # In id order, so that two writers cannot deadlock.
        cursor.execute(LOCK_STUDENTS, students)
        for scope, shape in _SHAPES.items():
            if arrays[scope]["student_id"]:
                cursor.execute(_refresh_sql(shape, restricted=True), {**params, **students, **arrays[scope]})


LOCK_STUDENTS = f"SELECT 1 FROM {STUDENTS} WHERE id = ANY(%(students)s::bigint[]) ORDER BY id FOR NO KEY UPDATE"

# A refresh of more students than this (a bulk import) sorts its rows with WORK_MEM: with
# PostgreSQL's default 4 MB, 100,000 rows spill to disk.
LARGE = 100
WORK_MEM = "64MB"


@contextlib.contextmanager
def _work_mem(cursor, *, large: bool) -> Iterator[None]:
    """More memory for the sorts of a large recomputation, for this transaction's
    statements until the end of the block (then back as it was)."""
    if not large:
        yield
        return
    cursor.execute("SELECT current_setting('work_mem')")
    (before,) = cursor.fetchone()
    cursor.execute("SELECT set_config('work_mem', %s, true)", [WORK_MEM])
    try:
        yield
    finally:
        cursor.execute("SELECT set_config('work_mem', %s, true)", [before])


def rebuild() -> tuple[int, int]:
    """Recompute every record (after a change of the mastery settings, or to repair).
    Returns how many records were written (new or changed) and how many removed."""
    params = _parameters()
    written = removed = 0
    with connection.cursor() as cursor, _work_mem(cursor, large=True):
        for shape in _SHAPES.values():
            cursor.execute(_refresh_sql(shape, restricted=False), params)
            upserts, deletions = cursor.fetchone()
            written, removed = written + upserts, removed + deletions
    return written, removed


def _differences_sql(shape: _Shape) -> str:
    keys = ", ".join(shape.keys)
    floats = ("mean", "last", "best", "decaying", "n_mastery", "trend")
    exact = ("count", "first_at", "last_at")

    def differs_float(name: str) -> str:
        return (
            f"(agg.{name} IS NULL) <> (p.{name} IS NULL) OR "
            f"abs(agg.{name} - p.{name}) > {TOLERANCE} * greatest(1, abs(agg.{name}))"
        )

    differs = " OR ".join([*(f"agg.{n} IS DISTINCT FROM p.{n}" for n in exact), *(differs_float(n) for n in floats)])
    return f"""
        {_aggregate_ctes(shape, restricted=False)},
        stored AS (SELECT * FROM {RECORDS} WHERE scope = '{shape.scope}')
        SELECT {", ".join(f"coalesce(agg.{k}, p.{k})" for k in shape.keys)},
               agg.count IS NULL AS extra, p.count IS NULL AS missing
        FROM agg FULL JOIN stored p USING ({keys})
        WHERE agg.count IS NULL OR p.count IS NULL OR {differs}
        ORDER BY 1, 2
    """


@dataclass(frozen=True)
class Difference:
    scope: str
    key: tuple
    problem: str  # "missing", "extra" or "differs"

    def __str__(self):
        return f"{self.scope} record {self.key}: {self.problem}"


def differences() -> list[Difference]:
    """The records that differ from a recomputation from the assessment rows (none, unless
    something wrote around the services or the mastery settings changed)."""
    params = _parameters()
    found = []
    with connection.cursor() as cursor:
        for scope, shape in _SHAPES.items():
            cursor.execute(_differences_sql(shape), params)
            for *key, extra, missing in cursor.fetchall():
                problem = "extra" if extra else "missing" if missing else "differs"
                found.append(Difference(scope=str(scope), key=tuple(key), problem=problem))
    return found
