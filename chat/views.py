"""The chat API (/api/v1/chat/), so far: documents (the caller's own), the shared knowledge base
and the health probe. A user's documents are theirs alone: another user's is a 404."""

import contextlib
import json

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import F
from django.http import HttpResponse, StreamingHttpResponse
from django.tasks import TaskResultStatus
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from drf_spectacular.utils import OpenApiResponse, OpenApiTypes, extend_schema, inline_serializer
from rest_framework import exceptions, mixins, parsers, permissions, renderers, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.settings import api_settings

from chat import documents, generators, retrieval, services, tasks
from chat.embedding import get_embedder
from chat.models import SEARCH_CONFIG, ChatMessage, ChatSession, Document
from chat.serializers import (
    ChatRequestSerializer,
    ChatResponseSerializer,
    DeletedSerializer,
    DocumentSerializer,
    ExportSessionSerializer,
    FoundMessageSerializer,
    HealthSerializer,
    MessageSearchQuerySerializer,
    MessageSerializer,
    RetrievalRequestSerializer,
    RetrievedChunkSerializer,
    SessionSerializer,
    SessionUpdateSerializer,
    UploadSerializer,
)
from veritas.api.errors import BadGateway, GatewayTimeout, PayloadTooLarge, error_body
from veritas.api.pagination import CursorPagination
from veritas.api.permissions import WriteModelPermissions
from veritas.api.views import UUID_PATTERN, APIView, GenericViewSet, json_body


class ExportQuerySerializer(serializers.Serializer):
    to = serializers.ChoiceField(choices=["json", "markdown"], default="json", help_text="json (default) or markdown.")


EXPORT_RESPONSES = {
    (200, "application/json"): OpenApiResponse(
        ExportSessionSerializer(many=True), description="The sessions with their messages and citations."
    ),
    (200, "text/markdown"): OpenApiResponse(OpenApiTypes.STR, description="The same, as Markdown (?to=markdown)."),
}


def exported(request, sessions, name: str):
    query = ExportQuerySerializer(data={k: request.query_params[k] for k in ("to",) if k in request.query_params})
    query.is_valid(raise_exception=True)
    data = services.export(sessions)
    if query.validated_data["to"] == "markdown":
        response = HttpResponse(services.as_markdown(data), content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{name}.md"'
        return response
    return Response(data)


class UnsupportedMediaType(exceptions.UnsupportedMediaType):
    def __init__(self, detail):
        exceptions.APIException.__init__(self, detail)


class Documents(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, GenericViewSet):
    serializer_class = DocumentSerializer
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN
    parser_classes = [parsers.MultiPartParser]
    owner_of_new = None

    def owner(self):
        return self.request.user

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Document.objects.none()
        return Document.objects.filter(owner=self.owner()).defer("content", "text").order_by("-created_at", "-id")

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: DocumentSerializer,
            200: OpenApiResponse(DocumentSerializer, description="The same file was uploaded before: that document."),
            413: OpenApiResponse(description="Larger than CHAT_MAX_UPLOAD_BYTES."),
            415: OpenApiResponse(description="Not text, Markdown, HTML or PDF."),
        },
    )
    def create(self, request):
        """Upload a document (multipart/form-data: ``file``, optional ``title``). The text is read
        now (a file without any is a 400 that says so); chunking and embedding run in the
        background: ``status`` goes pending → processing → ready (or failed, with the reason)."""
        limit = settings.CHAT_MAX_UPLOAD_BYTES
        announced = request.META.get("CONTENT_LENGTH", "")
        if announced.isdigit() and int(announced) > limit + 64 * 1024:
            raise PayloadTooLarge(f"A document may be at most {limit} bytes.")
        body = UploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        upload = body.validated_data["file"]
        if upload.size > limit:
            raise PayloadTooLarge(f"A document may be at most {limit} bytes; this one has {upload.size}.")
        try:
            document, created = services.add_document(
                actor=request.user,
                owner=self.owner(),
                filename=upload.name,
                content_type=upload.content_type or "",
                data=upload.read(),
                title=body.validated_data.get("title", ""),
                extract=True,
            )
        except services.UnsupportedType as error:
            raise UnsupportedMediaType(str(error)) from None
        except documents.ExtractionError as error:
            raise exceptions.ValidationError({"file": [str(error)]}) from None
        if created:
            services.queue_ingestion([document])
            document.refresh_from_db()
        return Response(
            DocumentSerializer(document).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def perform_destroy(self, instance):
        services.delete_document(actor=self.request.user, document=instance)


@extend_schema(tags=["chat"])
class DocumentViewSet(Documents):
    """The caller's own documents: upload, list (newest first), one with its status, delete
    (its chunks go with it)."""

    permission_classes = [permissions.IsAuthenticated]


@extend_schema(tags=["chat"])
class SharedDocumentViewSet(Documents):
    """The shared knowledge base: every user's retrieval reads it; staff with the
    ``chat.add_document`` / ``chat.delete_document`` permissions manage it."""

    permission_classes = [permissions.IsAuthenticated, WriteModelPermissions]
    queryset = Document.objects.none()

    def owner(self):
        return None


@extend_schema(tags=["chat"])
class HealthView(APIView):
    """The chat's health (the legacy /db-health): the database, pgvector, the embedding model
    and the task queue's backlog. Nothing about any user's data."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses=HealthSerializer)
    def get(self, request):
        embedder = get_embedder()
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
        backlog = None
        if isinstance(tasks.ingest_document.get_backend(), DatabaseBackend):
            backlog = DBTaskResult.objects.filter(status=TaskResultStatus.READY).count()
        return Response(
            HealthSerializer(
                {
                    "database": True,
                    "pgvector": row[0] if row else None,
                    "embedding_model": embedder.name,
                    "embedding_loaded": embedder.loaded,
                    "dimension": embedder.dimension,
                    "queue_backlog": backlog,
                }
            ).data
        )


class NewestFirst(CursorPagination):
    ordering = ("-updated_at", "-id")


class NewestMessagesFirst(CursorPagination):
    ordering = ("-created_at", "-id")


class ChatQuerySerializer(serializers.Serializer):
    stream = serializers.BooleanField(
        default=False, help_text="true: the answer as server-sent events (text/event-stream) as it is written."
    )


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets a client ask for ``Accept: text/event-stream`` (the view writes the events itself)."""

    media_type = "text/event-stream"
    format = "sse"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()


def upstream_failure(error: generators.UpstreamError, session) -> exceptions.APIException:
    kept = f" Your message is kept in session {session.uuid}."
    if isinstance(error, generators.UpstreamTimeout):
        return GatewayTimeout(str(error) + kept)
    return BadGateway(str(error) + kept)


def event(name: str, data) -> str:
    return f"event: {name}\ndata: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n"


def answer_events(turn: services.Turn):
    """The server-sent events of a streamed answer: ``session`` and ``message`` (the stored
    question), ``delta`` (pieces of text as they come), then ``answer`` (the stored answer, with
    citations) or ``error`` (the API's error shape). When the stream is closed early (the client
    went away), the answer is still written to the end and stored."""
    pieces = services.answer_pieces(turn)
    try:
        yield event("session", SessionSerializer(turn.session).data)
        yield event("message", MessageSerializer(turn.asked).data)
        for item in pieces:
            if isinstance(item, ChatMessage):
                yield event("session", SessionSerializer(turn.session).data)
                yield event("answer", MessageSerializer(item).data)
            else:
                yield event("delta", {"text": item})
    except generators.UpstreamError as error:
        failure = upstream_failure(error, turn.session)
        yield event("error", error_body(failure.status_code, failure.default_code, str(failure.detail)))
    finally:
        with contextlib.suppress(generators.UpstreamError):  # the question is stored either way
            for _ in pieces:  # nothing left, unless the client went away: finish the answer
                pass


@extend_schema(tags=["chat"])
class ChatView(APIView):
    """Ask (the legacy ``/chat``): the message is stored, the caller's documents and the shared
    knowledge base (only those) are searched, and the answer is stored with its citations; both
    come back with the session (a new one, titled from the message, when none is given).
    ``?stream=true`` sends the answer as server-sent events while it is written (see docs/chat.md).
    When the language model fails (CHAT_GENERATOR=openai) the answer is a 502, or a 504 when it
    does not answer in time; the user's message is kept either way."""

    permission_classes = [permissions.IsAuthenticated]
    allowed_query_params = frozenset({"stream"})
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, EventStreamRenderer]

    @extend_schema(
        request=ChatRequestSerializer,
        parameters=[ChatQuerySerializer],
        responses={
            201: ChatResponseSerializer,
            (200, "text/event-stream"): OpenApiResponse(
                inline_serializer(
                    "ChatEvent",
                    {
                        "event": serializers.ChoiceField(["session", "message", "delta", "answer", "error"]),
                        "data": serializers.CharField(
                            help_text="JSON: the session, the stored question, {text} of a piece of the answer, "
                            "the stored answer, or an error in the API's error shape."
                        ),
                    },
                ),
                description="With ?stream=true: server-sent events session, message, delta…, session, answer "
                "(or error).",
            ),
            404: OpenApiResponse(description="No such session among the caller's."),
            502: OpenApiResponse(description="The language model failed (the message is kept)."),
            504: OpenApiResponse(description="The language model did not answer in time (the message is kept)."),
        },
    )
    def post(self, request):
        query = ChatQuerySerializer(data={k: request.query_params[k] for k in ("stream",) if k in request.query_params})
        query.is_valid(raise_exception=True)
        body = ChatRequestSerializer(data=json_body(request))
        body.is_valid(raise_exception=True)
        session = None
        if "session" in body.validated_data:
            session = ChatSession.objects.filter(owner=request.user, uuid=body.validated_data["session"]).first()
            if session is None:
                raise exceptions.NotFound("No such session.")
        turn = services.ask(actor=request.user, message=body.validated_data["message"], session=session)
        if query.validated_data["stream"]:
            response = StreamingHttpResponse(answer_events(turn), content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"  # nginx: pass the events on at once
            return response
        try:
            answer = generators.get_generator().answer(turn.asked.content, turn.passages, turn.history)
        except generators.UpstreamError as error:
            raise upstream_failure(error, turn.session) from error
        reply = services.reply(turn, answer)
        data = {"session": turn.session, "message": turn.asked, "answer": reply}
        return Response(ChatResponseSerializer(data).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["chat"])
class RetrievalSearchView(APIView):
    """The ranked chunks for a query, as the chat's retrieval sees them (your documents and the
    shared knowledge base), with each method's rank and score: for debugging and evaluation."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=RetrievalRequestSerializer, responses=RetrievedChunkSerializer(many=True))
    def post(self, request):
        body = RetrievalRequestSerializer(data=json_body(request))
        body.is_valid(raise_exception=True)
        found = retrieval.ranked_chunks(owner_id=request.user.pk, **body.validated_data)
        return Response(RetrievedChunkSerializer(found, many=True).data)


@extend_schema(tags=["chat"])
class SessionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, GenericViewSet):
    """The caller's chat sessions, most recently active first; rename, pin or archive one
    (PATCH), delete one with its messages. Anyone else's session is a 404."""

    serializer_class = SessionSerializer
    permission_classes = [permissions.IsAuthenticated]
    pagination_class = NewestFirst
    lookup_field = "uuid"
    lookup_value_regex = UUID_PATTERN
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ChatSession.objects.none()
        return ChatSession.objects.filter(owner=self.request.user)

    @extend_schema(request=SessionUpdateSerializer, responses=SessionSerializer)
    def partial_update(self, request, uuid=None):
        session = self.get_object()
        body = SessionUpdateSerializer(data=json_body(request), partial=True)
        body.is_valid(raise_exception=True)
        session = services.update_session(actor=request.user, session=session, data=dict(body.validated_data))
        return Response(SessionSerializer(session).data)

    def perform_destroy(self, instance):
        services.delete_session(actor=self.request.user, session=instance)

    @extend_schema(parameters=[ExportQuerySerializer], responses=EXPORT_RESPONSES)
    @action(detail=True, methods=["get"], pagination_class=None, filter_backends=[], allowed_query_params={"to"})
    def export(self, request, uuid=None):
        """Export the session (JSON, or Markdown with ``?to=markdown``)."""
        session = self.get_object()
        return exported(request, ChatSession.objects.filter(pk=session.pk), f"chat-{session.uuid}")

    @extend_schema(responses=MessageSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=NewestMessagesFirst, filter_backends=[])
    def messages(self, request, uuid=None):
        """The session's messages, newest first (cursor)."""
        session = self.get_object()
        paginator = self.paginator
        page = paginator.paginate_queryset(session.messages.all(), request, view=self)
        return paginator.get_paginated_response(MessageSerializer(page, many=True).data)


@extend_schema(tags=["chat"])
class DeleteMyDataView(APIView):
    """Delete every session, message, document and chunk of yours; answers the counts. The
    audit trail keeps that it happened (not what was deleted)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(request=None, responses=DeletedSerializer)
    def post(self, request):
        return Response(DeletedSerializer(services.delete_my_data(actor=request.user)).data)


SEARCH_LIMIT = 50


@extend_schema(tags=["chat"])
class MessageSearchView(APIView):
    """Full-text search over your own messages (web-search syntax: words, "a phrase", -word),
    best matches first, at most 50."""

    permission_classes = [permissions.IsAuthenticated]
    allowed_query_params = frozenset({"q"})

    @extend_schema(
        parameters=[MessageSearchQuerySerializer],
        responses=FoundMessageSerializer(many=True),
    )
    def get(self, request):
        query = MessageSearchQuerySerializer(
            data={k: request.query_params[k] for k in ("q",) if k in request.query_params}
        )
        query.is_valid(raise_exception=True)
        words = SearchQuery(query.validated_data["q"], search_type="websearch", config=SEARCH_CONFIG)
        found = (
            ChatMessage.objects.filter(session__owner=request.user, search=words)
            .select_related("session")
            .annotate(rank=SearchRank(F("search"), words))
            .order_by("-rank", "-created_at", "-id")[:SEARCH_LIMIT]
        )
        return Response(FoundMessageSerializer(found, many=True).data)


@extend_schema(tags=["chat"])
class ExportView(APIView):
    """Export all your sessions (JSON, or Markdown with ``?to=markdown``)."""

    permission_classes = [permissions.IsAuthenticated]
    allowed_query_params = frozenset({"to"})

    @extend_schema(parameters=[ExportQuerySerializer], responses=EXPORT_RESPONSES)
    def get(self, request):
        return exported(request, ChatSession.objects.filter(owner=request.user).order_by("created_at", "id"), "chats")
