from dashboard import views
from veritas.api.routers import app_router

app_name = "dashboard"

router = app_router()
router.register("students", views.StudentViewSet, basename="student")
router.register("cohorts", views.CohortViewSet, basename="cohort")
router.register("concept-modules", views.ConceptModuleViewSet, basename="concept-module")
router.register("assessments", views.AssessmentViewSet, basename="assessment")
router.register("drafts", views.DraftViewSet, basename="draft")
router.register("actions", views.ActionViewSet, basename="action")

urlpatterns = router.urls
