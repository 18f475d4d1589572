from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-for-staff"


@pytest.fixture
def curator():
    return get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)


def login(client, password, **meta):
    return client.post("/admin/login/?next=/admin/", {"username": "curator", "password": password}, **meta)


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


def test_behind_a_balancer_one_client_failing_does_not_lock_out_another(client, curator, settings):
    # The documented production recipe: one load balancer, every request from its address.
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(client, "guess", HTTP_X_FORWARDED_FOR="203.0.113.66", **balancer)

    attacker = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.66", **balancer)
    colleague = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7", **balancer)

    assert attacker.status_code == 429
    assert colleague.status_code == 302


def test_a_client_cannot_escape_its_lockout_by_forging_the_header(client, curator, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    balancer = {"REMOTE_ADDR": "10.0.0.2"}
    for number in range(settings.AXES_FAILURE_LIMIT):
        # The balancer appends the real address after whatever the client sent.
        login(client, "guess", HTTP_X_FORWARDED_FOR=f"192.0.2.{number}, 203.0.113.66", **balancer)

    response = login(client, PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99, 203.0.113.66", **balancer)

    assert response.status_code == 429
