from django.tasks import task

from monitoring import services


@task
def evaluate_health() -> dict:
    """One health evaluation of every component (for `make worker`); returns a summary."""
    evaluation = services.evaluate_health()
    return {
        "evaluated": len(evaluation.results),
        "transitions": [f"{t.component}: {t.old_status} → {t.new_status}" for t in evaluation.transitions],
    }
