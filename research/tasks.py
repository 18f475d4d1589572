"""Background work of the research app (django-tasks-db, run by `make worker`): large QAC
fits and applies (research/services.py), and retention (research/retention.py)."""

from django.tasks import task

from research import services


@task
def run_job(job_id: str) -> str:
    """Run one research job; returns its final status."""
    return services.run_job(job_id)
