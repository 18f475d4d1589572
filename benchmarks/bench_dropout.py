"""Dropout (issue 8): click ingestion, features at a cut-off, and predicting, each next to its
baseline.

1. ``POST events/`` of 10,000-row batches, end to end (HTTP through Django's test client,
   JSON, pydantic validation, resolution of enrolments and sites, COPY, one audit entry)
   against a raw psycopg COPY of the same, already resolved, rows into the events table —
   target: >= 50 % of COPY's rows/s (time ratio <= 2).
2. The features at cut-off day 70 of 30,000 enrolments with 1,000,000 events in SQL
   (features.compute: one statement) against pandas computing the same features from the same
   tables (reading them included) — target: faster (ratio < 1), and identical values (checked
   outside the timing).
3. Predicting 10,000 enrolments end to end (predicting.predict: features, the model with its
   reasons, predictions and feature sets written in bulk, one audit entry) against the model's
   own probabilities on the same matrix (Blend.probabilities: the trees' predict and the linear
   model) — target: <= 3x.

The dropout tables (and the dashboard's students) are emptied and refilled at the start of each
run, in the benchmark database only.
"""

# ruff: noqa: S608 (table names come from model metadata; values are parameters)

from __future__ import annotations

import json
import math
import random
from datetime import date

import numpy as np
import pandas as pd
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from dashboard.models import Student
from dropout import features, predicting, training
from dropout.apps import SUPPORT_STAFF
from dropout.models import (
    Assessment,
    AssessmentSubmission,
    AttemptHistory,
    Course,
    Enrollment,
    LearningActivity,
    LearningEvent,
    Presentation,
)
from veritas import bulk
from veritas.models import PersonalToken

ENROLLMENTS = 30_000
EVENTS = 1_000_000
PRESENTATIONS = [
    ("AAA", "2013J"),
    ("BBB", "2013J"),
    ("AAA", "2014B"),
    ("BBB", "2014B"),
    ("CCC", "2014J"),
    ("DDD", "2014J"),
]
PER_PRESENTATION = ENROLLMENTS // len(PRESENTATIONS)
CALENDAR = [("TMA", 20, 10), ("CMA", 30, 0), ("TMA", 50, 20), ("TMA", 90, 30), ("TMA", 130, 40), ("Exam", None, 100)]
SITES = 40
CUTOFF = 70
BATCH = 10_000
URL = "/api/v1/dropout/events/"
RESULTS = ["pass", "pass", "distinction", "fail", "withdrawn"]
EVENT_TABLE = LearningEvent._meta.db_table


def empty() -> None:
    tables = [Student._meta.db_table, Course._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def fill(rng: random.Random) -> dict:
    """ENROLLMENTS enrolments over the presentations, their calendars and submissions, and
    EVENTS click rows (with COPY: this is set-up, not what is measured)."""
    students = Student.objects.bulk_create(
        Student(external_id=f"b{i:06d}", name=f"Bench {i}", email=f"b{i}@bench.example")
        for i in range(PER_PRESENTATION * 2)
    )
    courses = {code: Course.objects.create(code=code) for code in sorted({c for c, _ in PRESENTATIONS})}
    made = {}
    for course, code in PRESENTATIONS:
        year, month = int(code[:4]), ord(code[4]) - ord("A") + 1
        presentation = Presentation.objects.create(
            course=courses[course], code=code, start_date=date(year, month, 1), length_days=260
        )
        assessments = Assessment.objects.bulk_create(
            Assessment(
                presentation=presentation,
                external_id=f"{course}{code}{i}",
                assessment_type=kind,
                deadline_day=day,
                weight=weight,
            )
            for i, (kind, day, weight) in enumerate(CALENDAR)
        )
        sites = LearningActivity.objects.bulk_create(
            LearningActivity(presentation=presentation, external_id=f"{course}{code}s{i}", activity_type="resource")
            for i in range(SITES)
        )
        chosen = rng.sample(students, PER_PRESENTATION)
        enrollments = Enrollment.objects.bulk_create(
            Enrollment(
                student=student,
                presentation=presentation,
                registered_day=rng.randint(-120, 10),
                unregistered_day=rng.choice([None, None, None, rng.randint(-10, 250)]),
                final_result=rng.choice(RESULTS),
                gender=rng.choice("MF"),
                highest_education=rng.choice(["below_a_level", "a_level", "he"]),
                imd_band=rng.choice(["0-10%", "40-50%", "90-100%", ""]),
                age_band=rng.choice(["0-35", "35-55"]),
                previous_attempts=rng.choice([0, 0, 0, 1]),
                studied_credits=rng.choice([60, 120]),
                disability=rng.random() < 0.1,
            )
            for student in chosen
        )
        made[(course, code)] = (presentation, assessments, sites, enrollments)
    with connection.cursor() as cursor:
        bulk.copy_rows(
            cursor,
            AssessmentSubmission._meta.db_table,
            {
                "enrollment_id": "int8",
                "assessment_id": "int8",
                "submitted_day": "int4",
                "banked": "bool",
                "score": "float8",
            },
            (
                (e.pk, a.pk, (a.deadline_day or 250) + rng.randint(-6, 4), False, float(rng.randint(20, 100)))
                for _, assessments, _, enrollments in made.values()
                for e in enrollments
                for a in assessments
                if rng.random() < 0.7
            ),
        )
        all_enrollments = [(e, sites) for _, _, sites, enrollments in made.values() for e in enrollments]
        bulk.copy_rows(
            cursor,
            LearningEvent._meta.db_table,
            {"enrollment_id": "int8", "activity_id": "int8", "day": "int4", "clicks": "int4"},
            (
                (e.pk, rng.choice(sites).pk, rng.randint(-20, 250), rng.randint(1, 12))
                for e, sites in (rng.choice(all_enrollments) for _ in range(EVENTS))
            ),
        )
        # A few earlier attempts, for the attempt features.
        firsts = made[PRESENTATIONS[0]][3][:2000]
        AttemptHistory.objects.bulk_create(
            AttemptHistory(
                student_id=e.student_id,
                course_id=e.presentation.course_id,
                presentation_id=e.presentation_id,
                result=e.final_result,
                ended_on=date(2014, 6, 18),
            )
            for e in firsts
        )
        cursor.execute("ANALYZE")
    return made


# --- pandas: the same features from the same tables --------------------------------------------


def read(sql: str, params=None) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        columns = [c.name for c in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)


def pandas_features(presentation_ids: list[int], d: int) -> pd.DataFrame:
    """features.FEATURES_SQL's definitions, computed in pandas from the tables as stored."""
    ids = list(presentation_ids)
    e = read(
        f"SELECT e.*, p.course_id, p.start_date, p.length_days FROM {Enrollment._meta.db_table} e "
        f"JOIN {Presentation._meta.db_table} p ON p.id = e.presentation_id WHERE e.presentation_id = ANY(%s)",
        [ids],
    )
    e = e[(e.registered_day.isna() | (e.registered_day <= d)) & (e.unregistered_day.isna() | (e.unregistered_day > d))]
    a = read(f"SELECT * FROM {Assessment._meta.db_table} WHERE presentation_id = ANY(%s)", [ids])
    s = read(
        f"SELECT s.* FROM {AssessmentSubmission._meta.db_table} s JOIN {Enrollment._meta.db_table} e "
        "ON e.id = s.enrollment_id WHERE e.presentation_id = ANY(%s)",
        [ids],
    )
    h = read(f"SELECT * FROM {AttemptHistory._meta.db_table}")
    v = read(
        f"SELECT v.enrollment_id, v.day, v.clicks FROM {LearningEvent._meta.db_table} v "
        f"JOIN {Enrollment._meta.db_table} e ON e.id = v.enrollment_id WHERE e.presentation_id = ANY(%s)",
        [ids],
    )
    out = pd.DataFrame(index=e.id.values)
    out["gender_male"] = (e.gender == "M").astype(float).values
    out["disability"] = e.disability.astype(float).values
    levels = {"no_formal": 0, "below_a_level": 1, "a_level": 2, "he": 3, "postgraduate": 4}
    out["education_level"] = e.highest_education.map(levels).astype(float).values
    out["imd_band"] = (e.imd_band.str.extract(r"^(\d+)")[0].astype(float) + 5).div(100).values
    out["age_band"] = e.age_band.map({"0-35": 0, "35-55": 1, "55+": 2}).astype(float).values
    out["previous_attempts"] = e.previous_attempts.astype(float).values
    out["studied_credits"] = e.studied_credits.astype(float).values
    out["registration_day"] = e.registered_day.astype(float).values
    out["course_length_days"] = e.length_days.astype(float).values
    out["start_month"] = pd.to_datetime(e.start_date).dt.month.astype(float).values
    ends = e[["id", "student_id", "course_id", "presentation_id", "start_date"]].merge(
        h, on=["student_id", "course_id"], suffixes=("", "_h")
    )
    ends = ends[
        (ends.presentation_id_h != ends.presentation_id) & (ends.ended_on <= ends.start_date + pd.Timedelta(days=d))
    ]
    for name, results in (
        ("prev_withdrawn", ["withdrawn"]),
        ("prev_failed", ["fail"]),
        ("prev_passed", ["pass", "distinction"]),
    ):
        counts = ends[ends.result.isin(results)].groupby("id").size()
        out[name] = counts.reindex(out.index, fill_value=0).astype(float)
    due = a[(a.assessment_type != "Exam") & (a.deadline_day <= d)]
    per_presentation = due.groupby("presentation_id").agg(n_due=("id", "size"), weight_due=("weight", "sum"))
    calendar = e[["id", "presentation_id"]].merge(
        per_presentation, left_on="presentation_id", right_index=True, how="left"
    )
    calendar = calendar.set_index("id").reindex(out.index)
    out["n_due"] = calendar.n_due.fillna(0).astype(float)
    s = s[s.enrollment_id.isin(out.index) & (s.submitted_day <= d)].merge(
        a[["id", "assessment_type", "deadline_day", "weight"]],
        left_on="assessment_id",
        right_on="id",
        suffixes=("", "_a"),
    )
    s["is_due"] = (s.assessment_type != "Exam") & (s.deadline_day <= d)
    grouped = s.groupby("enrollment_id")
    submitted_due = s[s.is_due].groupby("enrollment_id")
    out["n_submitted_due"] = submitted_due.size().reindex(out.index, fill_value=0).astype(float)
    out["n_missed"] = out.n_due - out.n_submitted_due
    out["share_missed"] = (out.n_missed / out.n_due).where(out.n_due > 0)
    timed_due = s[s.is_due & ~s.banked]
    out["n_late"] = (
        (timed_due[timed_due.submitted_day > timed_due.deadline_day].groupby("enrollment_id").size())
        .reindex(out.index, fill_value=0)
        .astype(float)
    )
    out["weight_due"] = calendar.weight_due.fillna(0).astype(float)
    out["weight_missed"] = out.weight_due - submitted_due.weight.sum().reindex(out.index, fill_value=0)
    out["n_submissions"] = grouped.size().reindex(out.index, fill_value=0).astype(float)
    out["n_banked"] = s[s.banked].groupby("enrollment_id").size().reindex(out.index, fill_value=0).astype(float)
    out["mean_score"] = grouped.score.mean().reindex(out.index)
    out["min_score"] = grouped.score.min().reindex(out.index)
    weighted = s[s.weight > 0]
    numerator = (weighted.score * weighted.weight).groupby(weighted.enrollment_id).sum(min_count=1)
    denominator = weighted[weighted.score.notna()].groupby("enrollment_id").weight.sum()
    out["weighted_score"] = (numerator / denominator.where(denominator != 0)).reindex(out.index)
    # the latest due assessment per presentation (weightier first), its score or 0 if missed
    latest = due.sort_values(["presentation_id", "deadline_day", "weight", "id"], ascending=[True, False, False, False])
    latest = latest.drop_duplicates("presentation_id")[["presentation_id", "id"]].rename(
        columns={"id": "assessment_id"}
    )
    last = e[["id", "presentation_id"]].merge(latest, on="presentation_id")
    last = last.merge(
        s[["enrollment_id", "assessment_id", "score"]],
        left_on=["id", "assessment_id"],
        right_on=["enrollment_id", "assessment_id"],
        how="left",
    )
    last["value"] = np.where(last.enrollment_id.isna(), 0.0, last.score)
    out["last_due_score"] = last.set_index("id").value.reindex(out.index).astype(float)
    timed = s[~s.banked]
    out["days_since_last_submission"] = (
        (d - timed.groupby("enrollment_id").submitted_day.max()).reindex(out.index).astype(float)
    )
    out["mean_days_early"] = (
        (timed_due.deadline_day - timed_due.submitted_day).groupby(timed_due.enrollment_id).mean().reindex(out.index)
    )
    v = v[v.enrollment_id.isin(out.index) & (v.day <= d)]
    clicks = v.groupby("enrollment_id")
    weeks = d // 7 + 1
    mean_week = (d // 7) / 2
    sxx = weeks * (weeks**2 - 1) / 12
    out["clicks_total"] = clicks.clicks.sum().reindex(out.index, fill_value=0).astype(float)
    out["clicks_before_start"] = (
        v[v.day < 0].groupby("enrollment_id").clicks.sum().reindex(out.index, fill_value=0).astype(float)
    )
    out["clicks_last_14_days"] = (
        v[v.day > d - 14].groupby("enrollment_id").clicks.sum().reindex(out.index, fill_value=0).astype(float)
    )
    started = v[v.day >= 0]
    out["clicks_per_week"] = started.groupby("enrollment_id").clicks.sum().reindex(out.index, fill_value=0) / weeks
    out["active_days"] = clicks.day.nunique().reindex(out.index, fill_value=0).astype(float)
    out["days_since_last_activity"] = (d - clicks.day.max()).reindex(out.index).astype(float)
    sxy = ((started.day // 7 - mean_week) * started.clicks).groupby(started.enrollment_id).sum()
    out["click_trend"] = (sxy.reindex(out.index, fill_value=0) / sxx) if weeks > 1 else math.nan
    return out.sort_index()[list(features.ALL)]


def same_values(table: features.FeatureTable, frame: pd.DataFrame) -> bool:
    ours = np.array(table.rows, dtype=float)
    return list(frame.index) == table.ids and np.allclose(ours, frame.to_numpy(dtype=float), equal_nan=True)


def run(harness):
    rng = random.Random(8)  # noqa: S311 (benchmark data)
    empty()
    made = fill(rng)
    presentation_ids = [p.pk for p, *_ in made.values()]

    # 1. POST events/
    User = get_user_model()
    user = User.objects.filter(username="bench-support").first() or User.objects.create_user(
        "bench-support", password=None, is_staff=True
    )
    user.groups.add(Group.objects.get(name=SUPPORT_STAFF))
    _, token = PersonalToken.issue(user=user, name="bench")
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    _, _, sites, enrollments = made[PRESENTATIONS[0]]
    course, code = PRESENTATIONS[0]
    students = dict(Student.objects.filter(pk__in=[e.student_id for e in enrollments]).values_list("pk", "external_id"))
    rows, resolved = [], []
    for _ in range(BATCH):
        enrollment, site = rng.choice(enrollments), rng.choice(sites)
        day, clicks = rng.randint(0, 250), rng.randint(1, 12)
        rows.append(
            {
                "code_module": course,
                "code_presentation": code,
                "id_student": students[enrollment.student_id],
                "id_site": site.external_id,
                "date": day,
                "sum_click": clicks,
            }
        )
        resolved.append((enrollment.pk, site.pk, day, clicks))
    body = json.dumps(rows)

    def post():
        response = client.post(URL, body, content_type="application/json", **auth)
        assert response.status_code == 201, response.content

    def raw_copy():
        with connection.cursor() as cursor:
            bulk.copy_rows(
                cursor,
                LearningEvent._meta.db_table,
                {"enrollment_id": "int8", "activity_id": "int8", "day": "int4", "clicks": "int4"},
                resolved,
            )

    events = harness.compare(
        "POST events/ 10k rows (HTTP, JSON, validation, resolution, COPY)",
        post,
        "raw psycopg COPY of the same resolved rows",
        raw_copy,
        repeat=8,
        warmup=2,
        target="<= 2.0x (>= 50% of COPY rows/s)",
        check=lambda c: c.ratio <= 2.0,
    )
    events.notes.update(
        rows_per_second=round(BATCH / (events.workload_median_ms / 1000)),
        copy_rows_per_second=round(BATCH / (events.baseline_median_ms / 1000)),
        share_of_copy=f"{events.baseline_median_ms / events.workload_median_ms:.0%}",
    )
    # Back to EVENTS rows for the features.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {EVENT_TABLE} WHERE id > (SELECT max(id) FROM {EVENT_TABLE}) - %s",
            [LearningEvent.objects.count() - EVENTS],
        )
        cursor.execute(f"VACUUM ANALYZE {LearningEvent._meta.db_table}")

    # 2. Features at a cut-off.
    table = features.compute(presentation_ids, CUTOFF)
    identical = same_values(table, pandas_features(presentation_ids, CUTOFF))
    comparison = harness.compare(
        f"features at day {CUTOFF}: {len(table):,} enrolments, {EVENTS:,} events (one SQL statement)",
        lambda: features.compute(presentation_ids, CUTOFF),
        "pandas: the same features from the same tables (reading them included)",
        lambda: pandas_features(presentation_ids, CUTOFF),
        repeat=3,
        warmup=1,
        target="< 1.0x, identical values",
        check=lambda c: c.ratio < 1.0 and identical,
    )
    comparison.notes.update(identical=identical, enrolments=len(table))

    # 3. Predicting 10,000 enrolments.
    train_ids = [made[key][0] for key in PRESENTATIONS[:4]]
    model = training.train(
        target="withdrawn",
        cutoff_day=CUTOFF,
        train_codes=[f"{c}-{p}" for c, p in PRESENTATIONS[:2]],
        validation_codes=[f"{c}-{p}" for c, p in PRESENTATIONS[2:4]],
    )
    targets = [made[key][0] for key in PRESENTATIONS[4:]]
    scored_table = features.compute([p.pk for p in targets], CUTOFF)
    blend = predicting.load(model)
    x = training.as_matrix(scored_table, model.features)
    courses = scored_table.courses
    predicted = harness.compare(
        f"predict {len(scored_table):,} enrolments end to end (features, model, reasons, bulk writes)",
        lambda: predicting.predict(model, targets),
        "the model's own probabilities on the same matrix",
        lambda: blend.probabilities(x, courses),
        repeat=5,
        warmup=1,
        target="<= 3.0x",
        check=lambda c: c.ratio <= 3.0,
    )
    predicted.notes.update(enrolments=len(scored_table), trained_on=[str(p) for p in train_ids])
