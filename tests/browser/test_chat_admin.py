"""A curator's journey through the shared knowledge base in the admin: upload a document, see
it ready in the list, open it and read its chunks; conversations stay out of their sight."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from chat.models import Document, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a-long-browser-password"
TEXT = (
    "# Re-entry\n\nA larger nose radius lowers the stagnation point heating rate.\n\n"
    + "Ablative heat shields carry the heat away by charring and pyrolysis. " * 30
)


@pytest.fixture
def curator(admin_login, page):
    user = get_user_model().objects.create_user("curator", password=PASSWORD, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="chat", codename__endswith="document"))
    admin_login("curator", PASSWORD)
    page.wait_for_selector("#site-name")
    return user


def test_a_curator_adds_a_document_to_the_shared_base(live_server, page, curator, screenshot, tmp_path):
    source = tmp_path / "re-entry.md"
    source.write_text(TEXT)
    page.goto(f"{live_server.url}/admin/chat/document/add/")
    page.fill("#id_title", "Re-entry notes")
    page.set_input_files("#id_upload", str(source))
    screenshot("chat-document-add")
    page.click("input[name=_save]")

    # The list: the new document, ready, in the shared knowledge base.
    rows = page.locator("#result_list tbody tr")
    rows.first.wait_for()
    assert rows.count() == 1
    assert rows.first.locator(".chat-status-ready").inner_text() == "Ready"
    assert "Shared knowledge base" in rows.first.inner_text()
    screenshot("chat-document-list")

    # The document: its chunks, with their offsets.
    document = Document.objects.get()
    assert document.status == Status.READY and document.chunk_count >= 2
    page.locator("#result_list").get_by_role("link", name="Re-entry notes").click()
    preview = page.locator("table.chat-chunks")
    preview.wait_for()
    assert preview.locator("tbody tr").count() == document.chunk_count
    assert "nose radius" in preview.locator("tbody tr").first.inner_text()
    screenshot("chat-document-chunks")

    # Conversations are private: not in the curator's admin.
    page.goto(f"{live_server.url}/admin/")
    assert page.locator("a[href='/admin/chat/chatsession/']").count() == 0
    assert not page.csp_violations
