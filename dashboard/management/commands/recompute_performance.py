from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from dashboard import performance
from dashboard.models import PerformanceRecord
from veritas import audit


class Command(BaseCommand):
    help = (
        "Rebuild every performance record from the assessment rows (after a change of the mastery settings, or "
        "to repair). With --check, change nothing: list the records that differ from a recomputation and exit "
        "non-zero if there is any."
    )

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="Only verify; exit 1 on any difference.")

    def handle(self, check, **options):
        if check:
            found = performance.differences()
            for difference in found:
                self.stdout.write(str(difference))
            if found:
                raise CommandError(
                    f"{len(found)} performance records differ from a recomputation from the assessment rows: "
                    "run manage.py recompute_performance to rebuild them."
                )
            self.stdout.write(f"performance records: all {PerformanceRecord.objects.count()} exact")
            return
        with audit.command("recompute_performance"), transaction.atomic():
            written, removed = performance.rebuild()
            total = PerformanceRecord.objects.count()
            counts = {"records": total, "written": written, "removed": removed}
            audit.record("rebuild", model=PerformanceRecord, changes={"counts": counts})
        self.stdout.write(
            f"performance records rebuilt: {total} in all, {written} written (new or changed), {removed} removed"
        )
