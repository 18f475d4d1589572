import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_locked_out_login_gets_the_admins_look_and_the_wait(live_server, page, admin_login, screenshot):
    get_user_model().objects.create_user("curator", password="the-right-password-1", is_staff=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        admin_login("curator", "guess")

    admin_login("curator", "the-right-password-1")

    assert page.locator("#site-name").inner_text() == "Veritas"
    assert page.locator(".errornote").inner_text() == "Too many failed logins: signing in is paused."
    assert page.locator("#cooloff").inner_text() == "15 minutes"
    screenshot("admin-login-locked")
    assert page.csp_violations == []
    page.click("text=Back to the login page")
    assert page.locator("#id_username").is_visible()
