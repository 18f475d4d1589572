import io

import pytest

from dashboard import demo as dashboard_demo
from dashboard.models import Cohort
from dropout import demo
from dropout.models import DropoutModel, DropoutPrediction, Enrollment

pytestmark = pytest.mark.django_db


def test_the_demo_data_is_made_once():
    dashboard_demo.seed(stdout=io.StringIO())
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "synthetic enrolments" in out.getvalue()
    enrolments, predictions = Enrollment.objects.count(), DropoutPrediction.objects.count()
    assert predictions > 0 and DropoutModel.objects.filter(is_active=True).count() == 1
    cohort = Cohort.objects.get(name=demo.COHORT[0])
    assert cohort.staff.get().username == dashboard_demo.COHORTS[0][1]
    assert DropoutPrediction.objects.filter(enrollment__student__in=cohort.students.all()).exists()

    again = io.StringIO()
    demo.seed(stdout=again)
    assert "no demo data added" in again.getvalue()
    assert (Enrollment.objects.count(), DropoutPrediction.objects.count()) == (enrolments, predictions)
