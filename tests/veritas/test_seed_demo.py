import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_it_creates_the_admin_once_and_prints_a_generated_password(capsys, settings):
    settings.VERITAS_ADMIN_PASSWORD = ""

    call_command("seed_demo", "veritas")
    first = capsys.readouterr().out
    call_command("seed_demo", "veritas")
    second = capsys.readouterr().out

    admin = get_user_model().objects.get(username="admin")
    password = first.split("password: ")[1].split()[0]
    assert admin.is_superuser and admin.check_password(password)
    assert password not in second, "shown once"
    assert "manage.py changepassword admin" in second, "and how to set a new one"
    assert get_user_model().objects.filter(username="admin").count() == 1


def test_it_takes_the_password_from_the_environment(capsys, settings):
    settings.VERITAS_ADMIN_PASSWORD = "correct-horse-battery"

    call_command("seed_demo", "veritas")

    assert get_user_model().objects.get(username="admin").check_password("correct-horse-battery")
    assert "correct-horse-battery" not in capsys.readouterr().out
