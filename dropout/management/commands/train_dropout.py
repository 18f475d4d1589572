from django.core.management.base import BaseCommand, CommandError

from dropout import training
from dropout.models import Target
from veritas import audit


def codes(value: str) -> list[str]:
    return [code.strip() for code in value.split(",") if code.strip()]


class Command(BaseCommand):
    help = (
        "Train a dropout model on earlier presentations, validate it on a later one, store it with its card "
        "and print the validation metrics. --activate makes it the active model for its target and cut-off."
    )

    def add_arguments(self, parser):
        parser.add_argument("--target", choices=Target.values, default=Target.WITHDRAWN)
        parser.add_argument("--cutoff-day", type=int, required=True, help="Days from the presentations' start.")
        parser.add_argument("--train", type=codes, required=True, help="Presentation codes, e.g. 2013B,2013J.")
        parser.add_argument("--validate", type=codes, required=True, help="Later presentation codes, e.g. 2014B.")
        parser.add_argument("--activate", action="store_true", help="Make it the active model.")

    def handle(self, target, cutoff_day, train, validate, activate, **options):
        try:
            with audit.command("train_dropout"):
                model = training.train(
                    target=target,
                    cutoff_day=cutoff_day,
                    train_codes=train,
                    validation_codes=validate,
                    activate=activate,
                )
        except training.TrainingError as error:
            raise CommandError(str(error)) from None
        m = model.metrics
        self.stdout.write(
            f"model {model.pk} ({model.target}, day {model.cutoff_day}, {model.parameters['tree_count']} trees "
            f"and a linear model, {len(model.features)} features){' active' if model.is_active else ''}: validated on "
            f"{','.join(model.validation_presentations)}: n {m['n']}, positives {m['positives']}, "
            f"ROC AUC {m['roc_auc']}, PR AUC {m['pr_auc']}, Brier {m['brier']}, log loss {m['log_loss']}; bands from "
            f"{model.threshold_medium:.2f} (medium) and {model.threshold_high:.2f} (high)"
        )
