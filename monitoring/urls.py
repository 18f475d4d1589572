from django.urls import path

from monitoring import views
from veritas.api.routers import app_router

app_name = "monitoring"

router = app_router()
router.register("logs", views.LogViewSet, basename="log")
router.register("health/history", views.HealthHistoryViewSet, basename="health-history")
router.register("results", views.ResultViewSet, basename="result")

urlpatterns = [
    path("statistics/", views.StatisticsView.as_view(), name="statistics"),
    path("health/", views.HealthView.as_view(), name="health"),
    path("health/evaluate/", views.EvaluateHealthView.as_view(), name="health-evaluate"),
    # <path:…>: a source name may hold a slash.
    path("health/<path:component>/retire/", views.RetireComponentView.as_view(), name="health-retire"),
    *router.urls,
]
