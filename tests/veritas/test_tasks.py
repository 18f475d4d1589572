from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.tasks import TaskResultStatus
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
