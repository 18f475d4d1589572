"""Documents over the API: the owner's alone (a colleague or a stranger gets 404), uploads'
unhappy paths, the shared base (staff with the permission), the health probe."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from chat.models import Chunk, Document, Status
from veritas.models import ActionLog

from .test_documents import minimal_pdf

pytestmark = pytest.mark.django_db
API = "/api/v1/chat"
TEXT = b"Shock waves form ahead of a blunt body in hypersonic flow.\n\nThe nose radius sets the heating."


def upload(client, data=TEXT, name="notes.txt", content_type="text/plain", url=f"{API}/documents/", **more):
    return client.post(
        url, {"file": SimpleUploadedFile(name, data, content_type=content_type), **more}, format="multipart"
    )


def test_an_upload_is_ingested_and_is_the_owners_alone(client_for, owner, staff, stranger):
    response = upload(client_for(owner), title="Heating")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == Status.READY and body["chunk_count"] == 1 and body["title"] == "Heating"
    assert body["shared"] is False and body["sha256"] and body["size"] == len(TEXT)
    uuid = body["uuid"]
    assert [d["uuid"] for d in client_for(owner).get(f"{API}/documents/").json()["results"]] == [uuid]
    for other in (staff, stranger):  # a colleague (staff) and a stranger
        client = client_for(other)
        assert client.get(f"{API}/documents/").json()["results"] == []
        assert client.get(f"{API}/documents/{uuid}/").status_code == 404
        assert client.delete(f"{API}/documents/{uuid}/").status_code == 404
    assert client_for(owner).delete(f"{API}/documents/{uuid}/").status_code == 204
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert ActionLog.objects.filter(verb="delete", object_type="chat.document").exists()


def test_the_same_file_twice_is_one_document(client_for, owner, stranger):
    first = upload(client_for(owner)).json()
    again = upload(client_for(owner), name="copy.txt")
    assert again.status_code == 200 and again.json()["uuid"] == first["uuid"]
    assert upload(client_for(stranger)).status_code == 201  # another owner's copy is theirs
    assert Document.objects.count() == 2


@override_settings(CHAT_MAX_UPLOAD_BYTES=100)
def test_too_big_is_413(client_for, owner):
    response = upload(client_for(owner), data=b"x" * 101)
    assert response.status_code == 413 and "at most 100 bytes" in response.json()["detail"]


@pytest.mark.parametrize(
    ("data", "name", "content_type", "status", "message"),
    [
        (b"\x89PNG...", "image.png", "image/png", 415, "not supported"),
        (b"   \n ", "empty.txt", "text/plain", 400, "no extractable text"),
        (b"%PDF-1.4 broken", "broken.pdf", "application/pdf", 400, "The PDF cannot be read"),
        (minimal_pdf(""), "blank.pdf", "application/pdf", 400, "no extractable text"),
    ],
)
def test_unreadable_uploads_are_refused(client_for, owner, data, name, content_type, status, message):
    response = upload(client_for(owner), data=data, name=name, content_type=content_type)
    assert response.status_code == status
    assert message in str(response.json())
    assert not Document.objects.exists()


def test_a_pdf_goes_in(client_for, owner):
    response = upload(client_for(owner), data=minimal_pdf("Hypersonic flow over a cone"), name="a.pdf",
                      content_type="application/pdf")  # fmt: skip
    assert response.status_code == 201 and response.json()["status"] == Status.READY


def test_upload_needs_a_file_and_credentials(client_for, owner, anon_client):
    response = client_for(owner).post(f"{API}/documents/", {"title": "no file"}, format="multipart")
    assert response.status_code == 400 and "file" in response.json()["fields"]
    assert client_for(owner).post(f"{API}/documents/", {"x": 1}, format="json").status_code == 415
    assert upload(anon_client).status_code == 401


def test_the_shared_base_is_read_by_all_and_written_with_the_permission(client_for, owner, staff, django_user_model):
    assert upload(client_for(staff), url=f"{API}/shared-documents/").status_code == 403
    admin = django_user_model.objects.create_superuser("kb-admin", "kb@example.com", None)
    response = upload(client_for(admin), url=f"{API}/shared-documents/")
    assert response.status_code == 201 and response.json()["shared"] is True
    uuid = response.json()["uuid"]
    assert [d["uuid"] for d in client_for(owner).get(f"{API}/shared-documents/").json()["results"]] == [uuid]
    assert client_for(owner).get(f"{API}/documents/").json()["results"] == []
    assert client_for(owner).delete(f"{API}/shared-documents/{uuid}/").status_code == 403
    assert client_for(admin).delete(f"{API}/shared-documents/{uuid}/").status_code == 204


def test_health(client_for, owner, anon_client):
    body = client_for(owner).get(f"{API}/health/").json()
    assert body["database"] is True and body["pgvector"] and body["dimension"] == 384
    assert body["embedding_model"] == "all-MiniLM-L6-v2-onnx-int8"
    assert anon_client.get(f"{API}/health/").status_code == 401
