"""The OpenAI-compatible generator against a fake chat-completions server started here
(success, timeout, upstream error, streaming), and streamed answers (?stream=true) with either
generator, including a client that goes away before the end."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import override_settings

from chat import generators, services, views
from chat.models import ChatMessage, Role
from tests.chat.test_api_chat import API, MINE, ask, ingest

pytestmark = pytest.mark.django_db
ANSWER = ["A larger nose radius ", "lowers the stagnation point heating [1]", "."]


class FakeCompletions(BaseHTTPRequestHandler):
    """POST /v1/chat/completions as OpenAI answers it; ``mode`` on the server picks the case."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        mode = self.server.mode
        if mode == "slow":
            time.sleep(1.5)
        if mode == "error":
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": "boom"}')
            return
        if mode == "garbage":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"<html>not json</html>")
            return
        self.send_response(200)
        if not body.get("stream"):
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            choice = {"index": 0, "message": {"role": "assistant", "content": "".join(ANSWER)}}
            usage = {"prompt_tokens": 321, "completion_tokens": 12, "total_tokens": 333}
            self.wfile.write(json.dumps({"choices": [choice], "usage": usage}).encode())
            return
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ANSWER:
            delta = {"choices": [{"index": 0, "delta": {"content": piece}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()
        usage = {"choices": [], "usage": {"prompt_tokens": 321, "completion_tokens": 12}}
        self.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())


@pytest.fixture
def fake_llm():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeCompletions)
    server.daemon_threads = True
    server.mode, server.requests = "ok", []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    with override_settings(
        CHAT_GENERATOR="openai", CHAT_LLM_URL=url, CHAT_LLM_MODEL="fake-1", CHAT_LLM_API_KEY="k-1", CHAT_LLM_TIMEOUT=0.5
    ):
        yield server
    server.shutdown()
    server.server_close()


def events(response) -> list[tuple[str, dict]]:
    text = b"".join(response.streaming_content).decode()
    out = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], json.loads(lines["data"])))
    return out


def test_the_model_gets_the_passages_and_history_and_its_answer_is_stored(client_for, owner, fake_llm):
    mine = ingest(owner, MINE)
    client = client_for(owner)
    first = ask(client, "How does the nose radius change the heating?")
    assert first.status_code == 201
    answer = first.json()["answer"]
    assert answer["content"] == "".join(ANSWER) and answer["generator"] == "openai"
    assert (answer["prompt_tokens"], answer["completion_tokens"]) == (321, 12)
    assert [c["document"] for c in answer["citations"]] == [str(mine.uuid)]  # the [1] it cited
    request = fake_llm.requests[-1]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k-1"
    assert request["body"]["model"] == "fake-1"
    system, question = request["body"]["messages"][0], request["body"]["messages"][-1]
    assert "[1] " in system["content"] and "nose radius" in system["content"]
    assert question == {"role": "user", "content": "How does the nose radius change the heating?"}
    # The second question carries the first exchange as history.
    ask(client, "And ablation?", session=first.json()["session"]["uuid"])
    sent = fake_llm.requests[-1]["body"]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]


@pytest.mark.parametrize(
    ("mode", "status", "code"),
    [("slow", 504, "gateway_timeout"), ("error", 502, "bad_gateway"), ("garbage", 502, "bad_gateway")],
)
def test_upstream_failures_keep_the_users_message(client_for, owner, fake_llm, mode, status, code):
    fake_llm.mode = mode
    response = ask(client_for(owner), "nose radius heating")
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and "kept in session" in body["detail"]
    assert list(ChatMessage.objects.values_list("role", "content")) == [(Role.USER, "nose radius heating")]


def test_an_unreachable_model_is_a_502(client_for, owner):
    with override_settings(CHAT_GENERATOR="openai", CHAT_LLM_URL="http://127.0.0.1:9/v1", CHAT_LLM_TIMEOUT=0.5):
        response = ask(client_for(owner), "anything")
    assert response.status_code == 502 and ChatMessage.objects.count() == 1


def test_streamed_extractive_answer(client_for, owner):
    ingest(owner, MINE)
    response = client_for(owner).post(f"{API}/?stream=true", {"message": "nose radius heating"}, format="json")
    assert response.status_code == 200 and response["Content-Type"] == "text/event-stream"
    received = events(response)
    names = [name for name, _ in received]
    assert names[:2] == ["session", "message"] and names[-2:] == ["session", "answer"] and "delta" in names
    streamed = "".join(data["text"] for name, data in received if name == "delta")
    stored = ChatMessage.objects.get(role=Role.ASSISTANT)
    assert streamed == stored.content == received[-1][1]["content"] and "[1]" in streamed
    assert received[-1][1]["citations"] and received[-2][1]["last_message_at"]


def test_streamed_model_answer_and_its_failure(client_for, owner, fake_llm):
    ingest(owner, MINE)
    client = client_for(owner)
    received = events(client.post(f"{API}/?stream=true", {"message": "nose radius"}, format="json"))
    assert [data["text"] for name, data in received if name == "delta"] == ANSWER
    assert received[-1][1]["content"] == "".join(ANSWER) and received[-1][1]["prompt_tokens"] == 321
    fake_llm.mode = "error"
    received = events(client.post(f"{API}/?stream=true", {"message": "again"}, format="json"))
    assert received[-1][0] == "error" and received[-1][1]["status"] == 502
    assert ChatMessage.objects.filter(content="again").exists()  # the question is kept


def test_a_client_that_leaves_early_still_gets_the_whole_answer_stored(owner, fake_llm):
    ingest(owner, MINE)
    turn = services.ask(actor=owner, message="nose radius")
    # The response's body (StreamingHttpResponse closes it when the client goes away).
    stream = views.answer_events(turn)
    assert next(stream).startswith("event: session")
    stream.close()
    stored = ChatMessage.objects.get(role=Role.ASSISTANT)
    assert stored.content == "".join(ANSWER) and stored.citations


def test_stream_parameter_is_checked(client_for, owner):
    client = client_for(owner)
    assert client.post(f"{API}/?stream=maybe", {"message": "x"}, format="json").status_code == 400
    assert client.post(f"{API}/?strem=true", {"message": "x"}, format="json").status_code == 400
    assert not ChatMessage.objects.exists()


def test_the_extractive_generator_streams_what_it_answers():
    passage = generators.Passage(1, "First sentence here. The nose radius matters.", 0.8, {"n": 1})
    pieces = list(generators.ExtractiveGenerator().stream("nose radius", [passage]))
    *text, answer = pieces
    assert "".join(text) == answer.text == "The nose radius matters. [1]"


def test_the_extractive_answer_skips_headings_and_keeps_to_one_paragraph():
    text = "# Re-entry heating\n\nThe nose radius matters\n\nAblation carries heat away."
    passage = generators.Passage(1, text, 0.8, {"n": 1})
    answer = generators.ExtractiveGenerator().answer("nose radius", [passage])
    assert answer.text == "The nose radius matters [1]"
