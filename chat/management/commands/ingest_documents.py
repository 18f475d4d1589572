import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from chat import documents, services
from chat.models import Status
from veritas import audit


class Command(BaseCommand):
    help = (
        "Add files (or every supported file under a directory) as documents and ingest them now: text, "
        "Markdown, HTML, PDF. --shared puts them in the shared knowledge base, --owner USERNAME in a user's. "
        "A file already there (same content) is left alone."
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+")
        where = parser.add_mutually_exclusive_group(required=True)
        where.add_argument("--shared", action="store_true", help="The shared knowledge base.")
        where.add_argument("--owner", help="A user's own documents (their username).")

    def handle(self, paths, shared, owner, **options):
        user = None
        if owner:
            user = get_user_model().objects.filter(username=owner).first()
            if user is None:
                raise CommandError(f"No user {owner!r}.")
        files = []
        for name in paths:
            path = Path(name)
            if path.is_dir():
                files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and documents.kind_of("", p.name))
            elif path.is_file():
                files.append(path)
            else:
                raise CommandError(f"No such file or directory: {name}")
        added, known, skipped = [], 0, []
        with audit.command("ingest_documents"):
            for path in files:
                try:
                    document, created = services.add_document(
                        actor=None, owner=user, filename=path.name, content_type="", data=path.read_bytes()
                    )
                except services.UnsupportedType:
                    skipped.append(path.name)
                    continue
                if created:
                    added.append(document)
                else:
                    known += 1
            bar = tqdm(total=len(added), unit=" documents", disable=not sys.stderr.isatty(), file=sys.stderr)
            services.ingest(added, progress=bar.update)
            bar.close()
        for document in added:
            document.refresh_from_db()
            if document.status == Status.FAILED:
                self.stderr.write(f"{document.filename}: {document.failure}")
        ready = sum(document.status == Status.READY for document in added)
        chunks = sum(document.chunk_count for document in added)
        self.stdout.write(
            f"{len(files)} files: {ready} ingested ({chunks} chunks), {len(added) - ready} failed, "
            f"{known} already there, {len(skipped)} of an unsupported type"
        )
