from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count

from dropout import predicting, training
from dropout.models import ArtefactTampered, DropoutModel, Target
from veritas import audit


class Command(BaseCommand):
    help = (
        "Predict the risk of every enrolment of a presentation (e.g. 2014J: every course's, or AAA-2014J) at a "
        "cut-off day with the active model(s) for that day, and store the predictions with their reasons."
    )

    def add_arguments(self, parser):
        parser.add_argument("--presentation", required=True, help="A presentation code: 2014J or AAA-2014J.")
        parser.add_argument("--cutoff-day", type=int, required=True)
        parser.add_argument("--target", choices=Target.values, help="Only the active model for this target.")

    def handle(self, presentation, cutoff_day, target, **options):
        models = DropoutModel.objects.filter(is_active=True, cutoff_day=cutoff_day)
        if target:
            models = models.filter(target=target)
        if not models:
            raise CommandError(
                f"No active model for cut-off day {cutoff_day}"
                + (f" and target {target}" if target else "")
                + ": train one with train_dropout --activate."
            )
        try:
            items = training.presentations([presentation])
            with audit.command("predict_dropout"):
                for model in models:
                    written = predicting.predict(model, items)
                    bands = dict(
                        model.predictions.filter(enrollment__presentation__in=items)
                        .values_list("band")
                        .annotate(n=Count("id"))
                    )
                    self.stdout.write(
                        f"{model.target} (model {model.pk}): {written} predictions for {presentation} at day "
                        f"{cutoff_day}: {bands.get('high', 0)} high, {bands.get('medium', 0)} medium, "
                        f"{bands.get('low', 0)} low"
                    )
        except (training.TrainingError, ArtefactTampered) as error:
            raise CommandError(str(error)) from None
