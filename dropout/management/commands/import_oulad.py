import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from dropout import ingest
from veritas import audit


class Command(BaseCommand):
    help = (
        "Load the OULAD CSV files found in DIR (courses.csv, assessments.csv, vle.csv, studentInfo.csv, "
        "studentRegistration.csv, studentAssessment.csv, studentVle.csv), in that order, creating students as "
        "needed. Each file is all or nothing, with line-numbered errors; running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("dir", help="A directory holding OULAD CSV files.")

    def handle(self, dir, **options):
        directory = Path(dir)
        if not directory.is_dir():
            raise CommandError(f"No such directory: {dir}")
        files = ingest.files_in(directory)
        if not files:
            raise CommandError(f"{dir} holds none of: {', '.join(spec.name for spec in ingest.FILES)}.")
        totals = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0}
        with audit.command("import_oulad"):
            for spec, path in files:
                bar = tqdm(
                    total=path.stat().st_size,
                    desc=spec.name,
                    unit="B",
                    unit_scale=True,
                    disable=not sys.stderr.isatty(),
                    file=sys.stderr,
                )
                try:
                    report = ingest.import_file(spec, path, progress=bar.update)
                except ingest.FileRejected as rejected:
                    bar.close()
                    for key, fields in rejected.problems.items():
                        for name, messages in fields.items():
                            self.stderr.write(f"{spec.name}: {key}: {name}: {' '.join(messages)}")
                    more = rejected.total - len(rejected.problems)
                    if more > 0:
                        self.stderr.write(f"{spec.name}: … and {more} more")
                    raise CommandError(
                        f"{spec.name}: {rejected.total} problem(s): nothing of this file was imported"
                        + (" (the files before it were)." if spec is not files[0][0] else ".")
                    ) from None
                bar.close()
                self.stdout.write(report.summary())
                for key in totals:
                    totals[key] += getattr(report, key)
        self.stdout.write(
            f"imported {len(files)} files: {totals['rows']} rows, {totals['created']} created, "
            f"{totals['updated']} updated, {totals['unchanged']} unchanged"
        )
