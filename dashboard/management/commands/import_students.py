from django.core.management.base import CommandError

from dashboard import ingest
from dashboard.models import Cohort
from veritas import audit, bulk

from ._csv_import import CSVImportCommand


class Command(CSVImportCommand):
    help = (
        "Add students to the register from a CSV file ('-' for standard input). Columns: external_id, name, "
        "email and optionally is_active. External ids and emails (whatever the case) must be new. With an "
        "invalid row nothing is imported, unless --skip-invalid."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--cohort", type=int, metavar="ID", help="Also add the new students to this cohort.")

    def handle(self, file, skip_invalid, cohort, **options):
        group = None
        if cohort is not None:
            group = Cohort.objects.filter(pk=cohort).first()
            if group is None:
                raise CommandError(f"No cohort with id {cohort}.")
        with self.csv_lines(file) as lines:
            valid, invalid = ingest.parse_students_csv(lines)
        try:
            with audit.command("import_students"):
                report = ingest.import_students(valid, cohort=group, skip_invalid=skip_invalid, invalid=invalid)
        except bulk.BatchInvalid as rejected:
            raise self.reject(rejected) from None
        self.report_invalid(report.invalid)
        into = f" into {group}" if group is not None else ""
        self.stdout.write(
            f"read {report.rows} rows: {report.created} students created{into}, {self.skipped(report.invalid)}"
        )
