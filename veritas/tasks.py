from django.contrib.sessions.models import Session
from django.tasks import task
from django.utils import timezone


@task
def clear_expired_sessions() -> int:
    """Delete expired admin/API sessions; returns how many were deleted.

    Small, real and safe to run at any time: it proves the task wiring end to end
    (enqueue → django-tasks-db → ``make worker``).
    """
    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted
