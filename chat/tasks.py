"""Background work of the chat app (django-tasks-db, run by `make worker`): a document's
extraction, chunking and embedding after its upload."""

from django.tasks import task

from chat import services
from chat.models import Document


@task
def ingest_document(document_id: int) -> dict:
    document = Document.objects.filter(pk=document_id).first()
    if document is None:  # deleted meanwhile
        return {"document": document_id, "status": "gone"}
    services.ingest([document])
    document.refresh_from_db()
    return {"document": document.pk, "status": document.status, "chunks": document.chunk_count}
