import sys

from django.core.management.base import BaseCommand
from tqdm import tqdm

from chat import services
from chat.embedding import get_embedder
from chat.models import Document, Status
from veritas import audit


class Command(BaseCommand):
    help = (
        "Ingest again (extract, chunk, embed) the documents whose chunks were embedded by another model than the "
        "configured one, or every document with --all: after changing CHAT_EMBEDDING_*."
    )

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="Every document, whatever its model.")
        parser.add_argument("--batch", type=int, default=50, help="Documents per embedding batch.")

    def handle(self, all, batch, **options):
        model = get_embedder().name
        documents = Document.objects.exclude(status=Status.PROCESSING).order_by("pk")
        if not all:
            documents = documents.exclude(embedding_model=model, status=Status.READY)
        ids = list(documents.values_list("pk", flat=True))
        bar = tqdm(total=len(ids), unit=" documents", disable=not sys.stderr.isatty(), file=sys.stderr)
        with audit.command("reembed"):
            for start in range(0, len(ids), batch):
                services.ingest(list(Document.objects.filter(pk__in=ids[start : start + batch])), progress=bar.update)
        bar.close()
        failed = Document.objects.filter(pk__in=ids, status=Status.FAILED).count()
        self.stdout.write(
            f"{len(ids)} documents embedded again with {model}: {len(ids) - failed} ready, {failed} failed"
        )
