"""The dropout admin: scoped, read-only; the model's page shows its card; activation needs the
permission."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME

from dropout import training
from dropout.models import DropoutModel, DropoutPrediction

pytestmark = pytest.mark.django_db


def test_the_risk_list_is_scoped(client, teacher, other_teacher, support, cohorts, predicted):
    url = "/admin/dropout/dropoutprediction/"
    client.force_login(teacher)
    mine = DropoutPrediction.objects.filter(enrollment__student__in=cohorts[0].students.all()).count()
    response = client.get(url)
    assert response.status_code == 200 and response.context["cl"].result_count == mine
    theirs = DropoutPrediction.objects.filter(enrollment__student__in=cohorts[1].students.all()).first()
    assert client.get(f"{url}{theirs.pk}/change/").status_code == 302  # not visible: back to the list
    client.force_login(support)
    assert client.get(url).context["cl"].result_count == DropoutPrediction.objects.count()
    assert client.get(f"{url}{theirs.pk}/change/").status_code == 200
    assert client.get(f"{url}add/").status_code == 403


def test_the_model_page_shows_the_card_and_activation_needs_the_permission(client, teacher, support, predicted):
    other = training.train(target="withdrawn", cutoff_day=70, train_codes=["2013B"], validation_codes=["2013J"])
    client.force_login(teacher)
    page = client.get(f"/admin/dropout/dropoutmodel/{predicted.pk}/change/").content.decode()
    assert 'id="dropout-roc"' in page and 'id="dropout-calibration"' in page and "dropout-group-table" in page
    body = {"action": "activate", ACTION_CHECKBOX_NAME: [other.pk]}
    client.post("/admin/dropout/dropoutmodel/", body)
    assert not DropoutModel.objects.get(pk=other.pk).is_active
    client.force_login(support)
    client.post("/admin/dropout/dropoutmodel/", body)
    assert DropoutModel.objects.get(pk=other.pk).is_active
    assert not DropoutModel.objects.get(pk=predicted.pk).is_active
