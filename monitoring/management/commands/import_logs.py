import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitoring import ingest


class Command(BaseCommand):
    help = (
        "Import logs from an NDJSON or CSV file ('-' for standard input) through the API's validation "
        "and COPY path. With an invalid row nothing is imported, unless --skip-invalid. Rows without "
        "event_id are inserted again by a second import (it warns): see --derive-event-ids."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="A path, or - for standard input.")
        parser.add_argument("--format", choices=["ndjson", "csv"], help="Default: from the file name, else ndjson.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows, report the others.")
        parser.add_argument("--batch-size", type=int, default=ingest.MAX_ROWS, help="Rows per COPY.")
        parser.add_argument(
            "--derive-event-ids",
            action="store_true",
            help=(
                "Give rows without event_id an id derived from their content (sha256 of source, level, message, "
                "timestamp, metadata), so that importing the file again skips what is stored. Identical rows "
                "become one; rows without a timestamp get no id."
            ),
        )

    def handle(self, file, format, skip_invalid, batch_size, derive_event_ids, **options):
        fmt = format or ("csv" if file.lower().endswith(".csv") else "ndjson")
        if file == "-":
            stream = sys.stdin.buffer
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            stream = path.open("rb")
        try:
            report = self.import_stream(
                stream, fmt, skip_invalid=skip_invalid, batch_size=batch_size, derive_event_ids=derive_event_ids
            )
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
        self.stdout.write(
            f"read {report.read} rows: {report.inserted} inserted, {report.duplicates} duplicates, "
            f"{len(report.invalid)} invalid{' (skipped)' if report.invalid else ''}"
        )

    def import_stream(
        self, stream, fmt: str, *, skip_invalid: bool, batch_size: int, derive_event_ids: bool = False
    ) -> ingest.ImportReport:
        lines = ingest.csv_lines(stream) if fmt == "csv" else ingest.ndjson_lines(stream)
        bar = tqdm(unit=" rows", disable=not sys.stderr.isatty(), file=sys.stderr)
        try:
            report = ingest.import_lines(
                lines,
                skip_invalid=skip_invalid,
                batch_size=batch_size,
                derive_event_ids=derive_event_ids,
                progress=bar.update,
                warn=lambda report: self.warn_reimport(report, derive_event_ids),
            )
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

    def warn_reimport(self, report: ingest.ImportReport, derive_event_ids: bool) -> None:
        advice = (
            "they were stored without event_id, so derived ids cannot recognise them"
            if derive_event_ids
            else "use --derive-event-ids (on every import of this data) to skip what is stored"
        )
        self.stderr.write(
            f"warning: {report.already_stored} of the first {report.sampled} rows without event_id are already "
            "stored (same source, timestamp and message): this file looks imported before, and such rows are "
            f"inserted again; {advice}. Interrupt now (Ctrl-C) to import nothing."
        )

    def report_invalid(self, report: ingest.ImportReport, limit: int = 50) -> None:
        for number, problems in report.invalid[:limit]:
            details = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in problems.items())
            self.stderr.write(f"line {number}: {details}")
        if len(report.invalid) > limit:
            self.stderr.write(f"… and {len(report.invalid) - limit} more invalid rows")
