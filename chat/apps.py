from django.apps import AppConfig


class ChatConfig(AppConfig):
    """RAG chatbot persistence and retrieval, isolated per user."""

    name = "chat"
    verbose_name = "Chat"
