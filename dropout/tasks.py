"""Background work of the dropout app (django-tasks-db, run by `make worker`): training, which
takes seconds to minutes, so ``POST models/train/`` queues it and answers at once."""

from django.tasks import task

from dropout import training
from veritas import audit
from veritas.models import User


@task
def train_model(
    *, target: str, cutoff_day: int, train: list[str], validation: list[str], activate: bool, actor_id: int | None
) -> dict:
    """Train and store a model (training.train); a TrainingError fails the task with its message."""
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    with audit.command("train_model task"):
        model = training.train(
            target=target,
            cutoff_day=cutoff_day,
            train_codes=train,
            validation_codes=validation,
            activate=activate,
            actor=actor,
        )
    return {"model": model.pk, "metrics": model.metrics}
