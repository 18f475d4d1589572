from django.urls import path

from chat import views
from veritas.api.routers import app_router

app_name = "chat"

router = app_router()
router.register("sessions", views.SessionViewSet, basename="session")
router.register("documents", views.DocumentViewSet, basename="document")
router.register("shared-documents", views.SharedDocumentViewSet, basename="shared-document")

urlpatterns = [
    path("", views.ChatView.as_view(), name="chat"),
    path("search/", views.RetrievalSearchView.as_view(), name="search"),
    path("health/", views.HealthView.as_view(), name="health"),
    path("delete-my-data/", views.DeleteMyDataView.as_view(), name="delete-my-data"),
    path("messages/search/", views.MessageSearchView.as_view(), name="message-search"),
    path("export/", views.ExportView.as_view(), name="export"),
    *router.urls,
]
