"""What import_students and import_assessments share: a CSV file (or standard input),
the progress bar, problems printed ``line N: field: message``, the refusal."""

import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from veritas import bulk


class CSVImportCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("file", help="A CSV file with a header line (UTF-8), or - for standard input.")
        parser.add_argument("--skip-invalid", action="store_true", help="Import the valid rows, report the others.")

    @contextlib.contextmanager
    def csv_lines(self, file: str) -> Iterator[io.TextIOBase]:
        """The file's text for csv (an unreadable one is a CommandError)."""
        if file == "-":
            stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            stream = path.open(encoding="utf-8-sig", newline="")
        try:
            yield stream
        except UnicodeDecodeError as error:
            raise CommandError(f"{file}: not UTF-8 ({error.reason} at byte {error.start}).") from None
        except bulk.BatchInvalid as error:
            if error.parse_error is None:
                raise
            raise CommandError(f"{file}: {error.parse_error}") from None
        finally:
            if file == "-":
                stream.detach()  # leave standard input open
            else:
                stream.close()

    def progress(self, total: int) -> tqdm:
        return tqdm(total=total, unit=" rows", disable=not sys.stderr.isatty(), file=sys.stderr)

    def report_invalid(self, problems: dict[str, dict[str, list[str]]], limit: int = 50) -> None:
        ordered = sorted(problems.items(), key=lambda item: int(item[0].removeprefix("line ")))
        for key, fields in ordered[:limit]:
            for name, messages in fields.items():
                self.stderr.write(f"{key}: {name}: {' '.join(messages)}")
        if len(problems) > limit:
            self.stderr.write(f"… and {len(problems) - limit} more invalid rows")

    def reject(self, rejected: bulk.BatchInvalid) -> CommandError:
        self.report_invalid(rejected.fields)
        return CommandError(
            f"{len(rejected.fields)} invalid rows: nothing was imported "
            "(fix them, or use --skip-invalid to import the others)."
        )

    @staticmethod
    def skipped(invalid: dict) -> str:
        return f"{len(invalid)} invalid{' (skipped)' if invalid else ''}"
