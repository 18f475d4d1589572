import io

import pytest

from chat import demo, retrieval
from chat.models import Document, Status

pytestmark = pytest.mark.django_db


def test_the_demo_knowledge_base_is_made_once_and_found():
    out = io.StringIO()
    demo.seed(stdout=out)
    assert "3 notes in the shared knowledge base" in out.getvalue()
    assert set(Document.objects.values_list("owner", "status")) == {(None, Status.READY)}
    hits = retrieval.search("what does a high risk band mean", None, k=3)
    assert Document.objects.get(pk=hits[0].document_id).filename == "dropout-risk-bands.md"
    again = io.StringIO()
    demo.seed(stdout=again)
    assert "no demo data added" in again.getvalue() and Document.objects.count() == 3
