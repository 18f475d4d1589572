"""The chat's lists take a fixed number of queries, however many rows."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ChatMessage, ChatSession, Document

pytestmark = pytest.mark.django_db
API = "/api/v1/chat"


def counts(client, url, sizes=(2, 20)):
    client.get(f"{API}/health/")  # the token is looked up once, then cached
    found = []
    for size in sizes:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url, {"page_size": size}).status_code == 200
        found.append(len(queries))
    return found


def test_lists_take_a_fixed_number_of_queries(client_for, owner):
    sessions = ChatSession.objects.bulk_create(ChatSession(owner=owner, title=f"s{i}") for i in range(25))
    ChatMessage.objects.bulk_create(ChatMessage(session=sessions[0], role="user", content=f"m{i}") for i in range(25))
    Document.objects.bulk_create(
        Document(
            owner=owner,
            title=f"d{i}",
            filename=f"d{i}.txt",
            content_type="text/plain",
            size=1,
            sha256=f"{i}",
            content=b"",
        )
        for i in range(25)
    )
    client = client_for(owner)
    for url in (f"{API}/sessions/", f"{API}/sessions/{sessions[0].uuid}/messages/", f"{API}/documents/"):
        small, large = counts(client, url)
        assert small == large <= 3, url
