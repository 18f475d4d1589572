import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from monitoring import services

UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(value: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", value.strip())
    if not match or int(match[1]) == 0:
        raise CommandError(f"--older-than takes a positive age such as 90d, 12h or 30m, not {value!r}.")
    return timedelta(**{UNITS[match[2]]: int(match[1])})


class Command(BaseCommand):
    help = "Delete logs and evaluation results older than an age, in batches (statistics stay exact)."

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="e.g. 90d, 12h, 30m")
        parser.add_argument("--dry-run", action="store_true", help="Only say how much would be deleted.")
        parser.add_argument("--batch-size", type=int, default=10_000)

    def handle(self, older_than, dry_run, batch_size, **options):
        cutoff = timezone.now() - parse_age(older_than)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = services.prune(older_than=cutoff, batch_size=batch_size, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {report.logs} logs and {report.results} evaluation results older than {cutoff:%Y-%m-%d %H:%M} UTC"
        )
