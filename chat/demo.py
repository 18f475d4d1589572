"""Demo data for `make run`: a small shared knowledge base (three notes on how Veritas reads
its data), ingested at once, so that `POST /api/v1/chat/` has something to cite. Idempotent:
nothing is added when the shared base has documents."""

from __future__ import annotations

from chat import services
from chat.models import Document
from veritas import audit

NOTES = {
    "dropout-risk-bands.md": """# Dropout risk bands

A risk band summarises a student's predicted probability of withdrawing. Medium risk starts at the
validation cohort's base rate; high risk starts at twice that rate or halfway to certainty, whichever
is lower.

Each prediction lists up to three reasons: the features that raised this student's risk the most,
such as missed assessments or no clicks in the last two weeks. The course calendar is context and is
never given as a reason.
""",
    "chat-citations.md": """# How chat answers cite

Every answer is built from passages of your own documents and the shared knowledge base, never from
anyone else's. Each sentence is followed by a number in brackets that points to the passage it came
from, with the document and the character offsets of that passage.

When no passage is relevant enough, the answer says that nothing relevant was found instead of
inventing one.
""",
    "performance-records.md": """# Performance records

A student's performance in a concept module is recomputed exactly from the assessment logs whenever
a log is added, changed or removed. Mastery needs a minimum number of assessments and a minimum
average score; the cohort overview flags students who fall below it.
""",
}


def seed(*, stdout) -> None:
    if Document.objects.filter(owner__isnull=True).exists():
        stdout.write("chat: the shared knowledge base has documents, no demo data added")
        return
    with audit.command("seed_demo"):
        added = [
            services.add_document(
                actor=None, owner=None, filename=name, content_type="text/markdown", data=text.encode()
            )[0]
            for name, text in NOTES.items()
        ]
        services.ingest(added)
    chunks = sum(document.chunk_count for document in Document.objects.filter(owner__isnull=True))
    stdout.write(f"chat: {len(added)} notes in the shared knowledge base ({chunks} chunks)")
