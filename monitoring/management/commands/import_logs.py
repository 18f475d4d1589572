import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitoring import ingest


class Command(BaseCommand):
    help = (
        "Import logs from an NDJSON or CSV file ('-' for standard input) through the API's validation "
        "and COPY path. With an invalid row nothing is imported, unless --skip-invalid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A path, or - for standard input.")
        parser.add_argument("--format", choices=["ndjson", "csv"], help="Default: from the file name, else ndjson.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows, report the others.")
        parser.add_argument("--batch-size", type=int, default=ingest.MAX_ROWS, help="Rows per COPY.")

    def handle(self, file, format, skip_invalid, batch_size, **options):
        fmt = format or ("csv" if file.lower().endswith(".csv") else "ndjson")
        if file == "-":
            stream = sys.stdin.buffer
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            stream = path.open("rb")
        try:
            report = self.import_stream(stream, fmt, skip_invalid=skip_invalid, batch_size=batch_size)
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        self.stdout.write(
            f"read {report.read} rows: {report.inserted} inserted, {report.duplicates} duplicates, "
            f"{len(report.invalid)} invalid{' (skipped)' if report.invalid else ''}"
        )

    def import_stream(self, stream, fmt: str, *, skip_invalid: bool, batch_size: int) -> ingest.ImportReport:
        lines = ingest.csv_lines(stream) if fmt == "csv" else ingest.ndjson_lines(stream)
        bar = tqdm(unit=" rows", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            report = ingest.import_lines(lines, skip_invalid=skip_invalid, batch_size=batch_size, progress=bar.update)
        except ingest.ImportRejected as rejected:
            self.report_invalid(rejected.report)
            raise CommandError(
                f"{len(rejected.report.invalid)} invalid rows: nothing was imported "
                "(fix them, or use --skip-invalid to import the others)."
            ) from None
        finally:
            bar.close()
        self.report_invalid(report)
        return report

    def report_invalid(self, report: ingest.ImportReport, limit: int = 50) -> None:
        for number, problems in report.invalid[:limit]:
            details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in problems.items())
            self.stderr.write(f"line {number}: {details}")
        if len(report.invalid) > limit:
            self.stderr.write(f"… and {len(report.invalid) - limit} more invalid rows")
