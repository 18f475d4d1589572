from django.core.management.base import BaseCommand
from django.db import transaction

from veritas import audit
from veritas.management.ages import cutoff as age_cutoff
from veritas.models import ActionLog


class Command(BaseCommand):
    help = (
        "Delete the audit entries older than an age (the trail's retention; its only deletion path). "
        "The prune itself is recorded as an audit entry, unless --dry-run."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="e.g. 365d, 52w, 12h")
        parser.add_argument("--dry-run", action="store_true", help="Only say how many would be deleted.")

    def handle(self, older_than, dry_run, **options):
        cutoff = age_cutoff(older_than)
        with audit.command("prune_actions"), transaction.atomic():
            count = audit.prune(cutoff, dry_run=dry_run)
            if not dry_run:
                audit.record(
                    "prune",
                    model=ActionLog,
                    changes={"counts": {"deleted": count}, "older_than": cutoff.isoformat()},
                )
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {count} audit entries older than {cutoff:%Y-%m-%d %H:%M} UTC")
