from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-for-staff"


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)


def login(client, password):
    return client.post("/admin/login/?next=/admin/", {"username": "curator", "password": password})


def test_staff_log_in(client, curator):
    response = login(client, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_repeated_failures_lock_the_login_even_with_the_right_password(client, curator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "guess")

    response = login(client, PASSWORD)

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_lock_lifts_after_the_cool_off(client, curator, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "guess")
    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    response = login(client, PASSWORD)

    assert response.status_code == 302
