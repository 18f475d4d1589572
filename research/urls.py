from django.urls import re_path

from research import views
from veritas.api.parsers import RawJSONParser
from veritas.api.routers import app_router

app_name = "research"

router = app_router()
router.register("qac/models", views.QACViewSet, basename="qac-model")
router.register("jobs", views.JobViewSet, basename="job")
router.register("vector-stores", views.VectorStoreViewSet, basename="vector-store")
router.register("usage", views.UsageViewSet, basename="usage")

# POST qac/fit and qac/apply (the legacy's quantum/qac/fit and …/apply), with or without the
# trailing slash: the bodies are parsed once, by the view, with orjson.
matrix_posts = {"parser_classes": [RawJSONParser], "filter_backends": []}

urlpatterns = [
    re_path(r"^health/?$", views.HealthView.as_view(), name="health"),
    re_path(r"^qac/fit/?$", views.QACViewSet.as_view({"post": "fit"}, **matrix_posts), name="qac-fit"),
    re_path(r"^qac/apply/?$", views.QACViewSet.as_view({"post": "apply"}, **matrix_posts), name="qac-apply"),
    *router.urls,
]
