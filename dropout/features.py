"""Features of enrolments at a cut-off day, computed set-based in one SQL statement.

The rule that keeps the model honest: at cut-off day *d* the population is the enrolments
registered on or before *d* (or with no registration day) and not unregistered on or before *d*,
and a feature uses only what was known on day *d*: background attributes, the registration day,
the assessment calendar, submissions dated on or before *d*, events dated on or before *d*, and
earlier attempts at the course that had ended by then. The final result is the label, never a
feature (tests/dropout/test_leakage.py adds later rows and checks that nothing changes).

``FEATURES`` lists each feature with the sentence a tutor reads when it is a reason.
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db import connection

from dropout.models import (
    Assessment,
    AssessmentSubmission,
    AttemptHistory,
    Course,
    Education,
    Enrollment,
    LearningEvent,
    Presentation,
    Target,
)

VERSION = "v1"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _plural(count: float, word: str) -> str:
    return f"{_n(count)} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    # The sentence for a value (never None: missing values read "unknown" or "none").
    say: Callable[[float, dict, int], str]
    clicks: bool = False  # needs click data
    # The same for every enrolment of a presentation (its calendar): it places the course,
    # not the student, so it is never given as a reason.
    context: bool = False


def _say_missing(value, row, day):
    return f"missed {_n(value)} of {_n(row['n_due'])} assignments due by day {day}"


def _say_registration(value, row, day):
    if value < 0:
        return f"registered {_plural(-value, 'day')} before the start"
    return f"registered {_plural(value, 'day')} after the start" if value > 0 else "registered on the first day"


EDUCATION_LABELS = [str(choice.label).lower() for choice in Education]

FEATURES: tuple[Feature, ...] = (
    Feature("gender_male", "gender", lambda v, r, d: "male" if v else "female"),
    Feature("disability", "disability", lambda v, r, d: "declared a disability" if v else "no declared disability"),
    Feature(
        "education_level",
        "highest education",
        lambda v, r, d: f"highest education: {EDUCATION_LABELS[int(v)]}",
    ),
    Feature(
        "imd_band",
        "deprivation band",
        lambda v, r, d: f"lives in an area of IMD band {int(v * 10) * 10}-{int(v * 10) * 10 + 10}%",
    ),
    Feature("age_band", "age band", lambda v, r, d: f"age band {('under 35', '35-55', '55 and over')[int(v)]}"),
    Feature(
        "previous_attempts", "previous attempts", lambda v, r, d: f"{_plural(v, 'earlier attempt')} at this course"
    ),
    Feature("studied_credits", "studied credits", lambda v, r, d: f"studying {_n(v)} credits"),
    Feature("registration_day", "registration day", _say_registration),
    Feature("course_length_days", "course length", lambda v, r, d: f"a course of {_n(v)} days", context=True),
    Feature(
        "start_month",
        "start month",
        lambda v, r, d: "a February start" if v == 2 else "an October start" if v == 10 else f"starts in month {_n(v)}",
        context=True,
    ),
    Feature(
        "prev_withdrawn",
        "earlier withdrawals",
        lambda v, r, d: f"withdrew from this course {_plural(v, 'time')} before",
    ),
    Feature("prev_failed", "earlier fails", lambda v, r, d: f"failed this course {_plural(v, 'time')} before"),
    Feature("prev_passed", "earlier passes", lambda v, r, d: f"passed this course {_plural(v, 'time')} before"),
    Feature("n_due", "assignments due", lambda v, r, d: f"{_plural(v, 'assignment')} due by day {d}", context=True),
    Feature(
        "n_submitted_due",
        "due assignments submitted",
        lambda v, r, d: f"submitted {_n(v)} of {_n(r['n_due'])} assignments due by day {d}",
    ),
    Feature("n_missed", "assignments missed", _say_missing),
    Feature("share_missed", "share missed", lambda v, r, d: f"missed {v:.0%} of the assignments due by day {d}"),
    Feature("n_late", "late submissions", lambda v, r, d: f"{_plural(v, 'assignment')} submitted after the deadline"),
    Feature(
        "weight_due",
        "weight due",
        lambda v, r, d: f"assignments worth {_n(v)}% of the marks due by day {d}",
        context=True,
    ),
    Feature("weight_missed", "weight missed", lambda v, r, d: f"missed assignments worth {_n(v)}% of the marks"),
    Feature("n_submissions", "submissions", lambda v, r, d: f"{_plural(v, 'submission')} by day {d}"),
    Feature("n_banked", "banked", lambda v, r, d: f"{_plural(v, 'result')} carried over from an earlier presentation"),
    Feature("mean_score", "mean score", lambda v, r, d: f"average score {v:.0f} so far"),
    Feature("min_score", "lowest score", lambda v, r, d: f"lowest score {v:.0f} so far"),
    Feature("weighted_score", "weighted score", lambda v, r, d: f"weighted average score {v:.0f}"),
    Feature("last_due_score", "last due score", lambda v, r, d: f"scored {v:.0f} on the latest assignment due"),
    Feature(
        "days_since_last_submission",
        "days since a submission",
        lambda v, r, d: f"nothing submitted for {_plural(v, 'day')}",
    ),
    Feature(
        "mean_days_early",
        "days early",
        lambda v, r, d: f"submits {abs(v):.0f} days {'before' if v >= 0 else 'after'} the deadline on average",
    ),
    Feature(
        "clicks_total", "clicks", lambda v, r, d: f"{_plural(v, 'click')} on the course site by day {d}", clicks=True
    ),
    Feature(
        "clicks_before_start",
        "clicks before the start",
        lambda v, r, d: f"{_plural(v, 'click')} before the course started",
        clicks=True,
    ),
    Feature(
        "clicks_last_14_days",
        "recent clicks",
        lambda v, r, d: f"{_plural(v, 'click')} in the 14 days up to day {d}",
        clicks=True,
    ),
    Feature(
        "clicks_per_week", "clicks per week", lambda v, r, d: f"{v:,.0f} clicks a week since the start", clicks=True
    ),
    Feature("active_days", "active days", lambda v, r, d: f"active on {_plural(v, 'day')} by day {d}", clicks=True),
    Feature(
        "days_since_last_activity",
        "days since activity",
        lambda v, r, d: f"no activity on the course site for {_plural(v, 'day')}",
        clicks=True,
    ),
    Feature(
        "click_trend",
        "click trend",
        lambda v, r, d: f"weekly clicks {'rising' if v > 0 else 'falling'} by {abs(v):,.0f} a week",
        clicks=True,
    ),
)
BY_NAME = {feature.name: feature for feature in FEATURES}
CONTEXT = frozenset(feature.name for feature in FEATURES if feature.context)
NO_CLICKS = tuple(feature.name for feature in FEATURES if not feature.clicks)
ALL = tuple(feature.name for feature in FEATURES)


def sentence(name: str, value: float | None, row: dict, cutoff_day: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return f"no {BY_NAME[name].label} yet"
    return BY_NAME[name].say(value, row, cutoff_day)


E, P, C = Enrollment._meta.db_table, Presentation._meta.db_table, Course._meta.db_table
A, S = Assessment._meta.db_table, AssessmentSubmission._meta.db_table
H, V = AttemptHistory._meta.db_table, LearningEvent._meta.db_table

IMD_MIDPOINT = "(substring(e.imd_band from '^(\\d+)')::float8 + 5) / 100"
EDUCATION_LEVEL = "array_position(%(education)s::text[], e.highest_education) - 1"
AGE_LEVEL = "array_position(ARRAY['0-35', '35-55', '55+'], e.age_band) - 1"

# %(d)s is the cut-off day, %(presentations)s the presentations' ids.
FEATURES_SQL = f"""
WITH pop AS (
    SELECT e.*, p.course_id, c.code AS course_code, p.start_date, p.length_days
    FROM {E} e JOIN {P} p ON p.id = e.presentation_id JOIN {C} c ON c.id = p.course_id
    WHERE e.presentation_id = ANY(%(presentations)s)
      AND (e.registered_day IS NULL OR e.registered_day <= %(d)s)
      AND (e.unregistered_day IS NULL OR e.unregistered_day > %(d)s)
), due AS (
    -- the calendar: assessments other than exams whose deadline has passed by day d
    SELECT a.presentation_id, count(*) AS n_due, sum(a.weight) AS weight_due,
           max(a.deadline_day) AS last_deadline
    FROM {A} a
    WHERE a.presentation_id = ANY(%(presentations)s) AND a.assessment_type <> 'Exam' AND a.deadline_day <= %(d)s
    GROUP BY 1
), subs AS (
    SELECT s.enrollment_id,
        count(*) AS n_submissions,
        count(*) FILTER (WHERE s.banked) AS n_banked,
        avg(s.score) AS mean_score,
        min(s.score) AS min_score,
        sum(s.score * a.weight) FILTER (WHERE a.weight > 0)
            / nullif(sum(a.weight) FILTER (WHERE a.weight > 0 AND s.score IS NOT NULL), 0) AS weighted_score,
        -- banked results carry a placeholder date (-1 in OULAD): not timing evidence
        max(s.submitted_day) FILTER (WHERE NOT s.banked) AS last_submitted,
        count(*) FILTER (WHERE a.is_due) AS n_submitted_due,
        coalesce(sum(a.weight) FILTER (WHERE a.is_due), 0) AS weight_submitted_due,
        count(*) FILTER (WHERE a.is_due AND NOT s.banked AND s.submitted_day > a.deadline_day) AS n_late,
        avg(a.deadline_day - s.submitted_day) FILTER (WHERE a.is_due AND NOT s.banked) AS mean_days_early
    FROM pop
    JOIN {S} s ON s.enrollment_id = pop.id
    JOIN (SELECT a.*, (a.assessment_type <> 'Exam' AND a.deadline_day <= %(d)s) AS is_due FROM {A} a) a
        ON a.id = s.assessment_id
    WHERE s.submitted_day <= %(d)s
    GROUP BY 1
), last_due AS (
    -- the score of the latest assessment due (the weightier of two due the same day; 0 when
    -- it was missed)
    SELECT DISTINCT ON (pop.id) pop.id AS enrollment_id,
        CASE WHEN s.submitted_day <= %(d)s THEN s.score ELSE 0 END AS last_due_score
    FROM pop
    JOIN {A} a ON a.presentation_id = pop.presentation_id AND a.assessment_type <> 'Exam' AND a.deadline_day <= %(d)s
    LEFT JOIN {S} s ON s.enrollment_id = pop.id AND s.assessment_id = a.id
    ORDER BY pop.id, a.deadline_day DESC, a.weight DESC, a.id DESC
), attempts AS (
    SELECT pop.id AS enrollment_id,
        count(*) FILTER (WHERE h.result = 'withdrawn') AS prev_withdrawn,
        count(*) FILTER (WHERE h.result = 'fail') AS prev_failed,
        count(*) FILTER (WHERE h.result IN ('pass', 'distinction')) AS prev_passed
    FROM pop JOIN {H} h
        ON h.student_id = pop.student_id AND h.course_id = pop.course_id AND h.presentation_id <> pop.presentation_id
       AND h.ended_on <= pop.start_date + %(d)s
    GROUP BY 1
), weeks AS (
    -- weeks 0 .. d/7 since the start; their count and the centred sum of squares of the
    -- week numbers, for the least-squares slope of weekly clicks (absent weeks count zero)
    SELECT (%(d)s / 7) + 1 AS n, ((%(d)s / 7) + 1) * (((%(d)s / 7) + 1) ^ 2 - 1) / 12.0 AS sxx,
           (%(d)s / 7) / 2.0 AS mean_week
), clicks AS (
    SELECT v.enrollment_id,
        sum(v.clicks) AS clicks_total,
        coalesce(sum(v.clicks) FILTER (WHERE v.day < 0), 0) AS clicks_before_start,
        coalesce(sum(v.clicks) FILTER (WHERE v.day > %(d)s - 14), 0) AS clicks_last_14_days,
        coalesce(sum(v.clicks) FILTER (WHERE v.day >= 0), 0) AS clicks_since_start,
        count(DISTINCT v.day) AS active_days,
        max(v.day) AS last_active,
        sum((v.day / 7 - weeks.mean_week) * v.clicks) FILTER (WHERE v.day >= 0) AS sxy
    FROM pop JOIN {V} v ON v.enrollment_id = pop.id CROSS JOIN weeks
    WHERE v.day <= %(d)s
    GROUP BY 1
)
SELECT pop.id,
    (pop.gender = 'M')::int::float8 AS gender_male,
    pop.disability::int::float8 AS disability,
    ({EDUCATION_LEVEL.replace("e.", "pop.")})::float8 AS education_level,
    {IMD_MIDPOINT.replace("e.", "pop.")} AS imd_band,
    ({AGE_LEVEL.replace("e.", "pop.")})::float8 AS age_band,
    pop.previous_attempts::float8,
    pop.studied_credits::float8,
    pop.registered_day::float8 AS registration_day,
    pop.length_days::float8 AS course_length_days,
    extract(month FROM pop.start_date)::float8 AS start_month,
    coalesce(at.prev_withdrawn, 0)::float8 AS prev_withdrawn,
    coalesce(at.prev_failed, 0)::float8 AS prev_failed,
    coalesce(at.prev_passed, 0)::float8 AS prev_passed,
    coalesce(due.n_due, 0)::float8 AS n_due,
    coalesce(subs.n_submitted_due, 0)::float8 AS n_submitted_due,
    (coalesce(due.n_due, 0) - coalesce(subs.n_submitted_due, 0))::float8 AS n_missed,
    ((due.n_due - coalesce(subs.n_submitted_due, 0))::float8 / nullif(due.n_due, 0)) AS share_missed,
    coalesce(subs.n_late, 0)::float8 AS n_late,
    coalesce(due.weight_due, 0)::float8 AS weight_due,
    (coalesce(due.weight_due, 0) - coalesce(subs.weight_submitted_due, 0))::float8 AS weight_missed,
    coalesce(subs.n_submissions, 0)::float8 AS n_submissions,
    coalesce(subs.n_banked, 0)::float8 AS n_banked,
    subs.mean_score::float8,
    subs.min_score::float8,
    subs.weighted_score::float8,
    last_due.last_due_score::float8,
    (%(d)s - subs.last_submitted)::float8 AS days_since_last_submission,
    subs.mean_days_early::float8,
    coalesce(clicks.clicks_total, 0)::float8 AS clicks_total,
    coalesce(clicks.clicks_before_start, 0)::float8 AS clicks_before_start,
    coalesce(clicks.clicks_last_14_days, 0)::float8 AS clicks_last_14_days,
    (coalesce(clicks.clicks_since_start, 0)::float8 / weeks.n) AS clicks_per_week,
    coalesce(clicks.active_days, 0)::float8 AS active_days,
    (%(d)s - clicks.last_active)::float8 AS days_since_last_activity,
    (CASE WHEN weeks.n > 1 THEN coalesce(clicks.sxy, 0) / weeks.sxx END)::float8 AS click_trend,
    pop.course_code,
    pop.final_result
FROM pop
CROSS JOIN weeks
LEFT JOIN due ON due.presentation_id = pop.presentation_id
LEFT JOIN subs ON subs.enrollment_id = pop.id
LEFT JOIN last_due ON last_due.enrollment_id = pop.id
LEFT JOIN attempts at ON at.enrollment_id = pop.id
LEFT JOIN clicks ON clicks.enrollment_id = pop.id
ORDER BY pop.id
"""


@dataclass
class FeatureTable:
    """One row per enrolment of the population: ids, the features (``ALL`` order, None where
    missing), the course codes (the model's one categorical input) and the final results (the
    label's source, never a feature)."""

    cutoff_day: int
    ids: list[int]
    rows: list[tuple[float | None, ...]]
    courses: list[str]
    results: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def labels(self, target: str) -> list[int]:
        positive = set(Target(target).results)
        return [int(result in positive) for result in self.results]

    def as_dicts(self) -> list[dict[str, float | None]]:
        return [dict(zip(ALL, row, strict=True)) for row in self.rows]


def compute(presentations: Sequence[int], cutoff_day: int) -> FeatureTable:
    """The features at ``cutoff_day`` of the population of ``presentations`` (ids), in one
    statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            FEATURES_SQL,
            {"presentations": list(presentations), "d": cutoff_day, "education": [e.value for e in Education]},
        )
        fetched = cursor.fetchall()
    width = len(ALL)
    return FeatureTable(
        cutoff_day=cutoff_day,
        ids=[row[0] for row in fetched],
        rows=[row[1 : 1 + width] for row in fetched],
        courses=[row[1 + width] for row in fetched],
        results=[row[2 + width] for row in fetched],
    )
