# ruff: noqa: S608 (all SQL here is built from this module's own names; values are parameters)
"""Performance records, kept exact: every write of assessments brings the records of the
(student), (student, subject) and (student, concept module) groups it touched up to date, in
its own transaction and with one set-based statement per scope, so that a record always
equals a recomputation from the assessment rows, whatever the order of creates,
corrections, deletions, bulk imports and back-fills; ``differences()`` verifies it
(``manage.py recompute_performance --check``).

Two ways, one result:

- ``refresh()`` (corrections, deletions, back-fills) recomputes a group's record from all
  its rows;
- ``merge_inserted()`` (new rows: a create, a bulk import) extends a group's record with the
  new rows alone when they all come after the group's rows in (taken_at, id) order, or the
  group is new: the record keeps the state this needs (sums, the latest row's id, the
  centred sums of the regression). A group the new rows back-fill is recomputed.

Definitions (percentages are score / max_score * 100; rows are ordered by taken_at, then id):

- count, mean (Canvas "average"), best ("highest"), last ("latest": the latest row's);
- decaying: D₁ = s₁, Dₖ = (1 - w)·Dₖ₋₁ + w·sₖ, w = DASHBOARD_MASTERY["DECAYING_WEIGHT"]
  (0.65), computed in closed form: Dₙ = Σₖ sₖ·(1 - w)ⁿ⁻ᵏ·(w if k > 1 else 1), with terms
  whose weight is below 1e-300 dropped (they cannot change a double);
- n_mastery: the mean of the scores at or above THRESHOLD, once there are at least N of them
  (else null), as Canvas's "n number of times";
- trend: the least-squares slope of percentage against taken_at, in points per day
  (Sxy / Sxx, PostgreSQL's regr_sxy and regr_sxx; null for one row or rows all at one
  time);
- first_at, last_at: the earliest and latest taken_at.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from psycopg.types.multirange import Multirange
from psycopg.types.range import Range

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

# What a record stores: the values read, then the state that lets a write of new rows
# extend the record without reading the group's earlier rows (see merge_inserted()).
_VALUES = ("count", "mean", "last", "best", "decaying", "n_mastery", "trend", "first_at", "last_at")
_STATE = ("last_id", "pct_sum", "mastery_count", "mastery_sum", "day_sum", "day_sxx", "day_sxy")
_COLUMNS = (*_VALUES, *_STATE)


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


def _keep(exponent: str) -> str:
    """(1 - w) ** exponent in SQL, 0 past the cap."""
    return f"CASE WHEN {exponent} > %(cap)s THEN 0 ELSE power(1 - %(w)s::float8, ({exponent})::float8) END"


def _stats_ctes(shape: _Shape, where: str) -> str:
    """``rows, ranked, stats``: per group of the rows ``where`` selects, the aggregates a
    record is made of, combinable with a stored record's (merge_inserted()).

    ``r`` numbers a group's rows from its latest (0) in (taken_at, id) order, so one sort
    serves every aggregate: the latest row is r = 0, the earliest the one without a next.
    The decaying average is split in two sums: ``decay_tail`` = Σ w·sₖ·(1-w)^r over all
    rows and ``decay_first`` = s₁·(1-w)^r of the earliest; the group's own is
    decay_tail + (1 - w)·decay_first (the earliest row weighs 1, not w), and rows that come
    after a stored record's add decay_tail to its decaying average times (1-w)^count.
    ``day_sxx`` and ``day_sxy`` are the centred sums of squares and products of the days
    (epoch / 86400) and percentages (PostgreSQL's regr_sxx, regr_sxy)."""
    keys = ", ".join(shape.keys)
    return f"""
        rows AS (
            SELECT r.*, r.score::float8 / r.max_score::float8 * 100 AS pct,
                   extract(epoch FROM r.taken_at)::float8 / 86400 AS day
            FROM ({shape.source} {where}) r
        ),
        ranked AS (
            SELECT rows.*,
                   row_number() OVER latest - 1 AS r,
                   lead(id) OVER latest IS NULL AS earliest
            FROM rows
            WINDOW latest AS (PARTITION BY {keys} ORDER BY taken_at DESC, id DESC)
        ),
        stats AS (
            SELECT {keys},
                   count(*)::int AS count,
                   sum(pct) AS pct_sum,
                   max(pct) AS best,
                   max(pct) FILTER (WHERE r = 0) AS last,
                   max(id) FILTER (WHERE r = 0) AS last_id,
                   min(taken_at) AS first_at,
                   max(id) FILTER (WHERE earliest) AS first_id,
                   max(taken_at) AS last_at,
                   sum(%(w)s::float8 * pct * {_keep("r")}) AS decay_tail,
                   max(pct * {_keep("r")}) FILTER (WHERE earliest) AS decay_first,
                   (count(*) FILTER (WHERE pct >= %(t)s))::int AS mastery_count,
                   coalesce(sum(pct) FILTER (WHERE pct >= %(t)s), 0) AS mastery_sum,
                   sum(day) AS day_sum,
                   regr_sxx(pct, day) AS day_sxx,
                   regr_sxy(pct, day) AS day_sxy
            FROM ranked GROUP BY {keys}
        )
    """


# A group's state from its stats alone (all its rows, or the first rows of a new group).
_OWN_STATE = """count, pct_sum, best, last, last_id, first_at, last_at,
    decay_tail + (1 - %(w)s::float8) * decay_first AS decaying,
    mastery_count, mastery_sum, day_sum, day_sxx, day_sxy"""

# The values read, derived from a state.
_DERIVED = """count, pct_sum / count AS mean, last, best, decaying,
    CASE WHEN mastery_count >= %(n)s THEN mastery_sum / mastery_count END AS n_mastery,
    CASE WHEN first_at <> last_at THEN day_sxy / nullif(day_sxx, 0) END AS trend,
    first_at, last_at, last_id, pct_sum, mastery_count, mastery_sum, day_sum, day_sxx, day_sxy"""


def _key_arrays(shape: _Shape) -> str:
    """The parameters holding the touched groups' keys, one array per key column."""
    return ", ".join(f"%({name})s::{kind}[]" for name, kind in zip(shape.keys, shape.key_types, strict=True))


def _rows_where(shape: _Shape, restricted: bool) -> str:
    """Restricted, the rows are found by student (``%(students)s``: one index range each)
    and kept if their group is in the key arrays."""
    if not restricted:
        return ""
    where = " WHERE a.student_id = ANY(%(students)s::bigint[])"
    if len(shape.keys) > 1:
        where += f" AND ({', '.join(shape.columns)}) IN (SELECT * FROM unnest({_key_arrays(shape)}))"
    return where


def _aggregate_ctes(shape: _Shape, restricted: bool) -> str:
    """``WITH [keys,] rows, ranked, stats, agg``: the records the assessment rows make, for
    the groups in the key arrays (``restricted``: the ``keys`` CTE serves the deletion of
    records whose group has no rows left) or for all."""
    keys = ", ".join(shape.keys)
    key_cte = ""
    if restricted:
        key_cte = f"keys AS (SELECT DISTINCT * FROM unnest({_key_arrays(shape)}) AS k({keys})),"
    return f"""
        WITH {key_cte} {_stats_ctes(shape, _rows_where(shape, restricted))},
        agg AS (SELECT {keys}, {_DERIVED} FROM (SELECT {keys}, {_OWN_STATE} FROM stats) own)
    """


def _refresh_sql(shape: _Shape, restricted: bool) -> str:
    """Write the records the rows make (new, or updated unless every value is the same) and
    delete those of groups without rows; in the key arrays (``restricted``) or all."""
    keys = ", ".join(shape.keys)
    subject, module = shape.record_columns
    columns = ", ".join(_COLUMNS)
    changed = " OR ".join(f"r.{name} IS DISTINCT FROM EXCLUDED.{name}" for name in _COLUMNS)
    in_scope = f"p.scope = '{shape.scope}'"
    if restricted:
        in_scope += f" AND ({', '.join('p.' + key for key in shape.keys)}) IN (SELECT {keys} FROM keys)"
    return f"""
        {_aggregate_ctes(shape, restricted)},
        upserted AS (
            INSERT INTO {RECORDS} AS r (student_id, scope, subject, concept_module_id, {columns}, updated_at)
            SELECT student_id, '{shape.scope}', {subject}, {module}, {columns}, now() FROM agg
            ON CONFLICT {shape.conflict} DO UPDATE SET
                {", ".join(f"{name} = EXCLUDED.{name}" for name in _COLUMNS)}, updated_at = EXCLUDED.updated_at
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


def _merge_sql(shape: _Shape) -> str:
    """Extend the records of the groups the new rows (``%(inserted)s``: their ids as a
    multirange) fall in, where every new row comes after the group's rows
    in (taken_at, id) order; create the records of new groups; return the keys of the other
    groups (a back-fill: recomputed from their rows).

    Extending a record (stored state p, the new rows' stats s, m = s.count): counts and
    sums add, best is the greater, the latest row is the new rows' latest; the decaying
    average is p.decaying·(1-w)^m + s.decay_tail (its recurrence, unrolled over the new
    rows); the centred sums of squares and products combine as in PostgreSQL's parallel
    regression aggregates: Sxx = Sxx₁ + Sxx₂ + n₁n₂/n·(x̄₁ - x̄₂)², Sxy likewise with
    (x̄₁ - x̄₂)(ȳ₁ - ȳ₂). The records of new groups are plain inserts: the writer holds
    the students' locks (_lock()), so no other can have created them since."""
    keys = ", ".join(shape.keys)

    def matching(alias: str) -> str:
        return f"p.scope = '{shape.scope}' AND " + " AND ".join(f"p.{k} = {alias}.{k}" for k in shape.keys)

    after = "(s.first_at, s.first_id) > (p.last_at, p.last_id)"
    total = "(p.count + s.count)::float8"
    dx = "(p.day_sum / p.count - s.day_sum / s.count)"
    dy = "(p.pct_sum / p.count - s.pct_sum / s.count)"
    weight = f"(p.count::float8 * s.count / {total})"
    merged = f"""p.count + s.count AS count, p.pct_sum + s.pct_sum AS pct_sum, greatest(p.best, s.best) AS best,
        s.last, s.last_id, p.first_at, s.last_at, p.decaying * {_keep("s.count")} + s.decay_tail AS decaying,
        p.mastery_count + s.mastery_count AS mastery_count, p.mastery_sum + s.mastery_sum AS mastery_sum,
        p.day_sum + s.day_sum AS day_sum, p.day_sxx + s.day_sxx + {weight} * {dx} * {dx} AS day_sxx,
        p.day_sxy + s.day_sxy + {weight} * {dx} * {dy} AS day_sxy"""
    subject, module = shape.record_columns
    columns = ", ".join(_COLUMNS)
    ids = "%(inserted)s::int8multirange"
    inserted = f"WHERE a.id >= lower({ids}) AND a.id < upper({ids}) AND a.id <@ {ids}"  # the bounds: an index range
    return f"""
        WITH {_stats_ctes(shape, inserted)},
        extended AS (
            UPDATE {RECORDS} p SET ({columns}, updated_at) = (SELECT {_DERIVED}, now() FROM (SELECT {merged}) state)
            FROM stats s WHERE {matching("s")} AND {after}
            RETURNING {", ".join("p." + k for k in shape.keys)}
        ),
        created AS (
            INSERT INTO {RECORDS} (student_id, scope, subject, concept_module_id, {columns}, updated_at)
            SELECT student_id, '{shape.scope}', {subject}, {module}, {columns}, now()
            FROM (SELECT {keys}, {_DERIVED} FROM (SELECT {keys}, {_OWN_STATE} FROM stats) own) agg
            WHERE NOT EXISTS (SELECT FROM {RECORDS} p WHERE {matching("agg")})
            RETURNING {keys}
        )
        SELECT {keys} FROM stats EXCEPT ALL (SELECT {keys} FROM extended UNION ALL SELECT {keys} FROM created)
    """


def refresh(touched: Touched) -> None:
    """Recompute the records of the touched groups from their rows (call inside the write's
    transaction, after changing or deleting rows)."""
    if not touched:
        return
    with connection.cursor() as cursor, _work_mem(cursor, large=len(touched.students) > LARGE):
        _lock(cursor, touched.students)
        _recompute(cursor, touched)


def merge_inserted(inserted: Collection[int], students: Collection[int]) -> None:
    """Bring the records up to date after inserting rows (``inserted``, rows of
    ``students``), inside the write's transaction: a group whose new rows all come after
    its rows (the usual import of new results) or that is new has its record extended from
    the new rows alone; a back-filled group is recomputed from its rows."""
    if not inserted:
        return
    params = {**_parameters(), "inserted": _ranges(inserted)}
    backfilled = Touched()
    with connection.cursor() as cursor, _work_mem(cursor, large=len(students) > LARGE):
        _lock(cursor, students)
        for scope, shape in _SHAPES.items():
            cursor.execute(_merge_sql(shape), params)
            for key in cursor.fetchall():
                backfilled.students.add(key[0])
                if scope == Scope.SUBJECT:
                    backfilled.subjects.add(key)
                elif scope == Scope.CONCEPT:
                    backfilled.concepts.add(key)
        if backfilled:
            _recompute(cursor, backfilled)


def _ranges(ids: Collection[int]) -> Multirange:
    """The ids as runs of consecutive ones (a bulk import's come from the sequence in one
    statement: usually one run), for a small parameter and an index range scan."""
    runs: list[Range] = []
    start = end = None
    for pk in sorted(ids):
        if end is not None and pk == end + 1:
            end = pk
            continue
        if start is not None:
            runs.append(Range(start, end, "[]"))
        start = end = pk
    runs.append(Range(start, end, "[]"))
    return Multirange(runs)


def _lock(cursor, students: Collection[int]) -> None:
    # One writer at a time per student, until commit: a concurrent write's recomputation
    # waits here, then (a new statement, a new snapshot) sees this one's rows, rather than
    # overwriting its records with values computed without them. In id order, so that two
    # writers cannot deadlock.
    cursor.execute(LOCK_STUDENTS, {"students": sorted(students)})


def _recompute(cursor, touched: Touched) -> None:
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
    exact = ("count", "first_at", "last_at", "last_id", "mastery_count")
    floats = tuple(name for name in _COLUMNS if name not in exact)

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
