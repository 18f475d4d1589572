from django.core.management.base import BaseCommand, CommandError

from monitoring import services
from veritas.management.ages import cutoff as age_cutoff


class Command(BaseCommand):
    help = "Delete logs and evaluation results older than an age, in batches (statistics stay exact)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="e.g. 90d, 4w, 12h, 30m")
        parser.add_argument("--dry-run", action="store_true", help="Only say how much would be deleted.")
        parser.add_argument("--batch-size", type=int, default=10_000)

    def handle(self, older_than, dry_run, batch_size, **options):
        cutoff = age_cutoff(older_than)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = services.prune(older_than=cutoff, batch_size=batch_size, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {report.logs} logs and {report.results} evaluation results older than {cutoff:%Y-%m-%d %H:%M} UTC"
        )
