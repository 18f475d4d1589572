"""The chat admin: documents and the shared knowledge base (upload to the shared base, status,
re-ingest, a preview of the chunks), and conversations, read-only.

Privacy: conversations, and users' own documents, are seen only by superusers and holders of
``chat.read_conversations``; other staff with the document permissions curate the shared
knowledge base alone. Writes go through chat.services, which audits them.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join

from chat import documents, services
from chat.models import ChatMessage, ChatSession, Document
from veritas import formats
from veritas.admin import ReadOnlyAdmin

PREVIEW_CHUNKS = 20
PREVIEW_CHARACTERS = 300
READ_CONVERSATIONS = "chat.read_conversations"


def reads_conversations(user) -> bool:
    return user.is_active and (user.is_superuser or user.has_perm(READ_CONVERSATIONS))


class SharedFilter(admin.SimpleListFilter):
    title = "library"
    parameter_name = "library"

    def lookups(self, request, model_admin):
        return [("shared", "Shared knowledge base"), ("users", "Users' documents")]

    def queryset(self, request, queryset):
        if self.value() == "shared":
            return queryset.filter(owner__isnull=True)
        if self.value() == "users":
            return queryset.filter(owner__isnull=False)
        return queryset


class UploadForm(forms.ModelForm):
    """Adding a document here puts it in the shared knowledge base."""

    upload = forms.FileField(help_text="Text, Markdown, HTML or PDF; it joins the shared knowledge base.")

    class Meta:
        model = Document
        fields = ["title"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["title"].required = False
        self.fields["title"].help_text = "Default: the file's name."

    def clean_upload(self):
        """The API's checks: size, type, some text to extract."""
        upload = self.cleaned_data["upload"]
        limit = settings.CHAT_MAX_UPLOAD_BYTES
        if upload.size > limit:
            raise forms.ValidationError(f"A document may be at most {limit} bytes; this one has {upload.size}.")
        data = upload.read()
        upload.seek(0)
        kind = documents.kind_of(upload.content_type or "", upload.name, data)
        if kind is None:
            raise forms.ValidationError("Upload text, Markdown, HTML or PDF.")
        try:
            documents.extract(data, kind)
        except documents.ExtractionError as error:
            raise forms.ValidationError(str(error)) from None
        return upload


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "library", "status_badge", "chunk_count", "size_text", "embedding_model", "created_at"]
    list_filter = [SharedFilter, "status", "content_type"]
    search_fields = ["title", "filename", "sha256"]
    actions = ["ingest_again"]
    list_select_related = ["owner"]
    fields = [
        "title",
        "library",
        "filename",
        "content_type",
        "size_text",
        "sha256",
        "status_badge",
        "failure",
        "chunk_count",
        "embedding_model",
        "created_at",
        "updated_at",
        "chunk_preview",
    ]
    readonly_fields = [name for name in fields if name != "title"]

    class Media:
        css = {"all": ["chat/admin.css"]}

    def get_queryset(self, request):
        queryset = super().get_queryset(request).defer("content", "text")
        if not reads_conversations(request.user):
            queryset = queryset.filter(owner__isnull=True)
        return queryset

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = UploadForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["title", "upload"] if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None):
        # Only the shared base is curated here; users' documents are theirs to change.
        return super().has_change_permission(request, obj) and (obj is None or obj.owner_id is None)

    def save_model(self, request, obj, form, change):
        if change:
            services.rename_document(actor=request.user, document=obj, title=obj.title)
            return
        upload = form.cleaned_data["upload"]
        document, created = services.add_document(
            actor=request.user,
            owner=None,
            filename=upload.name,
            content_type=upload.content_type or "",
            data=upload.read(),
            title=form.cleaned_data.get("title", ""),
            extract=True,
        )
        if created:
            services.queue_ingestion([document])
        else:
            self.message_user(request, "This file was already in the shared knowledge base.", messages.WARNING)
        obj.pk, obj.title = document.pk, document.title

    def delete_model(self, request, obj):
        services.delete_document(actor=request.user, document=obj)

    def delete_queryset(self, request, queryset):
        for document in queryset:
            services.delete_document(actor=request.user, document=document)

    @admin.action(description="Ingest the selected documents again", permissions=["change"])
    def ingest_again(self, request, queryset):
        queued = services.ingest_again(actor=request.user, documents=list(queryset))
        self.message_user(request, f"{queued} document{'' if queued == 1 else 's'} queued for ingestion.")

    @admin.display(description="Library", ordering="owner__username")
    def library(self, obj):
        return "Shared knowledge base" if obj.owner_id is None else obj.owner.get_username()

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj):
        return format_html('<span class="chat-status chat-status-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description="Size", ordering="size")
    def size_text(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description="Chunks (preview)")
    def chunk_preview(self, obj):
        chunks = list(
            obj.chunks.order_by("ordinal").values_list("ordinal", "char_start", "char_end", "text")[:PREVIEW_CHUNKS]
        )
        if not chunks:
            return formats.MISSING
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}&ndash;{}</td><td>{}</td></tr>",
            (
                (ordinal, start, end, text if len(text) <= PREVIEW_CHARACTERS else text[:PREVIEW_CHARACTERS] + "…")
                for ordinal, start, end, text in chunks
            ),
        )
        more = obj.chunk_count - len(chunks)
        note = format_html("<p>… and {} more.</p>", more) if more > 0 else ""
        return format_html(
            '<table class="chat-chunks"><thead><tr><th>#</th><th>characters</th><th>text</th></tr></thead>'
            "<tbody>{}</tbody></table>{}",
            rows,
            note,
        )


class ConversationAccess:
    """Conversations are private: superusers and holders of chat.read_conversations read them,
    nobody changes them here."""

    def has_module_permission(self, request):
        return reads_conversations(request.user)

    def has_view_permission(self, request, obj=None):
        return reads_conversations(request.user)


class MessageInline(ConversationAccess, admin.TabularInline):
    model = ChatMessage
    fields = ["created_at", "role", "content", "generator", "citation_count", "latency_ms"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["created_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Citations")
    def citation_count(self, obj):
        return len(obj.citations)


@admin.register(ChatSession)
class ChatSessionAdmin(ConversationAccess, ReadOnlyAdmin):
    list_display = ["title", "owner", "pinned", "archived", "created_at", "last_message_at"]
    list_filter = ["pinned", "archived"]
    search_fields = ["title", "owner__username"]
    list_select_related = ["owner"]
    fields = ["uuid", "title", "owner", "pinned", "archived", "created_at", "updated_at", "last_message_at"]
    readonly_fields = fields
    inlines = [MessageInline]
