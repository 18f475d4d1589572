"""The page django-axes shows a locked-out login: the admin's look, how long to wait, 429."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

pytestmark = pytest.mark.django_db

PASSWORD = "the-right-password-for-staff"


@pytest.fixture
def locked_out(client, settings):
    get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)

    def lock():
        for _ in range(settings.AXES_FAILURE_LIMIT):
            client.post("/admin/login/", {"username": "curator", "password": "guess"})
        return client.post("/admin/login/", {"username": "curator", "password": PASSWORD})

    return lock


def test_it_looks_like_the_admin_and_says_how_long_to_wait(locked_out):
    response = locked_out()

    html = response.content.decode()
    assert response.status_code == 429
    assert "veritas/login_locked.html" in [template.name for template in response.templates]
    assert '<div id="site-name"><a href="/admin/">Veritas</a></div>' in html
    assert "admin/css/base.css" in html
    assert "After 5 failed logins in a row" in html
    assert '<strong id="cooloff">15 minutes</strong>' in html
    assert "even with the right password, restarts the wait" in html
    assert 'href="/admin/login/"' in html


def test_it_states_the_configured_cool_off(locked_out, settings):
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)

    html = locked_out().content.decode()

    assert '<strong id="cooloff">1 minute</strong>' in html
