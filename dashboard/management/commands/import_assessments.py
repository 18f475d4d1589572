from dashboard import ingest
from veritas import audit, bulk

from ._csv_import import CSVImportCommand


class Command(CSVImportCommand):
    help = (
        "Import assessments from a CSV file ('-' for standard input) through the API's validation and bulk "
        "path; performance records are kept exact. Columns: student (external id), kind, subject, score and "
        "optionally max_score, taken_at, concept_modules (codes separated by ';'), comment. With an invalid "
        "row nothing is imported, unless --skip-invalid."
    )

    def handle(self, file, skip_invalid, **options):
        with self.csv_lines(file) as lines:
            valid, invalid = ingest.validate_csv(lines, max_rows=None)
        bar = self.progress(len(valid))
        try:
            with audit.command("import_assessments"):
                report = ingest.import_assessments(
                    valid, actor=None, skip_invalid=skip_invalid, invalid=invalid, progress=bar.update
                )
        except bulk.BatchInvalid as rejected:
            raise self.reject(rejected) from None
        finally:
            bar.close()
        self.report_invalid(report.invalid)
        self.stdout.write(
            f"read {report.rows} rows: {report.created} created for {report.students} students, "
            f"{self.skipped(report.invalid)}"
        )
