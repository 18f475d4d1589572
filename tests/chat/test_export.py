"""Export: one session or all, JSON (round trip) or Markdown; the caller's own only."""

import pytest

from chat.models import ChatMessage, ChatSession

pytestmark = pytest.mark.django_db
API = "/api/v1/chat"


def session_with(user, title, *texts):
    session = ChatSession.objects.create(owner=user, title=title)
    for i, text in enumerate(texts):
        ChatMessage.objects.create(
            session=session,
            role="user" if i % 2 == 0 else "assistant",
            content=text,
            citations=[]
            if i % 2 == 0
            else [{"n": 1, "title": "Notes", "snippet": "Shock waves form.", "document": "x"}],
        )
    return session


def test_export_round_trips_the_callers_sessions(client_for, owner, stranger):
    first = session_with(owner, "Shocks", "What forms ahead of a blunt body?", "Shock waves form. [1]")
    session_with(owner, "Empty")
    session_with(stranger, "Theirs", "secret")
    data = client_for(owner).get(f"{API}/export/").json()
    assert [s["title"] for s in data] == ["Shocks", "Empty"]
    assert [(m["role"], m["content"]) for m in data[0]["messages"]] == list(
        ChatMessage.objects.filter(session=first).order_by("created_at", "id").values_list("role", "content")
    )
    assert data[0]["messages"][1]["citations"][0]["snippet"] == "Shock waves form."
    one = client_for(owner).get(f"{API}/sessions/{first.uuid}/export/").json()
    assert one == data[:1]
    markdown = client_for(owner).get(f"{API}/sessions/{first.uuid}/export/", {"to": "markdown"})
    assert markdown["Content-Type"].startswith("text/markdown")
    text = markdown.content.decode()
    assert text.startswith("# Shocks") and "**assistant**" in text and "> [1] Notes: Shock waves form." in text
    assert client_for(stranger).get(f"{API}/sessions/{first.uuid}/export/").status_code == 404
    assert "secret" not in str(client_for(owner).get(f"{API}/export/", {"to": "markdown"}).content)
    assert client_for(owner).get(f"{API}/export/", {"to": "pdf"}).status_code == 400
    assert client_for(owner).get(f"{API}/export/", {"colour": "red"}).status_code == 400
