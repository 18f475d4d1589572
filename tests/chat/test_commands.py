import io

import pytest
from django.core.management import CommandError, call_command

from chat.models import Chunk, Document, Status

pytestmark = pytest.mark.django_db


def test_ingest_documents_into_the_shared_base_and_again(tmp_path):
    (tmp_path / "a.md").write_text("# Nozzles\n\nA convergent-divergent nozzle accelerates the flow.")
    (tmp_path / "b.html").write_text("<p>Shock tubes make short test times.</p>")
    (tmp_path / "c.txt").write_text("   ")
    (tmp_path / "d.png").write_bytes(b"\x89PNG\xff")
    out, err = io.StringIO(), io.StringIO()
    call_command("ingest_documents", str(tmp_path), "--shared", stdout=out, stderr=err)
    assert "3 files: 2 ingested (2 chunks), 1 failed, 0 already there" in out.getvalue()
    assert "c.txt: The file has no extractable text" in err.getvalue()
    assert Document.objects.filter(owner=None, status=Status.READY).count() == 2
    assert set(Chunk.objects.values_list("owner", flat=True)) == {None}
    again = io.StringIO()
    call_command("ingest_documents", str(tmp_path / "a.md"), "--shared", stdout=again)
    assert "1 already there" in again.getvalue() and Document.objects.count() == 3


def test_ingest_documents_for_a_user_and_unhappy_paths(tmp_path, owner):
    (tmp_path / "a.txt").write_text("Wind tunnels.")
    call_command("ingest_documents", str(tmp_path / "a.txt"), "--owner", "owner", stdout=io.StringIO())
    assert Document.objects.get().owner == owner
    with pytest.raises(CommandError, match="No user 'nobody'"):
        call_command("ingest_documents", str(tmp_path), "--owner", "nobody")
    with pytest.raises(CommandError, match="No such file"):
        call_command("ingest_documents", str(tmp_path / "missing"), "--shared")


def test_reembed_documents_of_another_model(tmp_path):
    (tmp_path / "a.txt").write_text("Wind tunnels.")
    call_command("ingest_documents", str(tmp_path), "--shared", stdout=io.StringIO())
    Document.objects.update(embedding_model="old-model")
    out = io.StringIO()
    call_command("reembed", stdout=out)
    assert "1 documents embedded again with all-MiniLM-L6-v2-onnx-int8: 1 ready, 0 failed" in out.getvalue()
    assert Document.objects.get().embedding_model == "all-MiniLM-L6-v2-onnx-int8"
    out = io.StringIO()
    call_command("reembed", stdout=out)
    assert out.getvalue().startswith("0 documents")
