import json as _json

from django.core.management.base import BaseCommand, CommandError

from dropout import training
from dropout.models import Target

from .train_dropout import codes


class Command(BaseCommand):
    help = (
        "The evaluation protocol in one command: train with the product's pipeline on the training presentations "
        "only (the latest of them validates), score the test presentation once, print the metrics (--json: one "
        "JSON object with roc_auc, pr_auc, brier, log_loss, n_train, n_test, positives_test and more). Stores nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--train", type=codes, required=True, help="Presentation codes, e.g. 2013B,2013J,2014B.")
        parser.add_argument("--test", type=codes, required=True, help="A later presentation code, e.g. 2014J.")
        parser.add_argument("--cutoff-day", type=int, required=True)
        parser.add_argument("--target", choices=Target.values, default=Target.WITHDRAWN)
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def handle(self, train, test, cutoff_day, target, json, **options):
        try:
            result = training.evaluate(target=target, cutoff_day=cutoff_day, train_codes=train, test_codes=test)
        except training.TrainingError as error:
            raise CommandError(str(error)) from None
        if json:
            self.stdout.write(_json.dumps(result))
            return
        self.stdout.write(
            f"{target} at day {cutoff_day}: trained on {','.join(result['train'])} (validated on "
            f"{result['validation']}), tested on {','.join(result['test'])}: ROC AUC {result['roc_auc']}, "
            f"PR AUC {result['pr_auc']}, Brier {result['brier']}, log loss {result['log_loss']} "
            f"(n_train {result['n_train']}, n_test {result['n_test']}, positives_test {result['positives_test']})"
        )
