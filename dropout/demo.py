"""Demo data for `make run`: synthetic OULAD-format data (dropout/synthetic.py: two courses,
five presentations, 150 students each, with a planted signal) imported by the importer, a model
(withdrawn, day 70) trained on 2013B and 2013J and validated on 2014B, activated, and its
predictions for 2014B; the 2014B students of AAA form a support group taught by the dashboard
demo's first teacher, so that they see the risk list and the band on that cohort's overview.
Idempotent: nothing is added when enrolments exist."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model

from dashboard import demo as dashboard_demo
from dashboard.models import Cohort, Student
from dropout import ingest, predicting, synthetic, training
from dropout.models import Enrollment
from veritas import audit

COHORT = ("AAA 2014B support group", "Demo term")


def seed(*, stdout) -> None:
    if Enrollment.objects.exists():
        stdout.write("dropout: enrolments exist, no demo data added")
        return
    with audit.command("seed_demo"), tempfile.TemporaryDirectory() as directory:
        synthetic.write(Path(directory), students=150)
        for spec, path in ingest.files_in(Path(directory)):
            ingest.import_file(spec, path)
        model = training.train(
            target="withdrawn", cutoff_day=70, train_codes=["2013B", "2013J"], validation_codes=["2014B"], activate=True
        )
        predicted = predicting.predict(model, training.presentations(["2014B"]))
    teacher = get_user_model().objects.filter(username=dashboard_demo.COHORTS[0][1]).first()
    if teacher is not None:
        cohort, _ = Cohort.objects.get_or_create(name=COHORT[0], term=COHORT[1])
        cohort.staff.add(teacher)
        cohort.students.add(*Student.objects.filter(enrollments__presentation__course__code="AAA",
                                                    enrollments__presentation__code="2014B"))  # fmt: skip
    stdout.write(
        f"dropout: {Enrollment.objects.count()} synthetic enrolments, model {model.pk} "
        f"(ROC AUC {model.metrics['roc_auc']} on 2014B), {predicted} predictions"
    )
