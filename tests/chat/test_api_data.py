"""Message search and delete-my-data: the caller's own only."""

import pytest

from chat.models import ChatMessage, ChatSession, Chunk, Document
from veritas.models import ActionLog

from .test_api_chat import ingest

pytestmark = pytest.mark.django_db
API = "/api/v1/chat"


def converse(user, *texts):
    session = ChatSession.objects.create(owner=user, title="t")
    for text in texts:
        ChatMessage.objects.create(session=session, role="user", content=text)
    return session


def test_message_search_finds_the_callers_messages_only(client_for, owner, stranger):
    mine = converse(owner, "Supersonic inlets swallow their shock", "Nothing here")
    converse(stranger, "Supersonic inlets are the stranger's topic")
    found = client_for(owner).get(f"{API}/messages/search/", {"q": "supersonic inlet"}).json()
    assert [(m["content"], m["session"]) for m in found] == [("Supersonic inlets swallow their shock", str(mine.uuid))]
    assert client_for(owner).get(f"{API}/messages/search/", {"q": "stranger"}).json() == []
    assert client_for(owner).get(f"{API}/messages/search/").status_code == 400
    assert client_for(owner).get(f"{API}/messages/search/", {"q": "x", "page": 2}).status_code == 400


def test_delete_my_data_removes_everything_of_the_caller_and_nothing_else(client_for, owner, stranger):
    converse(owner, "a", "b")
    converse(stranger, "c")
    ingest(owner, "Owner's notes on wind tunnels.")
    ingest(stranger, "Stranger's notes on wind tunnels.", name="other.txt")
    response = client_for(owner).post(f"{API}/delete-my-data/")
    assert response.status_code == 200
    assert response.json() == {"sessions": 1, "messages": 2, "documents": 1, "chunks": 1}
    assert not ChatSession.objects.filter(owner=owner).exists() and not Document.objects.filter(owner=owner).exists()
    assert ChatSession.objects.filter(owner=stranger).count() == 1 and Chunk.objects.filter(owner=stranger).count() == 1
    entry = ActionLog.objects.get(object_repr="all of a user's chat data")
    assert entry.changes["counts"]["messages"] == 2 and entry.actor == owner
    again = client_for(owner).post(f"{API}/delete-my-data/").json()
    assert again == {"sessions": 0, "messages": 0, "documents": 0, "chunks": 0}
