from django.urls import path

from dropout import views
from veritas.api.routers import app_router

app_name = "dropout"

router = app_router()
router.register("enrollments", views.EnrollmentViewSet, basename="enrollment")
router.register("predictions", views.PredictionViewSet, basename="prediction")
router.register("models", views.ModelViewSet, basename="model")
router.register("events", views.EventViewSet, basename="event")

urlpatterns = [
    path("students/<uuid:uuid>/risk/", views.StudentRiskView.as_view(), name="student-risk"),
    *router.urls,
]
