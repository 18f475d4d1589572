import contextlib
from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.tasks import TaskResultStatus, task_backends
from django.test import override_settings
from django.utils import timezone

from veritas.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def make_sessions():
    for days in (-1, -2, 3):
        store = SessionStore()
        store.create()
        Session.objects.filter(session_key=store.session_key).update(expire_date=timezone.now() + timedelta(days=days))


def test_the_task_deletes_only_expired_sessions():
    make_sessions()

    result = clear_expired_sessions.enqueue()

    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2
    assert Session.objects.count() == 1


def _reset_task_backends():
    # Django has no setting_changed receiver for TASKS: drop the cached backend by hand.
    task_backends._settings = None
    with contextlib.suppress(AttributeError):
        del task_backends["default"]


@pytest.fixture
def database_task_backend():
    with override_settings(TASKS={"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}):
        _reset_task_backends()
        yield
    _reset_task_backends()


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("database_task_backend")
def test_the_database_backend_queues_it_and_the_worker_runs_it():
    make_sessions()

    result = clear_expired_sessions.enqueue()
    assert result.status == TaskResultStatus.READY
    assert Session.objects.count() == 3

    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2
    assert Session.objects.count() == 1
