"""The cast every test file uses: an owner, a teammate and a stranger, and API clients."""

import contextlib

import pytest
from django.conf import settings
from django.core.cache import cache
from django.tasks import task_backends
from django.test import override_settings
from rest_framework.test import APIClient

from veritas.models import PersonalToken


def pytest_configure(config):
    # Django's PBKDF2 takes ~0.7 s per password on these machines; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """The cache is per process; no test sees another's entries (e.g. cached tokens)."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(django_user_model):
    def make(username, **extra):
        # No password (no slow hashing): tests log in with force_login or a token.
        return django_user_model.objects.create_user(username=username, password=None, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner", email="owner@example.com")


@pytest.fixture
def stranger(make_user):
    return make_user("stranger", email="stranger@example.com")


@pytest.fixture
def staff(make_user):
    return make_user("staff", email="staff@example.com", is_staff=True)


@pytest.fixture
def token_for():
    """``token_for(user)`` → the full bearer value of a new personal token."""

    def issue(user, name="test"):
        return PersonalToken.issue(user=user, name=name)[1]

    return issue


@pytest.fixture
def anon_client():
    return APIClient()


@pytest.fixture
def client_for(token_for):
    """``client_for(user)`` → an API client with a bearer token of ``user``."""

    def make(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


@pytest.fixture
def api_client(owner, token_for):
    """A client authenticated as ``owner`` with a bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(owner)}")
    return client


def _reset_task_backends():
    # Django has no setting_changed receiver for TASKS: drop the cached backend by hand.
    task_backends._settings = None
    with contextlib.suppress(AttributeError):
        del task_backends["default"]


@pytest.fixture
def database_task_backend():
    """The real django-tasks-db backend instead of the tests' immediate one."""
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        _reset_task_backends()
        yield
    _reset_task_backends()
