from django.core.management.base import BaseCommand, CommandError

from research import retention, tasks


class Command(BaseCommand):
    help = (
        "Delete expired vector stores, jobs finished over 7 days ago, and audit entries and usage over 90 days "
        "old, in batches (QAC models are kept). --dry-run counts the same."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Only say how much would be deleted.")
        parser.add_argument("--batch-size", type=int, default=10_000)
        parser.add_argument(
            "--schedule",
            action="store_true",
            help="Start the daily run in the worker (RESEARCH_PRUNE_INTERVAL_SECONDS), or top it up: idempotent, "
            "`make worker` runs it.",
        )

    def handle(self, dry_run, batch_size, schedule, **options):
        if schedule:
            queued = tasks.schedule_pruning()
            self.stdout.write(
                f"periodic research pruning: {queued} run(s) queued"
                if queued
                else "periodic research pruning: already queued"
            )
            return
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        report = retention.prune(batch_size=batch_size, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(
            f"{verb} {report.vector_stores} expired vector stores, {report.jobs} jobs, "
            f"{report.audit_entries} audit entries and {report.usage_rows} usage rows"
        )
