"""The chat admin: staff curate the shared knowledge base (upload, rename, ingest again, chunk
preview, delete, all audited); users' documents and conversations only for superusers and
holders of chat.read_conversations, read-only."""

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from chat import services
from chat.models import ChatSession, Document, Status
from tests.chat.test_api_chat import MINE, ask, ingest
from veritas.models import ActionLog

pytestmark = pytest.mark.django_db
DOCUMENTS = "/admin/chat/document/"
SESSIONS = "/admin/chat/chatsession/"


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="chat", codename__in=codenames))


@pytest.fixture
def curator(make_user):
    user = make_user("curator", is_staff=True)
    grant(user, "view_document", "add_document", "change_document", "delete_document")
    return user


@pytest.fixture
def private_library(owner, client_for):
    document = ingest(owner, MINE)
    ask(client_for(owner), "nose radius heating")
    return document


def test_a_curator_uploads_to_the_shared_base_and_sees_its_chunks(client, curator):
    client.force_login(curator)
    upload = SimpleUploadedFile("kb.md", b"# Wind tunnels\n\nNose cones are tested in wind tunnels.", "text/markdown")
    response = client.post(f"{DOCUMENTS}add/", {"title": "", "upload": upload})
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.owner is None and document.title == "kb.md"
    assert document.status == Status.READY and document.chunk_count == 1  # the tests' tasks run at once
    page = client.get(f"{DOCUMENTS}{document.pk}/change/").content.decode()
    assert "Nose cones are tested in wind tunnels." in page and "chat-status-ready" in page
    # Rename; ingest again; delete: each through the services, audited.
    client.post(f"{DOCUMENTS}{document.pk}/change/", {"title": "Wind tunnels"})
    document.refresh_from_db()
    assert document.title == "Wind tunnels"
    client.post(DOCUMENTS, {"action": "ingest_again", "_selected_action": [document.pk]})
    client.post(f"{DOCUMENTS}{document.pk}/delete/", {"post": "yes"})
    assert not Document.objects.exists()
    verbs = list(ActionLog.objects.filter(object_type="chat.document").values_list("verb", flat=True).order_by("pk"))
    assert verbs == ["create", "update", "update", "delete"]


def test_an_upload_is_checked_as_in_the_api(client, curator, settings):
    client.force_login(curator)
    cases = [
        (SimpleUploadedFile("x.exe", b"MZ\x90\x00\x03", "application/x-msdownload"), "Upload text, Markdown"),
        (SimpleUploadedFile("empty.txt", b"   \n", "text/plain"), "no extractable text"),
    ]
    for upload, message in cases:
        response = client.post(f"{DOCUMENTS}add/", {"upload": upload})
        assert response.status_code == 200 and message in response.content.decode()
    settings.CHAT_MAX_UPLOAD_BYTES = 10
    response = client.post(f"{DOCUMENTS}add/", {"upload": SimpleUploadedFile("a.txt", b"x" * 11, "text/plain")})
    assert "at most 10 bytes" in response.content.decode()
    assert not Document.objects.exists()


def test_users_documents_and_conversations_are_private(client, curator, private_library, make_user):
    client.force_login(curator)
    assert client.get(DOCUMENTS).context["cl"].result_count == 0
    assert client.get(f"{DOCUMENTS}{private_library.pk}/change/").status_code == 302  # not found: back to list
    assert client.get(SESSIONS).status_code == 403
    reader = make_user("reader", is_staff=True)
    grant(reader, "read_conversations")
    client.force_login(reader)
    session = ChatSession.objects.get()
    page = client.get(f"{SESSIONS}{session.pk}/change/")
    assert page.status_code == 200 and "nose radius heating" in page.content.decode()
    assert client.post(f"{SESSIONS}{session.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"{SESSIONS}{session.pk}/change/", {"title": "x"}).status_code == 403
    assert ChatSession.objects.get().title == "nose radius heating"


def test_a_users_document_cannot_be_changed_here(client, make_user, private_library):
    admin = make_user("root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    page = client.get(f"{DOCUMENTS}{private_library.pk}/change/").content.decode()
    assert "Stagnation point heating" in page  # the preview, read-only
    client.post(f"{DOCUMENTS}{private_library.pk}/change/", {"title": "renamed"})
    private_library.refresh_from_db()
    assert private_library.title == "notes.txt"
    services.delete_document(actor=admin, document=private_library)
